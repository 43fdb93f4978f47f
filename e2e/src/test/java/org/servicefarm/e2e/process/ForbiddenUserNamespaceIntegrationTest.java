package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.ControllerAccount;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * A controller without root in a place that forbids it user namespaces says at start that it
 * cannot compose images and names what forbids it, and images still come in by upload and by
 * path. The kernel's sysctls are this machine's and shared, so the namespace is forbidden the
 * way a hardened service manager does it: no new privileges, so the setuid newuidmap cannot map
 * the account's subordinate ids (the kernel's own refusal is BuildAccountTest's).
 */
class ForbiddenUserNamespaceIntegrationTest {
  @Test
  void aControllerThatCannotMakeUserNamespacesSaysWhyAtStartAndStillTakesImages()
      throws Exception {
    ControllerAccount.requireWithSubordinateIds();
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      // Registering by path reads only the import directory: here the farm's own directory.
      farm.startControllerAs(ControllerAccount.NAME, List.of("--no-new-privs"),
          List.of("--image-import-dir", farm.dir().toString()));

      String log = Files.readString(farm.dir().resolve("logs/controller.log"));
      assertTrue(log.contains("WARNING: the controller runs as servicefarm, not root, and cannot"
          + " compose images from packages"), log);
      for (String named : List.of("uid_map", "kernel.unprivileged_userns_clone",
          "user.max_user_namespaces", "NoNewPrivileges=", "register or upload images instead")) {
        assertTrue(log.contains(named), "the warning names " + named + ":\n" + log);
      }

      FarmClient client = farm.client();
      // Raw: random bytes are no qcow2, and the store inspects what it is told it takes.
      Path upload = randomFile(farm.dir(), "upload.raw", 1024 * 1024 + 3);
      Image uploaded = client.uploadImage("uploaded", "raw", upload, Duration.ofMinutes(1));
      assertEquals("READY", uploaded.getBuildState());
      assertEquals(sha256(upload), uploaded.getSha256());

      Path onDisk = randomFile(farm.dir(), "registered.raw", 100_000);
      Image registered = client.registerImage(RegisterImageRequest.newBuilder()
          .setName("registered").setFormat("raw").setSourcePath(onDisk.toString())
          .setSha256(sha256(onDisk)).build());
      assertEquals("READY", registered.getBuildState());
    }
  }

  private static Path randomFile(Path dir, String name, int bytes) throws Exception {
    byte[] data = new byte[bytes];
    new Random(bytes).nextBytes(data);
    return Files.write(dir.resolve(name), data); // 0644 in a 0755 directory: servicefarm reads it
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of().formatHex(
        MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }
}

package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.InvalidRequestException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.images.ImageSettings;
import org.servicefarm.diskimage.Qcow2Bytes;
import org.servicefarm.e2e.support.InProcessFarm;

/** Pre-constructed images: uploaded or registered by path, stored by digest, used by services. */
class ImageIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient client;
  private static Path importDir;
  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    importDir = Files.createTempDirectory("servicefarm-import").toRealPath();
    farm = new InProcessFarm(InProcessFarm.fastConfig()
        .withImages(ImageSettings.defaults().withImportDirectory(importDir)));
    farm.addHost("img-host", 4, 4096);
    farm.awaitConnected(List.of("img-host"));
    client = farm.client();
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static Path randomFile(Path dir, String name, int bytes) throws Exception {
    byte[] data = new byte[bytes];
    new Random(bytes).nextBytes(data);
    return Files.write(dir.resolve(name), data);
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  @Test
  void anUploadedImageIsStoredByItsDigestAndServicesBuildOnIt() throws Exception {
    Path file = randomFile(dir, "base.raw", 3 * 1024 * 1024 + 17);
    Image image = client.uploadImage("uploaded-base", "raw", file, Duration.ofMinutes(1));
    assertEquals(sha256(file), image.getSha256());
    assertEquals(Files.size(file), image.getSizeBytes());
    assertEquals("READY", image.getBuildState());

    client.defineService(ServiceDefinition.newBuilder().setName("on-upload").setImage("uploaded-base")
        .setPort(5432).setMemoryMb(256).build());
    ServiceAccess access = client.requestService("on-upload");
    assertEquals(image.getId(), client.getVm(access.vmId()).getImageId());
  }

  @Test
  void anImageRegisteredByPathMustMatchTheDigestGiven() throws Exception {
    Path file = randomFile(importDir, "disk.raw", 100_000);
    Image image = client.registerImage(RegisterImageRequest.newBuilder().setName("by-path")
        .setFormat("raw").setSourcePath(file.toString()).setSha256(sha256(file)).build());
    assertEquals(sha256(file), image.getSha256());

    String wrong = "0".repeat(64);
    InvalidRequestException e = assertThrows(InvalidRequestException.class, () ->
        client.registerImage(RegisterImageRequest.newBuilder().setName("by-path-wrong")
            .setFormat("raw").setSourcePath(file.toString()).setSha256(wrong).build()));
    assertTrue(e.getMessage().contains(wrong) && e.getMessage().contains(sha256(file)), e.getMessage());
  }

  @Test
  void aQcow2NamingAHostFileIsRefusedUploadedOrRegisteredAndNamesTheFile() throws Exception {
    byte[] hostile = Qcow2Bytes.withBackingFile(1 << 20, "/etc/servicefarm/agent.token");
    Path uploaded = Files.write(dir.resolve("hostile.qcow2"), hostile);
    InvalidRequestException upload = assertThrows(InvalidRequestException.class,
        () -> client.uploadImage("hostile-up", "qcow2", uploaded, Duration.ofMinutes(1)));
    assertTrue(upload.getMessage().contains("backing file '/etc/servicefarm/agent.token'"),
        upload.getMessage());
    Path registered = Files.write(importDir.resolve("hostile.qcow2"), hostile);
    InvalidRequestException register = assertThrows(InvalidRequestException.class,
        () -> client.registerImage(RegisterImageRequest.newBuilder().setName("hostile-reg")
            .setSourcePath(registered.toString()).build()));
    assertTrue(register.getMessage().contains("backing file '/etc/servicefarm/agent.token'"),
        register.getMessage());
    assertTrue(client.listImages().stream().noneMatch(i -> i.getName().startsWith("hostile")));
  }
}

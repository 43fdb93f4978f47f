package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.servicefarm.controller.images.OciTestArchives.Entry.dir;
import static org.servicefarm.controller.images.OciTestArchives.Entry.file;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.model.FarmException;

class OciArchiveTest {
  @TempDir
  Path dir;

  private static final List<String> ENTRYPOINT = List.of("/bin/busybox", "httpd");
  private static final List<String> CMD = List.of("-f", "-p", "8080", "-h", "/srv/my www");

  private byte[] webLayer() throws IOException {
    return OciTestArchives.layer(List.of(dir("srv"), dir("srv/my www"),
        file("srv/my www/index.html", "hello")));
  }

  private String config(byte[] layer) {
    return OciTestArchives.config(ENTRYPOINT, CMD, List.of("8080/tcp", "53/udp", "80"),
        List.of(layer));
  }

  @Test
  void layoutGivesLayersEntrypointCmdAndTcpPorts() throws IOException {
    byte[] layer = webLayer();
    Path archive = OciTestArchives.layout(dir.resolve("web.tar"), config(layer), List.of(layer));
    try (OciArchive oci = OciArchive.open(archive)) {
      OciImage image = oci.read();
      assertEquals("oci layout", image.layout());
      assertEquals(1, image.layers().size());
      assertEquals(List.of("/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/my www"),
          image.argv());
      assertEquals(List.of(80, 8080), image.tcpPorts(), "udp ports are not the farm's");
      assertEquals("/bin/busybox httpd -f -p 8080 -h '/srv/my www'", image.shellCommand());
    }
  }

  @Test
  void dockerSaveArchiveIsReadLikeALayout() throws IOException {
    byte[] layer = webLayer();
    Path archive = OciTestArchives.dockerSave(dir.resolve("web.tar"), config(layer),
        List.of(layer));
    try (OciArchive oci = OciArchive.open(archive)) {
      OciImage image = oci.read();
      assertEquals("docker save", image.layout());
      assertEquals(List.of(80, 8080), image.tcpPorts());
      assertEquals("/bin/busybox", image.argv().get(0));
    }
  }

  @Test
  void layoutWhoseLayerDoesNotMatchItsDigestIsRefused() throws IOException {
    byte[] layer = webLayer();
    Path archive = OciTestArchives.layout(dir.resolve("web.tar"), config(layer), List.of(layer),
        true);
    try (OciArchive oci = OciArchive.open(archive)) {
      FarmException.InvalidInput refused = assertThrows(FarmException.InvalidInput.class,
          oci::read);
      assertTrue(refused.getMessage().contains("hashes to sha256:"), refused.getMessage());
    }
  }

  @Test
  void dockerSaveWhoseLayerIsNotTheConfigsDiffIdIsRefused() throws IOException {
    byte[] layer = webLayer();
    byte[] other = OciTestArchives.layer(List.of(file("other", "x")));
    Path archive = OciTestArchives.dockerSave(dir.resolve("web.tar"), config(other),
        List.of(layer));
    try (OciArchive oci = OciArchive.open(archive)) {
      FarmException.InvalidInput refused = assertThrows(FarmException.InvalidInput.class,
          oci::read);
      assertTrue(refused.getMessage().contains("/layer.tar hashes to sha256:"
          + OciTestArchives.sha256(layer)), refused.getMessage());
    }
  }

  @Test
  void configWithoutItsLayersListIsRefusedNamingTheMissingField() throws IOException {
    Path archive = OciTestArchives.dockerSave(dir.resolve("web.tar"), "{\"config\":{}}",
        List.of(webLayer()));
    try (OciArchive oci = OciArchive.open(archive)) {
      FarmException.InvalidInput refused = assertThrows(FarmException.InvalidInput.class,
          oci::read);
      assertTrue(refused.getMessage().contains(".json has no field 'rootfs'"),
          refused.getMessage());
    }
  }

  @Test
  void tarThatIsNoImageIsRefusedSayingWhatIsMissing() throws IOException {
    Path archive = dir.resolve("plain.tar");
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(archive))) {
      TarArchiveEntry e = new TarArchiveEntry("readme");
      byte[] bytes = "hi".getBytes(StandardCharsets.UTF_8);
      e.setSize(bytes.length);
      tar.putArchiveEntry(e);
      tar.write(bytes);
      tar.closeArchiveEntry();
    }
    try (OciArchive oci = OciArchive.open(archive)) {
      FarmException.InvalidInput refused = assertThrows(FarmException.InvalidInput.class,
          oci::read);
      assertTrue(refused.getMessage().contains("neither an OCI image layout"),
          refused.getMessage());
    }
  }

  @Test
  void emptyCommandWhenTheConfigNamesNothingToRun() {
    assertEquals("", new OciImage("oci layout", List.of(), List.of(), List.of(), "", List.of())
        .shellCommand());
    assertEquals("cd /app && env 'GREETING=hi there' ./serve",
        new OciImage("oci layout", List.of(), List.of("./serve"), List.of("GREETING=hi there"),
            "/app", List.of()).shellCommand());
  }
}

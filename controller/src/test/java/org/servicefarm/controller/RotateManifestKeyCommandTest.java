package org.servicefarm.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.images.manifests.ManifestKeyring;

/** {@code servicefarm-controller rotate-manifest-key}. */
class RotateManifestKeyCommandTest {
  @TempDir
  Path dataDir;

  @Test
  void rotatingMakesANewCurrentKeyAndKeepsTheEarlierOnes() throws Exception {
    String first = ManifestKeyring.open(dataDir).current().keyId();

    assertEquals(0, ControllerMain.commandLine()
        .execute("--data-dir", dataDir.toString(), "rotate-manifest-key"));

    ManifestKeyring keyring = ManifestKeyring.open(dataDir);
    assertNotEquals(first, keyring.current().keyId());
    assertEquals(2, keyring.all().size());
  }
}

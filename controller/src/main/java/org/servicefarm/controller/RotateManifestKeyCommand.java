package org.servicefarm.controller;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.servicefarm.controller.images.manifests.ManifestKeyring;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code servicefarm-controller rotate-manifest-key}: a new manifest-signing key for the
 * controller whose data directory the options name. The previous keys stay, so what they signed
 * stays valid; the controller takes the new key at its next start.
 */
@Command(name = "rotate-manifest-key", mixinStandardHelpOptions = true,
    description = {"Makes a new Ed25519 key the one this controller signs image and archive"
        + " manifests with (in <data-dir>/manifest-keys/). The previous keys are kept and stay"
        + " trusted: manifests they signed remain valid until re-signed.",
        "Restart the controller afterwards: it publishes the new key (agents learn it when they"
        + " register), signs new manifests with it, and, once it leads, re-signs every manifest"
        + " an earlier key signed, from that manifest's own verified bytes."},
    footer = {"", "Example:",
        "  servicefarm-controller --data-dir /var/lib/servicefarm/controller rotate-manifest-key",
        "  systemctl restart servicefarm-controller"})
final class RotateManifestKeyCommand implements Callable<Integer> {
  @ParentCommand
  ControllerMain controller;

  @Override
  public Integer call() throws Exception {
    Path dataDir = FarmDatabaseAccess.dataDir(controller);
    ManifestKeyring keyring = ManifestKeyring.open(dataDir);
    String previous = keyring.current().keyId();
    String rotated = keyring.rotate();
    System.out.println("manifest-signing key rotated in " + dataDir.resolve(
        ManifestKeyring.DIRECTORY) + ": " + previous + " -> " + rotated + " (" + keyring.all()
        .size() + " key(s) kept); restart the controller to sign with the new key");
    return 0;
  }
}

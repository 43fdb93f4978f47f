package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.servicefarm.api.v1.ImageRef;

/**
 * Names each VM's disk ({@code <state-dir>/disks/<vmId>.qcow2}) without creating it. Enough for
 * libvirt's test driver, which never opens disks; real hypervisors need the image-cache variant
 * that creates overlays. Disks that do exist there (say, brought back from the archive) are still
 * removed on delete.
 */
public final class PathOnlyDiskStore implements DiskStore {

  private final Path disksDir;

  public PathOnlyDiskStore(Path stateDir) {
    this.disksDir = stateDir.resolve("disks");
  }

  @Override
  public Path diskPath(String vmId) {
    return disksDir.resolve(vmId + ".qcow2");
  }

  @Override
  public void prepare(String vmId, ImageRef image) {
    // Nothing to create: see the class comment.
  }

  @Override
  public void remove(String vmId) throws IOException {
    Files.deleteIfExists(diskPath(vmId));
  }
}

package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.file.Path;
import org.servicefarm.api.v1.ImageRef;

/**
 * Where VM disks live on this host and how they come to exist. The seam for the image cache:
 * a later variant creates qcow2 overlays on cached base images.
 */
public interface DiskStore {

  /** The VM's disk file, whether or not it exists yet. */
  Path diskPath(String vmId);

  /** Makes the VM's disk ready to be used by a new domain built from the image. */
  void prepare(String vmId, ImageRef image) throws IOException;

  /** Removes the VM's disk; a disk that does not exist is fine. */
  void remove(String vmId) throws IOException;
}

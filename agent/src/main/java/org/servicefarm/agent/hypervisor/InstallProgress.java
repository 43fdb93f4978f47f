package org.servicefarm.agent.hypervisor;

import org.servicefarm.agent.images.TransferProgress;

/**
 * Hears how an install or restore goes: bytes of its images fetched, then the moment the images
 * are in place and the domain is being defined. The controller turns these into the phases a
 * client following its request sees.
 */
public interface InstallProgress extends TransferProgress {

  /** Hears nothing: for installs nobody follows (tests, repeated commands). */
  InstallProgress NONE = new InstallProgress() {
    @Override
    public void transferred(long doneBytes, long totalBytes) {}

    @Override
    public void installing() {}
  };

  /** The VM had no disk on the host, and a new one was made from the image. */
  default void newDisk() {}

  /** The images are in place; the domain is being defined now. */
  void installing();
}

package org.servicefarm.agent.hypervisor.libvirt;

/** A domain or archive carries farm metadata that cannot be read back. */
public final class MalformedMetadataException extends Exception {

  public MalformedMetadataException(String message) {
    super(message);
  }

  public MalformedMetadataException(String message, Throwable cause) {
    super(message, cause);
  }
}

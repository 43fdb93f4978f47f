package org.servicefarm.agent.images;

/**
 * A blob could not be fetched from or stored in the controller's image store, or its bytes did
 * not match its digest. The message names the blob and what went wrong, for people.
 */
public final class ImageException extends Exception {

  public ImageException(String message) {
    super(message);
  }

  public ImageException(String message, Throwable cause) {
    super(message, cause);
  }
}

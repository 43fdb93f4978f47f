package org.servicefarm.client;

/**
 * RequestService named a service that no VM offers and no definition in the catalog describes,
 * so the farm can neither hand one out nor build one.
 */
public class ServiceNotFoundException extends NotFoundException {

  private final String serviceName;

  /** Used by the SDK's status mapping; {@code serviceName} is the name the request asked for. */
  public ServiceNotFoundException(
      String serviceName, String serverMessage, String message, Throwable cause) {
    super(serverMessage, message, cause);
    this.serviceName = serviceName;
  }

  /** The service name the request asked for. */
  public String serviceName() {
    return serviceName;
  }
}

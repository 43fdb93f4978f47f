package org.servicefarm.gateway;

/**
 * Why the gateway gave a connection up instead of splicing it to a VM: the label of the refusals
 * metric, what the log says, and the HTTP status a held HTTP request is answered with.
 */
public enum Refusal {
  /** No such service is defined (HTTP 404). */
  UNKNOWN_SERVICE(404),
  /** The farm has no host with room for the VM. */
  NO_CAPACITY(503),
  /**
   * The farm answered UNAVAILABLE: the VM cannot serve (its build or boot failed), or no
   * controller could be reached; the message says which.
   */
  UNAVAILABLE(503),
  /** The connection was held for the whole hold timeout without a VM becoming ACTIVE. */
  HOLD_TIMEOUT(503),
  /** The service already has as many held connections as one service may. */
  SERVICE_HELD_LIMIT(503),
  /** The gateway already holds as many connections as it may in all. */
  TOTAL_HELD_LIMIT(503),
  /** The VM the farm answered with refused the connection. */
  VM_UNREACHABLE(502),
  /** The farm refused the gateway's call for another reason (its message says which). */
  FARM_REFUSED(503),
  /** The HTTP request head did not arrive within the header timeout (slow client). */
  HEADER_TIMEOUT(408),
  /** The HTTP request head was longer than the gateway reads. */
  HEADER_TOO_LARGE(431),
  /** Not an HTTP/1 request with a Host header naming a service of the gateway's domain. */
  BAD_REQUEST(400);

  private final int httpStatus;

  Refusal(int httpStatus) {
    this.httpStatus = httpStatus;
  }

  public int httpStatus() {
    return httpStatus;
  }

  /** The metric label and log word: lower case with underscores. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** A refusal and the sentence that says why, naming the service. */
  public record Reason(Refusal refusal, String message) {}
}

package org.servicefarm.gateway;

import java.time.Duration;

/**
 * How a gateway holds, limits and releases connections.
 *
 * @param holdTimeout how long a connection is held for a VM before it is given up
 * @param releaseGrace how long a VM's lease is kept after its last connection closed
 * @param maxHeldPerService held connections one service may have; more are refused
 * @param maxHeldTotal held connections (and HTTP requests still sending their head) in all
 * @param maxHeaderBytes the longest HTTP request head read to find the Host
 * @param headerTimeout how long an HTTP client may take to send its request head
 * @param domain HTTP requests for {@code <service>.<domain>} go to the service
 */
public record GatewaySettings(Duration holdTimeout, Duration releaseGrace, int maxHeldPerService,
    int maxHeldTotal, int maxHeaderBytes, Duration headerTimeout, String domain) {

  public static final Duration DEFAULT_HOLD_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_RELEASE_GRACE = Duration.ofSeconds(30);
  public static final int DEFAULT_MAX_HELD_PER_SERVICE = 512;
  public static final int DEFAULT_MAX_HELD_TOTAL = 4096;
  public static final int DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
  public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
  /** curl (and browsers) resolve every name under localhost to loopback. */
  public static final String DEFAULT_DOMAIN = "localhost";

  public GatewaySettings {
    if (holdTimeout.isNegative() || holdTimeout.isZero()) {
      throw new IllegalArgumentException("hold timeout " + holdTimeout + " must be positive");
    }
    if (maxHeldPerService < 1 || maxHeldTotal < 1) {
      throw new IllegalArgumentException("held-connection limits " + maxHeldPerService + " and "
          + maxHeldTotal + " must be at least 1");
    }
    if (maxHeaderBytes < 256) {
      throw new IllegalArgumentException("max header bytes " + maxHeaderBytes
          + " must be at least 256");
    }
  }

  public static GatewaySettings defaults() {
    return new GatewaySettings(DEFAULT_HOLD_TIMEOUT, DEFAULT_RELEASE_GRACE,
        DEFAULT_MAX_HELD_PER_SERVICE, DEFAULT_MAX_HELD_TOTAL, DEFAULT_MAX_HEADER_BYTES,
        DEFAULT_HEADER_TIMEOUT, DEFAULT_DOMAIN);
  }
}

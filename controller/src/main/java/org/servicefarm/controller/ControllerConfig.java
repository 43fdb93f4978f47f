package org.servicefarm.controller;

import java.time.Duration;

/**
 * Settings of one controller.
 *
 * @param reportIntervalSeconds how often agents send load reports
 * @param livenessTimeout a host silent this long is DOWN
 * @param requestWait how long RequestService waits for a VM when the client set no deadline
 * @param actionWait how long admin actions wait for the VM to settle
 */
public record ControllerConfig(
    int reportIntervalSeconds,
    Duration livenessTimeout,
    Duration loadPersistInterval,
    Duration requestWait,
    Duration actionWait,
    Duration commandTimeout,
    Duration longCommandTimeout,
    long reconcileSweepMillis,
    double cpuOvercommit,
    int reconcileThreads) {

  public static ControllerConfig defaults() {
    return new ControllerConfig(2, Duration.ofSeconds(10), Duration.ofSeconds(10),
        Duration.ofSeconds(120), Duration.ofSeconds(60), Duration.ofSeconds(60),
        Duration.ofMinutes(10), 2000, 4.0, 16);
  }

  public ControllerConfig withLivenessTimeout(Duration timeout) {
    return new ControllerConfig(reportIntervalSeconds, timeout, loadPersistInterval, requestWait,
        actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis, cpuOvercommit,
        reconcileThreads);
  }
}

package org.servicefarm.controller;

import org.servicefarm.controller.lifecycle.HistoryRetention;
import java.time.Duration;
import org.servicefarm.controller.images.ImageSettings;
import org.servicefarm.controller.reconcile.OrphanPolicy;

/**
 * Settings of one controller.
 *
 * @param reportIntervalSeconds how often agents send load reports
 * @param livenessTimeout a host silent this long is DOWN
 * @param requestWait how long RequestService waits for a VM when the client set no deadline
 * @param actionWait how long admin actions wait for the VM to settle
 * @param idleLadderTick how often the idle ladder looks for idle VMs and fills warm pools
 * @param orphans what becomes of farm domains the VM table does not place on their host
 * @param auditRetention how long audit records are kept
 * @param images where registered images may be read from, and the image store's quota
 * @param history how long DELETED VMs' rows and old events are kept
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
    int reconcileThreads,
    Duration idleLadderTick,
    OrphanPolicy.Settings orphans,
    Duration auditRetention,
    ImageSettings images,
    HistoryRetention history) {

  /** The idle ladder ticks every second: the ladder's settings are whole seconds. */
  public static final Duration DEFAULT_IDLE_LADDER_TICK = Duration.ofSeconds(1);
  public static final Duration DEFAULT_AUDIT_RETENTION = Duration.ofDays(90);

  /** Settings that keep audit records {@link #DEFAULT_AUDIT_RETENTION}, with no image import directory. */
  public ControllerConfig(int reportIntervalSeconds, Duration livenessTimeout,
      Duration loadPersistInterval, Duration requestWait, Duration actionWait,
      Duration commandTimeout, Duration longCommandTimeout, long reconcileSweepMillis,
      double cpuOvercommit, int reconcileThreads, Duration idleLadderTick,
      OrphanPolicy.Settings orphans) {
    this(reportIntervalSeconds, livenessTimeout, loadPersistInterval, requestWait, actionWait,
        commandTimeout, longCommandTimeout, reconcileSweepMillis, cpuOvercommit, reconcileThreads,
        idleLadderTick, orphans, DEFAULT_AUDIT_RETENTION, ImageSettings.defaults(),
        HistoryRetention.defaults());
  }

  /** Settings that report orphans and leave them alone. */
  public ControllerConfig(int reportIntervalSeconds, Duration livenessTimeout,
      Duration loadPersistInterval, Duration requestWait, Duration actionWait,
      Duration commandTimeout, Duration longCommandTimeout, long reconcileSweepMillis,
      double cpuOvercommit, int reconcileThreads, Duration idleLadderTick) {
    this(reportIntervalSeconds, livenessTimeout, loadPersistInterval, requestWait, actionWait,
        commandTimeout, longCommandTimeout, reconcileSweepMillis, cpuOvercommit, reconcileThreads,
        idleLadderTick, OrphanPolicy.Settings.reportOnly());
  }

  /** Settings with the idle ladder at its default tick. */
  public ControllerConfig(int reportIntervalSeconds, Duration livenessTimeout,
      Duration loadPersistInterval, Duration requestWait, Duration actionWait,
      Duration commandTimeout, Duration longCommandTimeout, long reconcileSweepMillis,
      double cpuOvercommit, int reconcileThreads) {
    this(reportIntervalSeconds, livenessTimeout, loadPersistInterval, requestWait, actionWait,
        commandTimeout, longCommandTimeout, reconcileSweepMillis, cpuOvercommit, reconcileThreads,
        DEFAULT_IDLE_LADDER_TICK);
  }

  public static ControllerConfig defaults() {
    return new ControllerConfig(2, Duration.ofSeconds(10), Duration.ofSeconds(10),
        Duration.ofSeconds(120), Duration.ofSeconds(60), Duration.ofSeconds(60),
        Duration.ofMinutes(10), 2000, 4.0, 16, DEFAULT_IDLE_LADDER_TICK);
  }

  public ControllerConfig withIdleLadderTick(Duration tick) {
    return new ControllerConfig(reportIntervalSeconds, livenessTimeout, loadPersistInterval,
        requestWait, actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis,
        cpuOvercommit, reconcileThreads, tick, orphans, auditRetention, images, history);
  }

  public ControllerConfig withLivenessTimeout(Duration timeout) {
    return new ControllerConfig(reportIntervalSeconds, timeout, loadPersistInterval, requestWait,
        actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis, cpuOvercommit,
        reconcileThreads, idleLadderTick, orphans, auditRetention, images, history);
  }

  public ControllerConfig withOrphans(OrphanPolicy.Settings policy) {
    return new ControllerConfig(reportIntervalSeconds, livenessTimeout, loadPersistInterval,
        requestWait, actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis,
        cpuOvercommit, reconcileThreads, idleLadderTick, policy, auditRetention, images, history);
  }

  public ControllerConfig withAuditRetention(Duration retention) {
    return new ControllerConfig(reportIntervalSeconds, livenessTimeout, loadPersistInterval,
        requestWait, actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis,
        cpuOvercommit, reconcileThreads, idleLadderTick, orphans, retention, images, history);
  }

  public ControllerConfig withHistory(HistoryRetention retention) {
    return new ControllerConfig(reportIntervalSeconds, livenessTimeout, loadPersistInterval,
        requestWait, actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis,
        cpuOvercommit, reconcileThreads, idleLadderTick, orphans, auditRetention, images,
        retention);
  }

  public ControllerConfig withImages(ImageSettings settings) {
    return new ControllerConfig(reportIntervalSeconds, livenessTimeout, loadPersistInterval,
        requestWait, actionWait, commandTimeout, longCommandTimeout, reconcileSweepMillis,
        cpuOvercommit, reconcileThreads, idleLadderTick, orphans, auditRetention, settings, history);
  }
}

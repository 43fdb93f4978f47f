package org.servicefarm.controller.reconcile;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Named places between the steps of provisioning where a test can make the controller die as
 * abruptly as a SIGKILL, to show that what the controller committed before the point is enough to
 * finish the work after a restart. Points are armed by the environment variable
 * {@code SERVICEFARM_FAILPOINT} (a comma list), read once; with none armed, {@link #hit} is one
 * read of an empty set.
 *
 * <p>The points, in the order a new VM passes them (docs/architecture.md, "Crash safety"):
 * {@link #KNOWN}.
 */
public final class Failpoints {
  private static final Logger LOG = Logger.getLogger(Failpoints.class.getName());

  /** The environment variable that arms points. */
  public static final String ENV = "SERVICEFARM_FAILPOINT";

  /** Every point the code has; arming another name is refused at start. */
  public static final List<String> KNOWN = List.of(
      // the request's decision (VM row, held lease, operation) has committed; nobody answered
      "provision.decided",
      // the VM's image is ready; the install command is not sent yet
      "provision.image-ready",
      // the agent acknowledged the install; the VM is not recorded STARTING yet
      "provision.installed",
      // the agent acknowledged the start; the VM is not recorded ACTIVE yet
      "provision.booted",
      // the VM is recorded ACTIVE; the request's lease term has not started, nobody answered
      "provision.answering");

  /**
   * The boundaries of a group commit of warm requests, renewals and releases (db.GroupCommit),
   * which no new VM passes: every statement of a batch has run but it has not committed; it has
   * committed but no caller has been answered.
   */
  public static final List<String> LEASE_BATCH = List.of(
      "lease-batch.written", "lease-batch.committed");

  /** Exit status of a halt at a point: what a shell reports for a SIGKILLed process. */
  public static final int HALT_STATUS = 137;

  private static final Set<String> ARMED = parse(System.getenv(ENV));

  private Failpoints() {}

  /** Halts the JVM at once, without shutdown hooks, when the point is armed; else does nothing. */
  public static void hit(String point) {
    if (!ARMED.isEmpty() && ARMED.contains(point)) {
      System.err.println("servicefarm: failpoint " + point + " hit; halting with status "
          + HALT_STATUS);
      System.err.flush();
      Runtime.getRuntime().halt(HALT_STATUS);
    }
  }

  /**
   * Says loudly at start that points are armed (a production controller must never have any),
   * and refuses names the code does not have, which would otherwise never fire.
   *
   * @throws IllegalArgumentException when an armed name is unknown
   */
  public static void announce() {
    if (ARMED.isEmpty()) {
      return;
    }
    List<String> unknown = ARMED.stream()
        .filter(p -> !KNOWN.contains(p) && !LEASE_BATCH.contains(p)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException(ENV + " names unknown failpoints " + unknown
          + "; known: " + KNOWN + ", " + LEASE_BATCH);
    }
    LOG.warning("FAILPOINTS ARMED: " + ARMED.stream().sorted().toList() + " (" + ENV
        + "): this controller halts when it reaches one; for crash tests only");
  }

  static Set<String> parse(String value) {
    if (value == null || value.isBlank()) {
      return Set.of();
    }
    return Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty())
        .collect(Collectors.toUnmodifiableSet());
  }
}

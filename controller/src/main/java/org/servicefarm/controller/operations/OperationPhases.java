package org.servicefarm.controller.operations;

import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmState;

/**
 * How far along a request is, as one percentage across the whole request. Each phase owns a
 * stretch of the scale in the order a cold start passes them (placing, building the image,
 * transferring it, installing, booting); a transfer moves through its stretch by bytes. Waking
 * and restoring skip the early phases, so they start further along. Pure, so the scale can be read
 * and tested in one place.
 */
public final class OperationPhases {
  private OperationPhases() {}

  /** The phase a request starts in, from the state of the VM it was given. */
  public static OperationPhase initial(VmState vm) {
    return switch (vm) {
      case PROVISIONING, ARCHIVED -> OperationPhase.PLACING;
      case STARTING -> OperationPhase.BOOTING;
      case SLEEPING -> OperationPhase.WAKING;
      case RESTORING -> OperationPhase.RESTORING;
      // ACTIVE: answered as soon as the waiter reads its access; the others wait on something
      // else first (an archive finishing, a host returning).
      default -> OperationPhase.QUEUED;
    };
  }

  /** The percentage at the start of the phase. */
  public static int percent(OperationPhase phase) {
    return switch (phase) {
      case QUEUED -> 0;
      case PLACING -> 5;
      case BUILDING_IMAGE -> 10;
      case TRANSFERRING -> 20;
      case RESTORING -> 30;
      case WAKING -> 50;
      case INSTALLING -> 75;
      case BOOTING -> 85;
      case READY -> 100;
      case FAILED -> 0;
    };
  }

  /**
   * The percentage within a phase that moves by bytes (TRANSFERRING, RESTORING): from the phase's
   * start to the start of the phase after it. Unknown totals count as nothing done yet.
   */
  public static int percent(OperationPhase phase, long doneBytes, long totalBytes) {
    int start = percent(phase);
    int end = switch (phase) {
      case TRANSFERRING -> percent(OperationPhase.INSTALLING);
      case RESTORING -> percent(OperationPhase.INSTALLING);
      default -> start;
    };
    if (totalBytes <= 0 || doneBytes <= 0) {
      return start;
    }
    double fraction = Math.min(1.0, (double) doneBytes / totalBytes);
    return start + (int) Math.floor(fraction * (end - start));
  }

  /** "12.5 of 40.0 MiB" for messages about a transfer. */
  public static String bytes(long doneBytes, long totalBytes) {
    double mib = 1024.0 * 1024.0;
    return totalBytes > 0
        ? String.format(java.util.Locale.ROOT, "%.1f of %.1f MiB", doneBytes / mib, totalBytes / mib)
        : String.format(java.util.Locale.ROOT, "%.1f MiB", doneBytes / mib);
  }
}

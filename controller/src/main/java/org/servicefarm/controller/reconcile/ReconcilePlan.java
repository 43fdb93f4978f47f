package org.servicefarm.controller.reconcile;

import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The next step that brings a VM's observed state toward its desired one: a pure function, so the
 * whole state machine is readable in one place and tested without a database or an agent.
 */
public final class ReconcilePlan {
  private ReconcilePlan() {}

  /** What the reconciler does next. */
  public enum Step {
    /** Settled, final, or waiting on something outside (a host that is down). */
    NONE,
    /** Define the domain on its host: PROVISIONING → STARTING. */
    INSTALL,
    /** Boot it: STARTING → ACTIVE. */
    START,
    /** Managed save: ACTIVE → SLEEPING. */
    SUSPEND,
    /** Start from the saved image: SLEEPING → ACTIVE. */
    RESUME,
    /** Mark ARCHIVING, then move the disk to the archive: → ARCHIVED. */
    ARCHIVE,
    /** Pick a host for an archived VM: ARCHIVED → RESTORING. */
    PLACE_FOR_RESTORE,
    /** Bring the disk back on the new host: RESTORING → STARTING. */
    RESTORE,
    /** Mark DELETING, then remove domain and disks: → DELETED. */
    DELETE,
    /** An archived VM needs no host to be deleted: ARCHIVED → DELETED. */
    FORGET_ARCHIVED
  }

  public static Step next(VmRecord vm) {
    VmState state = vm.state();
    DesiredState desired = vm.desiredState();
    if (vm.settled() || state.isFinal() || state == VmState.UNKNOWN) {
      return Step.NONE;
    }
    if (desired == DesiredState.DELETED) {
      return state == VmState.ARCHIVED ? Step.FORGET_ARCHIVED : Step.DELETE;
    }
    // A deletion under way finishes whatever is wanted now: deleted is final.
    if (state == VmState.DELETING) {
      return Step.DELETE;
    }
    // An archive under way finishes first; the VM is then restored if wanted elsewhere.
    if (state == VmState.ARCHIVING) {
      return Step.ARCHIVE;
    }
    if (desired == DesiredState.ARCHIVED) {
      return switch (state) {
        case PROVISIONING -> Step.INSTALL;
        case RESTORING -> Step.RESTORE;
        default -> Step.ARCHIVE;
      };
    }
    // Desired ACTIVE or SLEEPING: both go through a running VM first.
    return switch (state) {
      case PROVISIONING -> Step.INSTALL;
      case STARTING -> Step.START;
      case ARCHIVED -> Step.PLACE_FOR_RESTORE;
      case RESTORING -> Step.RESTORE;
      case SLEEPING -> Step.RESUME;
      case ACTIVE -> Step.SUSPEND;
      default -> Step.NONE;
    };
  }
}

package org.servicefarm.controller.model;

/** What the controller wants a VM to be, as stored in {@code vms.desired_state}. */
public enum DesiredState {
  ACTIVE,
  SLEEPING,
  ARCHIVED,
  DELETED;

  /** The observed state that satisfies this desire. */
  public VmState settled() {
    return switch (this) {
      case ACTIVE -> VmState.ACTIVE;
      case SLEEPING -> VmState.SLEEPING;
      case ARCHIVED -> VmState.ARCHIVED;
      case DELETED -> VmState.DELETED;
    };
  }
}

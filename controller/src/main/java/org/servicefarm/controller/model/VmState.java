package org.servicefarm.controller.model;

import java.util.EnumSet;
import java.util.Set;

/** Observed state of a VM, as stored in {@code vms.state}. */
public enum VmState {
  PROVISIONING,
  STARTING,
  ACTIVE,
  SLEEPING,
  ARCHIVING,
  ARCHIVED,
  RESTORING,
  DELETING,
  DELETED,
  FAILED,
  UNKNOWN;

  /** States in which the VM holds resources on its host. */
  public static final Set<VmState> ON_HOST =
      EnumSet.of(PROVISIONING, STARTING, ACTIVE, SLEEPING, ARCHIVING, RESTORING, DELETING, UNKNOWN);

  /** States from which nothing more happens. */
  public boolean isFinal() {
    return this == DELETED || this == FAILED;
  }
}

package org.servicefarm.controller.model;

/** Where a request stands, as stored in {@code operations.phase}. */
public enum OperationPhase {
  QUEUED,
  PLACING,
  BUILDING_IMAGE,
  TRANSFERRING,
  INSTALLING,
  BOOTING,
  WAKING,
  RESTORING,
  READY,
  FAILED;

  public boolean isDone() {
    return this == READY || this == FAILED;
  }
}

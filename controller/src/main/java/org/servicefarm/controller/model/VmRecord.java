package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/** One row of {@code vms}. */
public record VmRecord(
    UUID id,
    String definition,
    UUID imageId,
    String hostId,
    VmState state,
    DesiredState desiredState,
    long generation,
    int vcpus,
    long memoryMb,
    String archiveRef,
    String failureReason,
    Instant createdAt,
    Instant updatedAt,
    String project) {

  /** A VM of the project {@code default}. */
  public VmRecord(UUID id, String definition, UUID imageId, String hostId, VmState state,
      DesiredState desiredState, long generation, int vcpus, long memoryMb, String archiveRef,
      String failureReason, Instant createdAt, Instant updatedAt) {
    this(id, definition, imageId, hostId, state, desiredState, generation, vcpus, memoryMb,
        archiveRef, failureReason, createdAt, updatedAt, ProjectScope.DEFAULT);
  }

  public boolean settled() {
    return state == desiredState.settled();
  }
}

package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A definition with the services it offers (the first carries the definition's name) and how its
 * VMs live and scale.
 */
public record ServiceDefinitionRecord(
    String name,
    UUID imageId,
    List<String> packages,
    String command,
    int vcpus,
    long memoryMb,
    List<ServicePort> services,
    Instant createdAt,
    InstancePolicy policy,
    String project,
    boolean shared) {

  /** A definition of the project {@code default}, not shared. */
  public ServiceDefinitionRecord(String name, UUID imageId, List<String> packages, String command,
      int vcpus, long memoryMb, List<ServicePort> services, Instant createdAt,
      InstancePolicy policy) {
    this(name, imageId, packages, command, vcpus, memoryMb, services, createdAt, policy,
        ProjectScope.DEFAULT, false);
  }

  /** A named service of a definition and the guest port it listens on. */
  public record ServicePort(String name, int guestPort) {}
}

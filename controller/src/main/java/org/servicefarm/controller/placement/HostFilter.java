package org.servicefarm.controller.placement;

import org.servicefarm.controller.model.HostRecord.HostStatus;

/**
 * The feasibility rules a host must pass to take a VM, in the order the scheduler applies them.
 * A host turned away is counted under the first rule it fails, so "no host fits" says why
 * ({@link Placement.NoHost#rejections}). The rules are one enum with one {@code switch}, not one
 * class each: the scheduler calls {@link #rejects} for every host it screens, and a single
 * monomorphic method keeps that loop as tight as the hand-written chain of ifs it replaced.
 */
public enum HostFilter {
  HOST_UP("host is down", false),
  NOT_DRAINING("host is draining", false),
  AGENT_CONNECTED("agent not connected", false),
  LABEL_CONSTRAINT("ruled out by the definition's label constraints", false),
  HARD_SPREAD("ruled out by the definition's hard spread", true),
  FREE_MEMORY("not enough free memory", true),
  FREE_VCPUS("not enough free vCPUs", true),
  FREE_DISK("not enough free disk for the image and a saved memory image", true);

  /** Every rule, in the order they are applied. */
  static final HostFilter[] PIPELINE = values();
  /** The rules without those of a definition's placement rules, for a request that has none. */
  private static final HostFilter[] WITHOUT_DEFINITION_RULES = java.util.Arrays.stream(PIPELINE)
      .filter(f -> f != LABEL_CONSTRAINT && f != HARD_SPREAD).toArray(HostFilter[]::new);

  /** The rules to apply to the request's hosts: a request without rules skips theirs. */
  static HostFilter[] pipelineFor(PlacementRequest request) {
    return request.rules().filters() ? PIPELINE : WITHOUT_DEFINITION_RULES;
  }

  private final String reason;
  private final boolean capacity;

  HostFilter(String reason, boolean capacity) {
    this.reason = reason;
    this.capacity = capacity;
  }

  /** Why a host this rule turns away cannot take the VM, for people. */
  public String reason() {
    return reason;
  }

  /**
   * Why a host this rule turns away cannot take this request's VM: the rule's own words, with
   * the definition's constraints or spread named for the rules that come from it.
   */
  public String reason(PlacementRequest request) {
    return switch (this) {
      case LABEL_CONSTRAINT ->
          "ruled out by " + LabelConstraints.describe(request.rules().constraints());
      case HARD_SPREAD -> "ruled out by " + request.rules().spread().describe();
      default -> reason;
    };
  }

  /**
   * Whether a host this rule turns away is full (a VM elsewhere may make room: NO_CAPACITY) rather
   * than unable to take VMs at all (down, draining, disconnected: UNAVAILABLE) or not allowed to
   * (label constraints: FAILED_PRECONDITION, see Placer#noHostFailure).
   */
  public boolean capacity() {
    return capacity;
  }

  /** Whether this rule turns the host away for the request. */
  boolean rejects(PlacementRequest request, HostSnapshot host, double cpuOvercommit) {
    return switch (this) {
      case HOST_UP -> host.status() == HostStatus.DOWN;
      case NOT_DRAINING -> host.status() == HostStatus.DRAINING;
      case AGENT_CONNECTED -> !host.connected();
      case LABEL_CONSTRAINT -> request.rules().constraintRejects(host);
      case HARD_SPREAD -> request.rules().hardSpreadRejects(host);
      case FREE_MEMORY -> host.allocatedMemoryMb() + request.memoryMb() > host.memoryLimitMb();
      case FREE_VCPUS ->
          host.allocatedVcpus() + request.vcpus() > host.vcpuLimit(cpuOvercommit);
      case FREE_DISK -> host.diskFreeMb() != HostSnapshot.DISK_UNKNOWN
          && request.diskMb() > host.diskFreeMb();
    };
  }

  /** The first rule that turns the host away, or null when it passes them all. */
  static HostFilter firstRejecting(PlacementRequest request, HostSnapshot host,
      double cpuOvercommit) {
    return firstRejecting(pipelineFor(request), request, host, cpuOvercommit);
  }

  /** As above, with the request's {@link #pipelineFor} chosen once for all its hosts. */
  static HostFilter firstRejecting(HostFilter[] pipeline, PlacementRequest request,
      HostSnapshot host, double cpuOvercommit) {
    for (HostFilter filter : pipeline) {
      if (filter.rejects(request, host, cpuOvercommit)) {
        return filter;
      }
    }
    return null;
  }
}

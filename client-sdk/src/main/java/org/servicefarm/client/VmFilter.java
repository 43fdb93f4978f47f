package org.servicefarm.client;

import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.VmState;

/**
 * Which VMs {@link FarmClient#listVms(VmFilter)} returns. Each criterion left unset
 * (VM_STATE_UNSPECIFIED, "") matches every VM; set ones must all match.
 */
public record VmFilter(VmState state, String hostId, String service, boolean excludeDeleted) {

  /** Reads a null criterion as unset, which matches every VM. */
  public VmFilter {
    state = state == null ? VmState.VM_STATE_UNSPECIFIED : state;
    hostId = hostId == null ? "" : hostId;
    service = service == null ? "" : service;
  }

  /** A filter that lists DELETED VMs too. */
  public VmFilter(VmState state, String hostId, String service) {
    this(state, hostId, service, false);
  }

  /** Matches every VM. */
  public static VmFilter any() {
    return new VmFilter(null, null, null);
  }

  /** This filter, leaving out DELETED VMs (the farm's history). */
  public VmFilter excludingDeleted() {
    return new VmFilter(state, hostId, service, true);
  }

  /** This filter, matching only VMs in that state. */
  public VmFilter withState(VmState newState) {
    return new VmFilter(newState, hostId, service, excludeDeleted);
  }

  /** This filter, matching only VMs placed on that host. */
  public VmFilter onHost(String newHostId) {
    return new VmFilter(state, newHostId, service, excludeDeleted);
  }

  /** This filter, matching only VMs that offer that service. */
  public VmFilter offering(String newService) {
    return new VmFilter(state, hostId, newService, excludeDeleted);
  }

  ListVmsRequest.Builder toRequest() {
    return ListVmsRequest.newBuilder().setState(state).setHostId(hostId).setService(service)
        .setExcludeDeleted(excludeDeleted);
  }
}

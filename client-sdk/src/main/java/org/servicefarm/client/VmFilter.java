package org.servicefarm.client;

import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.VmState;

/**
 * Which VMs {@link FarmClient#listVms(VmFilter)} returns. Each criterion left unset
 * (VM_STATE_UNSPECIFIED, "") matches every VM; set ones must all match.
 */
public record VmFilter(VmState state, String hostId, String service) {

  public VmFilter {
    state = state == null ? VmState.VM_STATE_UNSPECIFIED : state;
    hostId = hostId == null ? "" : hostId;
    service = service == null ? "" : service;
  }

  /** Matches every VM. */
  public static VmFilter any() {
    return new VmFilter(null, null, null);
  }

  public VmFilter withState(VmState newState) {
    return new VmFilter(newState, hostId, service);
  }

  public VmFilter onHost(String newHostId) {
    return new VmFilter(state, newHostId, service);
  }

  public VmFilter offering(String newService) {
    return new VmFilter(state, hostId, newService);
  }

  ListVmsRequest.Builder toRequest() {
    return ListVmsRequest.newBuilder().setState(state).setHostId(hostId).setService(service);
  }
}

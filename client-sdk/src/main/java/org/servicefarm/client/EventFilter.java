package org.servicefarm.client;

import org.servicefarm.api.v1.ListEventsRequest;
import org.servicefarm.api.v1.WatchEventsRequest;

/**
 * Which events {@link FarmClient#listEvents} and {@link FarmClient#watchEvents} return. Each
 * criterion left unset ("") matches every event; set ones must all match. A service matches the
 * events of the VMs of the definition that offers it.
 *
 * @param afterId only events with a larger id; 0 lists from the oldest, and watches from now
 * @param limit events in one ListEvents page, 1 to 1000; 0 for the farm's default (100)
 */
public record EventFilter(String vmId, String service, String hostId, long afterId, int limit) {

  /** Reads a null criterion as unset, which matches every event. */
  public EventFilter {
    vmId = vmId == null ? "" : vmId;
    service = service == null ? "" : service;
    hostId = hostId == null ? "" : hostId;
  }

  /** Matches every event. */
  public static EventFilter any() {
    return new EventFilter(null, null, null, 0, 0);
  }

  /** This filter, matching only the events of that VM. */
  public EventFilter forVm(String newVmId) {
    return new EventFilter(newVmId, service, hostId, afterId, limit);
  }

  /** This filter, matching only the events of the VMs that offer that service. */
  public EventFilter forService(String newService) {
    return new EventFilter(vmId, newService, hostId, afterId, limit);
  }

  /** This filter, matching only the events of that host and the VMs on it. */
  public EventFilter onHost(String newHostId) {
    return new EventFilter(vmId, service, newHostId, afterId, limit);
  }

  /** This filter, starting after the event with that id (the last one seen, to page on). */
  public EventFilter after(long newAfterId) {
    return new EventFilter(vmId, service, hostId, newAfterId, limit);
  }

  /** This filter, with at most that many events in one ListEvents page (1 to 1000). */
  public EventFilter limit(int newLimit) {
    return new EventFilter(vmId, service, hostId, afterId, newLimit);
  }

  ListEventsRequest toListRequest() {
    return ListEventsRequest.newBuilder().setVmId(vmId).setService(service).setHostId(hostId)
        .setAfterId(afterId).setLimit(limit).build();
  }

  WatchEventsRequest toWatchRequest() {
    return WatchEventsRequest.newBuilder().setVmId(vmId).setService(service).setHostId(hostId)
        .setAfterId(afterId).build();
  }
}

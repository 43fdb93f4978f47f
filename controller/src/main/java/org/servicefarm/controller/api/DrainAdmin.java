package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostActionRequest;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.hosts.HostDrainer;
import org.servicefarm.controller.model.HostRecord;

/**
 * The FarmAdmin calls about a host's duty: DrainHost and UncordonHost. {@link FarmAdminService}
 * hands them here, so the admin service stays one screenful per concern.
 */
public final class DrainAdmin {
  private final HostDrainer drainer;
  private final AgentRegistry agents;

  public DrainAdmin(HostDrainer drainer, AgentRegistry agents) {
    this.drainer = drainer;
    this.agents = agents;
  }

  void drainHost(HostActionRequest req, StreamObserver<Host> out) {
    out.onNext(host(drainer.drain(Validation.hostId(req.getHostId()))));
    out.onCompleted();
  }

  void uncordonHost(HostActionRequest req, StreamObserver<Host> out) {
    out.onNext(host(drainer.uncordon(Validation.hostId(req.getHostId()))));
    out.onCompleted();
  }

  private Host host(HostRecord h) {
    return ProtoMapping.host(h, agents.session(h.id()).map(AgentSession::load).orElse(null));
  }
}

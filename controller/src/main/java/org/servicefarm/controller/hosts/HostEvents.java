package org.servicefarm.controller.hosts;

import java.util.List;
import java.util.UUID;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/** What the controller does when hosts come, report and go. */
public interface HostEvents {
  /** Records the registration and reconciles the inventory; returns VMs to drive. */
  List<UUID> registered(Register register);

  /** Records a load report; returns VMs whose state changed. */
  List<UUID> reported(String hostId, LoadReport report);

  /**
   * Records that the host is alive with its domains unchanged, and its new load unless null;
   * cheap, on the stream's thread. Returns whether the last whole report must still be squared
   * with the VM table (the host's VMs changed since it last was, or it had been marked DOWN),
   * which {@link #reported} then does.
   */
  boolean alive(String hostId, HostLoad loadOrNull);

  void vmsChanged(List<UUID> vmIds);
}

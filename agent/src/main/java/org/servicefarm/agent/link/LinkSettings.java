package org.servicefarm.agent.link;

import java.util.List;
import java.util.Map;
import org.servicefarm.api.v1.HostCapacity;

/**
 * Who this agent is to the controller.
 *
 * @param controllers controller addresses, tried in turn on each reconnect
 * @param address where clients reach this host's forwarded ports
 * @param labels the host's labels (zone=a), reported at registration for placement rules
 */
public record LinkSettings(String hostId, String address, List<String> controllers,
    HostCapacity capacity, String agentVersion, Map<String, String> labels) {

  /** A host without labels. */
  public LinkSettings(String hostId, String address, List<String> controllers,
      HostCapacity capacity, String agentVersion) {
    this(hostId, address, controllers, capacity, agentVersion, Map.of());
  }

  public LinkSettings {
    labels = Map.copyOf(labels);
    controllers = List.copyOf(controllers);
    if (controllers.isEmpty()) {
      throw new IllegalArgumentException("at least one controller address is needed");
    }
  }
}

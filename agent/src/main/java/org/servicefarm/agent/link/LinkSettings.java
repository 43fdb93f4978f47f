package org.servicefarm.agent.link;

import java.util.List;
import org.servicefarm.api.v1.HostCapacity;

/**
 * Who this agent is to the controller.
 *
 * @param controllers controller addresses, tried in turn on each reconnect
 * @param address where clients reach this host's forwarded ports
 */
public record LinkSettings(String hostId, String address, List<String> controllers,
    HostCapacity capacity, String agentVersion) {

  public LinkSettings {
    controllers = List.copyOf(controllers);
    if (controllers.isEmpty()) {
      throw new IllegalArgumentException("at least one controller address is needed");
    }
  }
}

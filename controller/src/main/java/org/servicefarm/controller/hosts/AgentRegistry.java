package org.servicefarm.controller.hosts;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The agents connected to this controller now, one session per host. */
public final class AgentRegistry {
  private final Map<String, AgentSession> sessions = new ConcurrentHashMap<>();

  /** Attaches a new session; an older one for the same host (a stale stream) is closed. */
  public void attach(AgentSession session) {
    AgentSession previous = sessions.put(session.hostId(), session);
    if (previous != null && previous != session) {
      previous.close("replaced by a newer stream");
      previous.endStream();
    }
  }

  /** Detaches the session if it is still the host's current one. */
  public void detach(AgentSession session, String why) {
    sessions.remove(session.hostId(), session);
    session.close(why);
  }

  public Optional<AgentSession> session(String hostId) {
    AgentSession s = sessions.get(hostId);
    return s == null || s.isClosed() ? Optional.empty() : Optional.of(s);
  }

  public boolean isConnected(String hostId) {
    return session(hostId).isPresent();
  }

  /** Ends every stream, so each agent dials its next controller (this one stopped leading). */
  public void disconnectAll(String why) {
    for (AgentSession session : sessions.values()) {
      detach(session, why);
      session.endStream();
    }
  }

  /** How many agents are connected now (for health and metrics). */
  public int connectedCount() {
    return (int) sessions.values().stream().filter(s -> !s.isClosed()).count();
  }

  public Collection<AgentSession> all() {
    return sessions.values();
  }
}

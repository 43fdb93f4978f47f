package org.servicefarm.controller.events;

import java.util.UUID;
import org.servicefarm.controller.db.EventRepository.Event;

/**
 * Which events a caller wants: each filter given must match, a null one matches all. A service
 * matches the events of the definition that offers it (VM events name their definition), so a
 * bundled service's name finds its VM's events.
 *
 * @param definition the definition that offers {@code service}, null when it is not defined
 * @param project only this project's events; null for every event (host events included)
 */
public record EventFilter(UUID vmId, String service, String definition, String hostId,
    String project) {

  public static final EventFilter ANY = new EventFilter(null, null, null, null);

  /** A filter of every project's events. */
  public EventFilter(UUID vmId, String service, String definition, String hostId) {
    this(vmId, service, definition, hostId, null);
  }

  public boolean matches(Event e) {
    return (project == null || project.equals(e.project()))
        && (vmId == null || vmId.equals(e.vmId()))
        && (hostId == null || hostId.equals(e.hostId()))
        && (service == null || service.equals(e.service())
            || (definition != null && definition.equals(e.service())));
  }
}

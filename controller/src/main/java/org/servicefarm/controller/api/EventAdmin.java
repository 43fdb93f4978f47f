package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.UUID;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ListEventsRequest;
import org.servicefarm.api.v1.ListEventsResponse;
import org.servicefarm.api.v1.WatchEventsRequest;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.events.EventFilter;

/**
 * The FarmAdmin calls about the farm's history: ListEvents and WatchEvents.
 * {@link FarmAdminService} hands them here, so the admin service stays one screenful per concern.
 */
public final class EventAdmin {
  static final int DEFAULT_EVENTS = 100;
  static final int MAX_EVENTS = 1000;

  private final Database db;
  private final EventRepository events;
  private final CatalogRepository catalog;
  private final EventFeed feed;

  public EventAdmin(Database db, EventRepository events, CatalogRepository catalog,
      EventFeed feed) {
    this.db = db;
    this.events = events;
    this.catalog = catalog;
    this.feed = feed;
  }

  void listEvents(ListEventsRequest req, StreamObserver<ListEventsResponse> out) {
    EventFilter filter = filter(req.getVmId(), req.getService(), req.getHostId());
    long after = Validation.range("after_id", req.getAfterId(), 0, Long.MAX_VALUE);
    int limit = req.getLimit() == 0 ? DEFAULT_EVENTS
        : (int) Validation.range("limit", req.getLimit(), 1, MAX_EVENTS);
    List<EventRepository.Event> page = events.page(db, filter.vmId(), filter.service(),
        filter.hostId(), after, Long.MAX_VALUE, limit);
    ListEventsResponse.Builder resp = ListEventsResponse.newBuilder();
    page.forEach(e -> resp.addEvents(event(e)));
    out.onNext(resp.build());
    out.onCompleted();
  }

  void watchEvents(WatchEventsRequest req, StreamObserver<Event> out) {
    EventFilter filter = filter(req.getVmId(), req.getService(), req.getHostId());
    long after = Validation.range("after_id", req.getAfterId(), 0, Long.MAX_VALUE);
    feed.watch(filter, after, (ServerCallStreamObserver<Event>) out, EventAdmin::event);
  }

  private EventFilter filter(String vmId, String service, String hostId) {
    UUID vm = vmId.isEmpty() ? null : Validation.vmId(vmId);
    String host = hostId.isEmpty() ? null : Validation.hostId(hostId);
    if (service.isEmpty()) {
      return new EventFilter(vm, null, null, host);
    }
    String name = Validation.serviceName("service", service);
    // A service no longer defined still matches the events recorded under its name.
    String definition = db.inTransaction(tx -> catalog.route(tx, name))
        .map(CatalogRepository.ServiceRoute::definition).orElse(null);
    return new EventFilter(vm, name, definition, host);
  }

  static Event event(EventRepository.Event e) {
    return Event.newBuilder()
        .setId(e.id())
        .setAt(ProtoMapping.timestamp(e.at()))
        .setKind(e.kind())
        .setVmId(e.vmId() == null ? "" : e.vmId().toString())
        .setHostId(nullToEmpty(e.hostId()))
        .setService(nullToEmpty(e.service()))
        .setFromState(nullToEmpty(e.fromState()))
        .setToState(nullToEmpty(e.toState()))
        .setCause(e.cause())
        .build();
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}

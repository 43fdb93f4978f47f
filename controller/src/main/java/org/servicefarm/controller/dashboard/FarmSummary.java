package org.servicefarm.controller.dashboard;

import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.model.ProjectScope;
import org.servicefarm.controller.projects.ProjectRegistry;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.model.AuditRecord;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.routes.GatewayAddresses;
import org.servicefarm.controller.model.VmState;

/**
 * The farm as the dashboard shows it, read afresh for each call and written as JSON: hosts with
 * their load, VMs by state and the most recent ones, service definitions with their VM counts,
 * the newest events, and the newest audit records (who changed the farm, who was refused). It
 * reads what FarmAdmin's List calls and AuditLog read, on any controller; the dashboard is for
 * admins only, as those calls are.
 *
 * <p>Gson's writer escapes {@code < > & = '} as {@code \u003c}…, so a value that came from a user
 * (a command, an event's cause) cannot close a script or markup context even if misused.
 */
public final class FarmSummary {
  static final int VMS_SHOWN = 100;
  static final int EVENTS_SHOWN = 50;
  static final int AUDIT_SHOWN = 50;

  private final Database db;
  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final VmListings vms;
  private final ImageCatalog catalog;
  private final EventRepository events;
  private final AuditRepository audit;
  private final ProjectRegistry projects;
  private final GatewayAddresses gateways;

  public FarmSummary(Database db, HostRepository hosts, AgentRegistry agents, VmListings vms,
      ImageCatalog catalog, EventRepository events, AuditRepository audit,
      GatewayAddresses gateways) {
    this.gateways = gateways;
    this.audit = audit;
    this.projects = new ProjectRegistry(db, new ProjectRepository());
    this.db = db;
    this.hosts = hosts;
    this.agents = agents;
    this.vms = vms;
    this.catalog = catalog;
    this.events = events;
  }

  /** The whole summary as one JSON object. */
  String json() throws IOException {
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject();
      out.name("generatedAt").value(Instant.now().toString());
      writeHosts(out);
      writeVms(out);
      writeServices(out);
      out.name("events").beginArray();
      for (EventRepository.Event e : events.latest(db, EVENTS_SHOWN)) {
        writeEvent(out, e);
      }
      out.endArray();
      writeAudit(out);
      out.name("projects").beginArray();
      for (ProjectRegistry.ProjectView p : projects.list(ProjectScope.FARM)) {
        out.value(p.project().name());
      }
      out.endArray();
      out.endObject();
    }
    return text.toString();
  }

  /** The newest audit records, newest first. */
  private void writeAudit(JsonWriter out) throws IOException {
    List<AuditRecord> newest = audit.page(db, null, null, 0, AUDIT_SHOWN);
    out.name("audit").beginArray();
    for (int i = newest.size() - 1; i >= 0; i--) {
      AuditRecord r = newest.get(i);
      out.beginObject()
          .name("id").value(r.id())
          .name("at").value(r.at().toString())
          .name("caller").value(r.callerKind().equals("token") ? r.caller()
              : r.callerKind() + ": " + r.caller())
          .name("peer").value(r.peer())
          .name("method").value(r.method())
          .name("target").value(r.target())
          .name("outcome").value(r.outcome())
          .name("calls").value(r.callCount())
          .name("detail").value(r.detail())
          .endObject();
    }
    out.endArray();
  }

  private void writeHosts(JsonWriter out) throws IOException {
    Map<String, Integer> placed = vms.countsByHost(db);
    out.name("hosts").beginArray();
    for (HostRecord h : hosts.list(db)) {
      out.beginObject();
      writeHostFields(out, h, agents.session(h.id()).map(AgentSession::load).orElse(null));
      out.name("vmCount").value(placed.getOrDefault(h.id(), 0)).endObject();
    }
    out.endArray();
  }

  /**
   * What the farm's page and a host's page both show of a host: its place, whether its agent is
   * connected, its capacity and what is allocated, and its CPU. Load comes from the live stream
   * when the agent is connected ({@code live} not null): the table's copy may lag.
   *
   * @return the load shown
   */
  static HostRecord.HostLoad writeHostFields(JsonWriter out, HostRecord h,
      HostRecord.HostLoad live) throws IOException {
    HostRecord.HostLoad load = live != null ? live : h.load();
    out.name("id").value(h.id())
        .name("address").value(h.address())
        .name("status").value(h.status().name())
        .name("connected").value(live != null)
        .name("capacityVcpus").value(h.capacityVcpus())
        .name("usedVcpus").value(h.allocatedVcpus())
        .name("capacityMemoryMb").value(h.capacityMemoryMb())
        .name("usedMemoryMb").value(h.allocatedMemoryMb())
        .name("cpuPercent").value(Math.round(load.cpuPercent() * 10) / 10.0);
    return load;
  }

  private void writeVms(JsonWriter out) throws IOException {
    out.name("vmStates").beginObject();
    for (Map.Entry<VmState, Integer> e : VmListings.countsByState(db).entrySet()) {
      out.name(e.getKey().name()).value(e.getValue());
    }
    out.endObject();
    out.name("vms").beginArray();
    for (VmListings.VmView v : vms.recent(db, VMS_SHOWN)) {
      out.beginObject()
          .name("id").value(v.vm().id().toString())
          .name("service").value(v.vm().definition())
          .name("state").value(v.vm().state().name())
          .name("desiredState").value(v.vm().desiredState().name())
          .name("host").value(v.vm().hostId())
          .name("project").value(v.vm().project())
          .name("endpoint").value(endpoint(v))
          .name("updatedAt").value(v.vm().updatedAt().toString())
          .endObject();
    }
    out.endArray();
  }

  /** Where the VM's own service is reached (host address and port), or null while unreachable. */
  static String endpoint(VmListings.VmView v) {
    if (v.hostAddress() == null) {
      return null;
    }
    List<VmServiceRecord> reachable =
        v.offers().stream().filter(o -> o.hostPort() != null).toList();
    return reachable.stream().filter(o -> o.service().equals(v.vm().definition())).findFirst()
        .or(() -> reachable.stream().findFirst())
        .map(o -> v.hostAddress() + ":" + o.hostPort()).orElse(null);
  }

  private void writeServices(JsonWriter out) throws IOException {
    Map<String, Integer> perDefinition = vms.countsByDefinition(db);
    Map<String, Integer> gatewayPorts = gateways.ports();
    out.name("services").beginArray();
    for (ServiceDefinitionRecord d : catalog.definitions()) {
      out.beginObject()
          .name("name").value(d.name())
          .name("packages").value(String.join(" ", d.packages()))
          .name("command").value(d.command())
          .name("vcpus").value(d.vcpus())
          .name("memoryMb").value(d.memoryMb())
          .name("project").value(d.project())
          .name("shared").value(d.shared())
          .name("offers").beginArray();
      for (ServiceDefinitionRecord.ServicePort p : d.services()) {
        out.value(p.name() + ":" + p.guestPort());
      }
      out.endArray().name("gateways").beginArray();
      for (ServiceDefinitionRecord.ServicePort p : d.services()) {
        Integer port = gatewayPorts.get(p.name());
        if (port != null) {
          out.value(p.name() + " " + gateways.address(port));
        }
      }
      out.endArray()
          .name("vms").value(perDefinition.getOrDefault(d.name(), 0))
          .endObject();
    }
    out.endArray();
  }

  /** One event as the summary and the event stream send it. */
  static void writeEvent(JsonWriter out, EventRepository.Event e) throws IOException {
    out.beginObject()
        .name("id").value(e.id())
        .name("at").value(e.at().toString())
        .name("kind").value(e.kind())
        .name("vmId").value(e.vmId() == null ? null : e.vmId().toString())
        .name("hostId").value(e.hostId())
        .name("service").value(e.service())
        .name("from").value(e.fromState())
        .name("to").value(e.toState())
        .name("cause").value(e.cause())
        .name("project").value(e.project())
        .endObject();
  }

  /** One event as a JSON object of its own (a line of the event stream). */
  static String eventJson(EventRepository.Event e) throws IOException {
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      writeEvent(out, e);
    }
    return text.toString();
  }
}

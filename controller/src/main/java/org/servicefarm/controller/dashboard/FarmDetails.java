package org.servicefarm.controller.dashboard;

import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.ReadConsole;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * What the dashboard's VM and host pages show, as JSON: a VM with its events and leases, and the
 * end of its console log (read by its agent); a host
 * with its load now and over the last hour, and its VMs. Read afresh for each call from the
 * tables FarmAdmin reads (and the agents' live loads), as {@link FarmSummary} is.
 */
public final class FarmDetails {
  static final int EVENTS_SHOWN = 200;
  static final int LEASES_SHOWN = 50;
  static final int HOST_VMS_SHOWN = 500;
  static final int CONSOLE_BYTES = 16384;
  private static final Duration CONSOLE_WAIT = Duration.ofSeconds(10);

  private final Database db;
  private final VmRepository vmRows;
  private final VmListings vms;
  private final EventRepository events;
  private final LeaseRepository leases;
  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final FarmHistory history;

  public FarmDetails(Database db, VmRepository vmRows, VmListings vms, EventRepository events,
      LeaseRepository leases, HostRepository hosts, AgentRegistry agents, FarmHistory history) {
    this.db = db;
    this.vmRows = vmRows;
    this.vms = vms;
    this.events = events;
    this.leases = leases;
    this.hosts = hosts;
    this.agents = agents;
    this.history = history;
  }

  /** The VM, its newest events (oldest first) and leases (newest first); empty if unknown. */
  Optional<String> vm(UUID id) throws IOException {
    Optional<VmListings.VmView> found = db.inTransaction(tx -> {
      Optional<VmRecord> row = vmRows.find(tx, id);
      return row.isEmpty() ? Optional.<VmListings.VmView>empty()
          : Optional.of(vms.views(tx, List.of(row.get())).get(0));
    });
    if (found.isEmpty()) {
      return Optional.empty();
    }
    VmListings.VmView view = found.get();
    VmRecord v = view.vm();
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject()
          .name("id").value(v.id().toString())
          .name("service").value(v.definition())
          .name("state").value(v.state().name())
          .name("desiredState").value(v.desiredState().name())
          .name("host").value(v.hostId())
          .name("endpoint").value(FarmSummary.endpoint(view))
          .name("vcpus").value(v.vcpus())
          .name("memoryMb").value(v.memoryMb())
          .name("generation").value(v.generation())
          .name("failureReason").value(v.failureReason())
          .name("liveLeases").value(view.liveLeases())
          .name("createdAt").value(v.createdAt().toString())
          .name("updatedAt").value(v.updatedAt().toString());
      out.name("events").beginArray();
      List<EventRepository.Event> all = events.forVm(db, id);
      for (EventRepository.Event e : all.subList(Math.max(0, all.size() - EVENTS_SHOWN),
          all.size())) {
        FarmSummary.writeEvent(out, e);
      }
      out.endArray();
      out.name("leases").beginArray();
      for (LeaseRecord l : leases.newestForVm(db, id, LEASES_SHOWN)) {
        out.beginObject()
            .name("id").value(l.id().toString())
            .name("service").value(l.service())
            .name("createdAt").value(l.createdAt().toString())
            .name("expiresAt").value(l.expiresAt().toString())
            .name("releasedAt").value(l.releasedAt() == null ? null : l.releasedAt().toString())
            .name("endReason").value(l.endReason())
            .endObject();
      }
      out.endArray();
      out.endObject();
    }
    return Optional.of(text.toString());
  }

  /**
   * The end of the VM's console log, read by its host's agent ({@value #CONSOLE_BYTES} bytes at
   * most), as JSON: {@code text}, or {@code error} saying why there is none; empty if no such VM.
   * Only the leading controller holds the agents' streams: elsewhere the error says so.
   */
  Optional<String> console(UUID id) throws IOException {
    Optional<VmRecord> found = db.inTransaction(tx -> vmRows.find(tx, id));
    if (found.isEmpty()) {
      return Optional.empty();
    }
    VmRecord vm = found.get();
    String text = null;
    String error = null;
    Optional<AgentSession> agent = vm.hostId() == null ? Optional.empty()
        : agents.session(vm.hostId());
    if (vm.hostId() == null || !VmState.ON_HOST.contains(vm.state())) {
      error = "VM " + id + " is " + vm.state() + ": its console log is on no host now";
    } else if (agent.isEmpty()) {
      error = "the agent of host " + vm.hostId() + " is not connected to this controller"
          + " (agents stream to the leading controller only)";
    } else {
      try {
        CommandResult result = agent.get().send(Command.newBuilder()
            .setCommandId(UUID.randomUUID().toString()).setVmId(id.toString())
            .setGeneration(vm.generation())
            .setReadConsole(ReadConsole.newBuilder().setMaxBytes(CONSOLE_BYTES)).build(),
            CONSOLE_WAIT).get();
        if (result.getOk()) {
          text = result.getConsoleTail().toString(StandardCharsets.UTF_8);
        } else {
          error = "host " + vm.hostId() + " could not read the console log: " + result.getError();
        }
      } catch (ExecutionException e) {
        error = e.getCause().getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        error = "interrupted while reading the console log";
      }
    }
    StringWriter json = new StringWriter();
    try (JsonWriter out = new JsonWriter(json)) {
      out.setHtmlSafe(true);
      out.beginObject().name("vm").value(id.toString()).name("host").value(vm.hostId())
          .name("text").value(text).name("error").value(error).endObject();
    }
    return Optional.of(json.toString());
  }

  /** The host, its load now and over the hour, and the VMs placed on it; empty if unknown. */
  Optional<String> host(String id) throws IOException {
    Optional<HostRecord> found = db.inTransaction(tx -> hosts.find(tx, id));
    if (found.isEmpty()) {
      return Optional.empty();
    }
    HostRecord h = found.get();
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject();
      HostRecord.HostLoad load = FarmSummary.writeHostFields(out, h,
          agents.session(id).map(AgentSession::load).orElse(null));
      out.name("hypervisor").value(h.hypervisor())
          .name("memoryReportedMb").value(load.memoryUsedMb())
          .name("memoryTotalMb").value(load.memoryTotalMb())
          .name("diskFreeMb").value(load.diskFreeMb())
          .name("labels").value(h.labels().entrySet().stream()
              .map(l -> l.getKey() + "=" + l.getValue())
              .collect(java.util.stream.Collectors.joining(",")))
          .name("cpuOvercommit").value(h.cpuOvercommit())
          .name("memoryOvercommit").value(h.memoryOvercommit())
          .name("lastReportAt").value(h.lastReportAt() == null ? null
              : h.lastReportAt().toString());
      out.name("history");
      FarmHistory.writeHost(out, history.host(id));
      out.name("vms").beginArray();
      for (VmListings.VmView v :
          vms.list(db, null, id, null, false, HOST_VMS_SHOWN, null).vms()) {
        if (v.vm().state() == VmState.DELETED) {
          continue;
        }
        out.beginObject()
            .name("id").value(v.vm().id().toString())
            .name("service").value(v.vm().definition())
            .name("state").value(v.vm().state().name())
            .name("desiredState").value(v.vm().desiredState().name())
            .name("endpoint").value(FarmSummary.endpoint(v))
            .name("vcpus").value(v.vm().vcpus())
            .name("memoryMb").value(v.vm().memoryMb())
            .name("liveLeases").value(v.liveLeases())
            .endObject();
      }
      out.endArray();
      out.endObject();
    }
    return Optional.of(text.toString());
  }
}

package org.servicefarm.client.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import org.servicefarm.api.v1.Event;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.Subscription;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** farmctl events: the farm's history of transitions, or the transitions as they happen. */
@Command(
    name = "events",
    description = {
      "List the farm's events (every VM and host transition), oldest first; filters combine.",
      "With --follow, print events as they happen until interrupted (Ctrl-C)."
    },
    footer = {
      "%nExamples:",
      "  farmctl events --service redis",
      "  farmctl events --host sim-1 --follow -o json",
    })
final class EventsCommand implements Runnable {
  // One event per line in JSON too, so a followed stream can be read line by line.
  private static final JsonFormat.Printer JSON_LINE =
      JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace();

  @Option(names = "--vm", paramLabel = "VM_ID", description = "Only events of this VM.")
  private String vmId;

  @Option(names = "--service", paramLabel = "NAME",
      description = "Only events of VMs offering this service.")
  private String service;

  @Option(names = "--host", paramLabel = "HOST_ID", description = "Only events on this host.")
  private String hostId;

  @Option(names = "--after", paramLabel = "ID", defaultValue = "0",
      description = "Only events after this id (default: from the oldest; with --follow, from now).")
  private long afterId;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
      description = "List at most this many events (default ${DEFAULT-VALUE}); not with --follow.")
  private int limit;

  @Option(names = {"-f", "--follow"}, description = "Keep printing events as they happen.")
  private boolean follow;

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    EventFilter filter = new EventFilter(vmId, service, hostId, afterId, 0);
    boolean json = farmCtl.output().isJson();
    PrintWriter out = spec.commandLine().getOut();
    try (FarmClient client = farmCtl.openClient()) {
      if (follow) {
        follow(client, filter, json, out);
      } else {
        print(list(client, filter), json, out);
      }
    }
  }

  /** Pages through the matching events until --limit of them or no more. */
  private List<Event> list(FarmClient client, EventFilter filter) {
    List<Event> events = new ArrayList<>();
    long after = filter.afterId();
    while (events.size() < limit) {
      int page = Math.min(1000, limit - events.size());
      List<Event> got = client.listEvents(filter.after(after).limit(page));
      events.addAll(got);
      if (got.size() < page) {
        break;
      }
      after = got.get(got.size() - 1).getId();
    }
    return events;
  }

  private void follow(FarmClient client, EventFilter filter, boolean json, PrintWriter out) {
    if (!json) {
      out.println(header());
      out.flush();
    }
    try (Subscription subscription = client.watchEvents(filter, event -> {
      out.println(json ? jsonLine(event) : row(event));
      out.flush();
    })) {
      subscription.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void print(List<Event> events, boolean json, PrintWriter out) {
    if (json) {
      events.forEach(e -> out.println(jsonLine(e)));
    } else {
      Table table = new Table("ID", "AT", "KIND", "VM", "HOST", "SERVICE", "FROM", "TO", "CAUSE");
      for (Event e : events) {
        table.row(e.getId(), Cells.time(e.getAt()), e.getKind(), Cells.text(e.getVmId()),
            Cells.text(e.getHostId()), Cells.text(e.getService()), Cells.text(e.getFromState()),
            Cells.text(e.getToState()), e.getCause());
      }
      table.print(out);
    }
    out.flush();
  }

  // A followed stream cannot be measured first, so its columns have fixed widths.
  private static final String ROW = "%-8s %-20s %-11s %-36s %-12s %-16s %-12s %-12s %s";

  private static String header() {
    return String.format(ROW, "ID", "AT", "KIND", "VM", "HOST", "SERVICE", "FROM", "TO", "CAUSE");
  }

  private static String row(Event e) {
    return String.format(ROW, e.getId(), Cells.time(e.getAt()), e.getKind(),
        Cells.text(e.getVmId()), Cells.text(e.getHostId()), Cells.text(e.getService()),
        Cells.text(e.getFromState()), Cells.text(e.getToState()), e.getCause()).stripTrailing();
  }

  private static String jsonLine(Event e) {
    try {
      return JSON_LINE.print(e);
    } catch (InvalidProtocolBufferException ex) {
      throw new IllegalStateException("cannot print event " + e.getId() + " as JSON", ex);
    }
  }
}

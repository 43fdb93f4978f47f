package org.servicefarm.client.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.PrintWriter;
import java.util.List;
import org.servicefarm.api.v1.AuditRecord;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** farmctl audit: who changed the farm, and who was refused, newest last. */
@Command(
    name = "audit",
    description = {
      "List the audit trail (needs an admin token): every call that changed the farm and every",
      "call that was refused, with its caller (token name or agent host), peer, method, target",
      "and outcome. Refused calls beyond the first per caller and minute are one summary row.",
      "With --follow, keep printing new records until interrupted (Ctrl-C)."
    },
    footer = {
      "%nExamples:",
      "  farmctl audit --caller ci",
      "  farmctl audit --on static-web --follow -o json",
    })
final class AuditCommand implements Runnable {
  private static final JsonFormat.Printer JSON_LINE =
      JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace();
  private static final long FOLLOW_INTERVAL_MILLIS = 1000;

  // Not --token and --target: farmctl's own options of those names say how to reach the farm.
  @Option(names = "--caller", paramLabel = "NAME",
      description = "Only calls by this token (its name) or agent (its host id).")
  private String caller;

  @Option(names = "--on", paramLabel = "TARGET",
      description = "Only calls on this target: a service, VM id, host id, image or token name.")
  private String target;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
      description = "Show the newest N records, 1 to 1000 (default ${DEFAULT-VALUE}).")
  private int limit;

  @Option(names = {"-f", "--follow"}, description = "Keep printing records as they are written.")
  private boolean follow;

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    boolean json = farmCtl.output().isJson();
    PrintWriter out = spec.commandLine().getOut();
    try (FarmClient client = farmCtl.openClient()) {
      List<AuditRecord> newest = client.audit().list(caller, target, 0, limit);
      if (!follow) {
        print(newest, json, out);
        return;
      }
      if (!json) {
        out.println(header());
      }
      // After id 0 the farm answers the newest records; none were there, so all are new.
      long after = 0;
      List<AuditRecord> page = newest;
      while (true) {
        for (AuditRecord r : page) {
          out.println(json ? jsonLine(r) : row(r));
          after = r.getId();
        }
        out.flush();
        Thread.sleep(FOLLOW_INTERVAL_MILLIS);
        page = client.audit().list(caller, target, after, 1000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void print(List<AuditRecord> records, boolean json, PrintWriter out) {
    if (json) {
      records.forEach(r -> out.println(jsonLine(r)));
    } else {
      out.println(header());
      records.forEach(r -> out.println(row(r)));
    }
    out.flush();
  }

  // Followed output cannot be measured first, so the columns have fixed widths.
  private static final String ROW = "%-8s %-20s %-20s %-21s %-40s %-24s %-18s %-5s %s";

  private static String header() {
    return String.format(ROW, "ID", "AT", "CALLER", "PEER", "METHOD", "TARGET", "OUTCOME", "CALLS",
        "DETAIL").stripTrailing();
  }

  private static String row(AuditRecord r) {
    String who = r.getCallerKind().equals("token") ? r.getCaller()
        : r.getCallerKind() + ": " + r.getCaller();
    return String.format(ROW, r.getId(), Cells.time(r.getAt()), who, r.getPeer(),
        r.getMethod().replace("servicefarm.v1.", ""), Cells.text(r.getTarget()), r.getOutcome(),
        r.getCallCount(), r.getDetail()).stripTrailing();
  }

  private static String jsonLine(AuditRecord r) {
    try {
      return JSON_LINE.print(r);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print audit record " + r.getId() + " as JSON", e);
    }
  }
}

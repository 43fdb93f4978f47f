package org.servicefarm.controller.api;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.ManifestKey;
import org.servicefarm.api.v1.Register;
import org.servicefarm.api.v1.Registered;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.hosts.AgentProtocol;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.hosts.HostEvents;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/**
 * The agents' side of the API: one bidirectional stream per host. The first message registers
 * the host; after that the stream carries load reports and command results up, commands down.
 * A stream may speak only of the host it registered, and only register the host its client
 * certificate names, when it has one ({@link AgentIdentity}).
 */
public final class AgentControlService extends AgentControlGrpc.AgentControlImplBase {
  private static final Logger LOG = Logger.getLogger(AgentControlService.class.getName());

  private final AgentRegistry registry;
  private final HostEvents events;
  private final int reportIntervalSeconds;
  private final java.util.function.Supplier<List<ManifestKey>> manifestKeys;
  private final ReportIngest reports = new ReportIngest(REPORT_THREADS);

  /** Workers squaring reports with the VM table; each host's reports run one at a time. */
  private static final int REPORT_THREADS = 8;
  /** Workers for the streams' messages that may block (registrations, command results). */
  private static final int STREAM_THREADS = 16;
  private final java.util.concurrent.ThreadPoolExecutor streamWork = daemonPool(STREAM_THREADS,
      "agent-stream");

  public AgentControlService(AgentRegistry registry, HostEvents events, int reportIntervalSeconds) {
    this(registry, events, reportIntervalSeconds, List::of);
  }

  /**
   * @param manifestKeys the public keys manifests are signed with, told to each agent when it
   *     registers
   */
  public AgentControlService(AgentRegistry registry, HostEvents events, int reportIntervalSeconds,
      java.util.function.Supplier<List<ManifestKey>> manifestKeys) {
    this.manifestKeys = manifestKeys;
    this.registry = registry;
    this.events = events;
    this.reportIntervalSeconds = reportIntervalSeconds;
  }

  @Override
  public StreamObserver<AgentMessage> connect(StreamObserver<ControllerMessage> out) {
    return new StreamObserver<>() {
      private volatile AgentSession session;
      /** The controller failed the stream: messages still queued behind the failure are dropped. */
      private volatile boolean failed;
      // Handed-off work keeps the call's context: AgentIdentity reads the certified host there.
      private final OrderedHandoff ordered =
          new OrderedHandoff(streamWork, io.grpc.Context.current());

      /**
       * Runs on the transport's thread (the service is called without a thread hop, see
       * Controller#serve): Alive and load reports, which only touch memory and queue work, are
       * handled here when nothing of the stream waits on the pool; everything else, and every
       * failure (ending a session completes the futures of its pending commands), is handed to
       * the pool in order.
       */
      @Override
      public void onNext(AgentMessage message) {
        boolean cheap = message.getKindCase() == AgentMessage.KindCase.ALIVE
            || message.getKindCase() == AgentMessage.KindCase.LOAD;
        if (cheap && ordered.idle()) {
          Status failure = process(message);
          if (failure != null) {
            ordered.execute(() -> fail(failure));
          }
        } else {
          ordered.execute(() -> {
            Status failure = process(message);
            if (failure != null) {
              fail(failure);
            }
          });
        }
      }

      /** Handles the message; returns the status to end the stream with, or null. */
      private Status process(AgentMessage message) {
        if (failed) {
          return null;
        }
        try {
          handle(message);
          return null;
        } catch (FarmException e) {
          return StatusMapper.toStatus(e);
        } catch (DatabaseException e) {
          LOG.log(Level.WARNING, "agent stream: database unavailable: {0}", e.getMessage());
          return StatusMapper.toStatus(e);
        }
      }

      private void handle(AgentMessage message) {
        switch (message.getKindCase()) {
          case REGISTER -> register(message.getRegister());
          case LOAD -> {
            requireSession("a load report");
            LoadReport report = message.getLoad();
            if (report.getInventoryUnchanged()) {
              // Only the load is new: the rest is the last whole report's.
              HostLoad load = AgentProtocol.load(report.getLoad());
              session.reportedLoad(load, report.getLoad());
              aliveUnchanged(load);
              return;
            }
            ReportValidation.requireValid("load report", report.getDomainsList());
            // Liveness and load at once; the table is squared off this stream's thread.
            // A report made while libvirtd is away lists no cached images: keep the last ones.
            session.reported(AgentProtocol.load(report.getLoad()),
                report.getDomainsUnknown()
                    ? java.util.List.copyOf(session.cachedImages())
                    : report.getCachedImagesList());
            if (!report.getDomainsUnknown()) {
              session.lastWhole(report);
            }
            String hostId = session.hostId();
            reports.submit(hostId, report, r -> recordReport(hostId, r));
          }
          case ALIVE -> {
            requireSession("an alive message");
            session.alive();
            aliveUnchanged(null);
          }
          case RESULT -> {
            requireSession("a command result");
            session.complete(message.getResult());
          }
          case PROGRESS -> {
            requireSession("a progress report");
            session.progressed(message.getProgress());
          }
          // An empty message, or one of a kind added by a newer agent: refused, named.
          default -> throw new FarmException.InvalidInput("agent message of no kind this"
              + " controller knows (field " + unknownFields(message) + "); is the agent newer"
              + " than the controller? Upgrade the controllers before the agents");
        }
      }

      /**
       * The host's domains are those of its last whole report. Unless that report is known to
       * change nothing, it is squared with the table again (with the newest load), as a whole
       * report of the same domains would be.
       */
      private void aliveUnchanged(HostLoad loadOrNull) {
        String hostId = session.hostId();
        if (events.alive(hostId, loadOrNull)) {
          reports.submit(hostId, session.lastWhole(), r -> recordReport(hostId, r));
        }
      }

      /**
       * A report the database cannot take is skipped, not fatal: the stream stays up, the host
       * keeps counting as alive, and the next report carries its whole inventory again. (Ending
       * the stream would make the agent re-register, and the host look silent meanwhile.)
       */
      private void recordReport(String hostId, LoadReport report) {
        try {
          events.vmsChanged(events.reported(hostId, report));
        } catch (DatabaseException e) {
          LOG.log(Level.WARNING, "load report of host {0} not recorded: {1}",
              new Object[] {hostId, e.getMessage()});
        } catch (FarmException e) {
          // Off the stream's thread nobody else would hear of it; the next report tries again.
          LOG.log(Level.WARNING, "load report of host {0} not applied: {1}",
              new Object[] {hostId, e.getMessage()});
        }
      }

      private void register(Register register) {
        // Before any echo or record: refusals name these values, the database stores them.
        Validation.hostId(register.getHostId());
        Validation.text("address", register.getAddress(), 255);
        Validation.text("hypervisor", register.getHypervisor(), 64);
        Validation.text("agent_version", register.getAgentVersion(), 128);
        ReportValidation.requireValid("inventory", register.getInventoryList());
        // Before anything is recorded: an agent this controller cannot speak to is not a host.
        AgentProtocol.requireSupported(register.getHostId(), register.getAgentVersion(),
            register.getProtocolVersion());
        if (session != null) {
          if (!session.hostId().equals(register.getHostId())) {
            throw new FarmException.InvalidInput("this stream registered host " + session.hostId()
                + " and cannot speak for host " + register.getHostId());
          }
        }
        Validation.hostId(register.getHostId());
        // Before anything is recorded: a refused host must not appear among the farm's hosts.
        AgentIdentity.requireMayRegister(register.getHostId());
        List<UUID> toDrive = events.registered(register);
        session = new AgentSession(register.getHostId(), register.getAddress(),
            register.getHypervisor(), out,
            AgentProtocol.load(register.getLoad()), java.util.Set.copyOf(register.getCachedImagesList()));
        registry.attach(session);
        session.lastWhole(LoadReport.newBuilder().setLoad(register.getLoad())
            .addAllDomains(register.getInventoryList())
            .addAllCachedImages(register.getCachedImagesList()).build());
        session.write(ControllerMessage.newBuilder()
            .setRegistered(Registered.newBuilder().setReportIntervalSeconds(reportIntervalSeconds)
                .setDeltaReports(true).addAllManifestKeys(manifestKeys.get()))
            .build());
        LOG.info("host " + register.getHostId() + " registered (" + register.getHypervisor() + ", "
            + register.getInventoryCount() + " domains)");
        events.vmsChanged(toDrive);
      }

      private void requireSession(String what) {
        if (session == null) {
          throw new FarmException.InvalidInput(what + " arrived before Register");
        }
      }

      private void fail(Status status) {
        failed = true;
        if (session != null) {
          registry.detach(session, status.getDescription());
        }
        try {
          out.onError(status.asRuntimeException());
        } catch (IllegalStateException alreadyClosed) {
          // The call ended while we were failing it; nothing more to say to the agent.
        }
      }

      @Override
      public void onError(Throwable t) {
        ordered.execute(() -> {
          if (session != null) {
            registry.detach(session, "stream error: " + Status.fromThrowable(t).getCode());
          }
        });
      }

      @Override
      public void onCompleted() {
        ordered.execute(() -> {
          if (session != null) {
            registry.detach(session, "agent closed the stream");
          }
          out.onCompleted();
        });
      }
    };
  }

  /** A pool whose idle threads end, so controllers made and dropped leave no threads behind. */
  static java.util.concurrent.ThreadPoolExecutor daemonPool(int threads, String name) {
    java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(
        threads, threads, 30, java.util.concurrent.TimeUnit.SECONDS,
        new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /** The field numbers of a message this controller's protocol does not define, e.g. "[12]". */
  private static String unknownFields(AgentMessage message) {
    java.util.Set<Integer> numbers = message.getUnknownFields().asMap().keySet();
    return numbers.isEmpty() ? "none: the message is empty" : numbers.toString();
  }
}

package org.servicefarm.agent.link;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.images.ManifestVerifier;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.agent.load.HostLoadProbe;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's one stream to the controller. It dials, registers with the full inventory, reports
 * load on the interval the controller asks for, and runs the controller's commands through a
 * per-VM serial executor so the gRPC threads never wait on libvirt. When the stream ends or the
 * controller cannot be reached it dials again (the next address in the list) after a backoff, and
 * registers afresh: the controller reconciles from the inventory, so nothing is replayed.
 */
public final class ControllerLink implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ControllerLink.class);

  /** Report interval until the controller's Registered reply says otherwise. */
  static final int DEFAULT_REPORT_INTERVAL_SECONDS = 2;
  /**
   * The agent protocol version this agent speaks (Register.protocol_version); the controller's
   * AgentProtocol says what each version means and which it accepts.
   */
  static final int PROTOCOL_VERSION = 2;
  private static final int COMMAND_THREADS = 4;
  /** How long stopping waits for running commands (a managed save can take a while). */
  private static final long COMMAND_GRACE_SECONDS = 30;
  private static final long STREAM_CLOSE_GRACE_SECONDS = 5;

  private final LinkSettings settings;
  private final ChannelOpener channels;
  private final Hypervisor hypervisor;
  private final HostLoadProbe loadProbe;
  private final GenerationTracker generations = new GenerationTracker();
  private final CommandHandler commands;
  /** Keys the controllers sign manifests with, learnt at each registration and never dropped. */
  private final ManifestVerifier manifests;
  private final VmSerialExecutor vmExecutor = new VmSerialExecutor(COMMAND_THREADS);
  /** Dials, reconnects and reports; one thread, so dialling state needs no lock. */
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      VmSerialExecutor.namedDaemonThreads("controller-link"));
  private final ReconnectBackoff backoff = new ReconnectBackoff(new SplittableRandom());
  private final AtomicBoolean closed = new AtomicBoolean();
  private int dialAttempts; // timer thread only
  private volatile Session current;

  public ControllerLink(LinkSettings settings, ChannelOpener channels, Hypervisor hypervisor,
      HostLoadProbe loadProbe) {
    this(settings, channels, hypervisor, loadProbe, CommandObserver.NONE);
  }

  /** @param commandObserver told how each command ended */
  public ControllerLink(LinkSettings settings, ChannelOpener channels, Hypervisor hypervisor,
      HostLoadProbe loadProbe, CommandObserver commandObserver) {
    this(settings, channels, hypervisor, loadProbe, commandObserver, new ManifestVerifier());
  }

  /**
   * @param manifests checks the signed manifests of installs and restores; told the keys each
   *     controller publishes when this agent registers
   */
  public ControllerLink(LinkSettings settings, ChannelOpener channels, Hypervisor hypervisor,
      HostLoadProbe loadProbe, CommandObserver commandObserver, ManifestVerifier manifests) {
    this.manifests = manifests;
    this.settings = settings;
    this.channels = channels;
    this.hypervisor = hypervisor;
    this.loadProbe = loadProbe;
    this.commands = new CommandHandler(hypervisor, generations, commandObserver, manifests);
  }

  /** Whether a controller has accepted this agent's registration and the stream is still open. */
  public boolean isConnected() {
    Session session = current;
    return session != null && session.registered && !session.ended.get();
  }

  /** Starts dialling in the background; returns at once. */
  public void start() {
    timer.execute(this::dial);
  }

  /**
   * Lets running commands finish (so their results still reach the controller), half-closes the
   * stream and waits briefly for the controller to end its side.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      vmExecutor.shutdown(COMMAND_GRACE_SECONDS, TimeUnit.SECONDS);
      Session session = current;
      if (session != null) {
        session.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      vmExecutor.close();
      timer.shutdownNow();
    }
  }

  private void dial() {
    if (closed.get()) {
      return;
    }
    List<String> controllers = settings.controllers();
    String target = controllers.get(dialAttempts++ % controllers.size());
    try {
      Register register = registration();
      Session session = new Session(target, channels.open(target));
      current = session;
      session.open(register);
    } catch (HypervisorException | IOException e) {
      log.warn("cannot build registration for controller {}: {}; retrying in {} ms", target,
          e.getMessage(), dialLater().toMillis());
    } catch (RuntimeException e) {
      // Must not escape: nothing would ever dial again.
      log.error("dialling controller {} failed; retrying in {} ms", target,
          dialLater().toMillis(), e);
    }
  }

  /** Schedules the next dial after the backoff delay, which it returns for the log. */
  private Duration dialLater() {
    Duration delay = backoff.nextDelay();
    if (closed.get()) {
      return delay;
    }
    try {
      timer.schedule(this::dial, delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // close() shut the timer down between the check above and now: no more dialling wanted.
      log.debug("not redialling: the link is closing");
    }
    return delay;
  }

  private Register registration() throws HypervisorException, IOException {
    List<DomainStatus> inventory = hypervisor.inventory();
    inventory.forEach(domain -> generations.observe(domain.getVmId(), domain.getGeneration()));
    return Register.newBuilder()
        .setHostId(settings.hostId())
        .setAddress(settings.address())
        .setHypervisor(hypervisor.kind().wireName())
        .setCapacity(settings.capacity())
        .setLoad(loadProbe.sample(inventory.size()))
        .addAllInventory(inventory)
        .addAllCachedImages(hypervisor.cachedImages())
        .setAgentVersion(settings.agentVersion())
        .setProtocolVersion(PROTOCOL_VERSION)
        .putAllLabels(settings.labels())
        .build();
  }

  /** One stream to one controller, from dial to end. */
  private final class Session implements ClientResponseObserver<AgentMessage, ControllerMessage> {

    private final String target;
    private final ManagedChannel channel;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile boolean registered;
    private volatile SerializedStreamWriter<AgentMessage> writer;
    private volatile int inventorySize;
    /** What the controller last heard on this stream, so a report can leave it out. */
    private final ReportDeltas deltas = new ReportDeltas();
    private ScheduledFuture<?> reports; // guarded by this

    Session(String target, ManagedChannel channel) {
      this.target = target;
      this.channel = channel;
    }

    void open(Register register) {
      AgentControlGrpc.newStub(channel).connect(this); // calls beforeStart, which sets writer
      log.debug("dialling controller {} as host {} with {} VM(s)", target, register.getHostId(),
          register.getInventoryCount());
      inventorySize = register.getInventoryCount();
      deltas.registered(register);
      writer.send(AgentMessage.newBuilder().setRegister(register).build());
      scheduleReports(DEFAULT_REPORT_INTERVAL_SECONDS);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {
      writer = new SerializedStreamWriter<>(requestStream);
    }

    @Override
    public void onNext(ControllerMessage message) {
      switch (message.getKindCase()) {
        case REGISTERED -> {
          int seconds = message.getRegistered().getReportIntervalSeconds();
          seconds = seconds > 0 ? seconds : DEFAULT_REPORT_INTERVAL_SECONDS;
          backoff.reset();
          deltas.accepted(message.getRegistered().getDeltaReports());
          manifests.trust(message.getRegistered().getManifestKeysList());
          registered = true;
          log.info("registered with controller {} with {} VM(s); reporting every {} s{}", target,
              inventorySize, seconds,
              message.getRegistered().getDeltaReports() ? ", only what changed" : "");
          scheduleReports(seconds);
        }
        case COMMAND -> accept(message.getCommand());
        case KIND_NOT_SET -> log.warn("controller {} sent an empty message; ignoring it", target);
      }
    }

    @Override
    public void onError(Throwable t) {
      Status status = Status.fromThrowable(t);
      Throwable cause = status.getCause();
      end("stream to controller " + target + " failed: " + status.getCode() + " "
          + status.getDescription() + (cause == null ? "" : " (" + cause.getMessage() + ")"));
    }

    @Override
    public void onCompleted() {
      writer.complete();
      end("controller " + target + " closed the stream");
    }

    private void accept(Command command) {
      if (closed.get()) {
        log.info("agent is stopping; not running command {} for vm {}", command.getCommandId(),
            command.getVmId());
        return;
      }
      // Taken off the stream now: the time in the queue behind the VM's earlier commands is
      // part of the command's timeline.
      long receivedMicros = WorkClock.nowMicros();
      vmExecutor.submit(command.getVmId(), () -> {
        // Progress that cannot be delivered is dropped: the result says how the command ended.
        CommandProgressReporter progress = new CommandProgressReporter(command.getCommandId(),
            command.getVmId(),
            p -> writer.send(AgentMessage.newBuilder().setProgress(p).build()), System::nanoTime);
        AgentMessage result =
            AgentMessage.newBuilder().setResult(commands.execute(command, progress, receivedMicros)).build();
        if (!writer.send(result)) {
          log.info("result of command {} not delivered: the stream to {} has ended; the next"
              + " registration reports vm {} as it is", command.getCommandId(), target,
              command.getVmId());
        }
      });
    }

    private synchronized void scheduleReports(int seconds) {
      if (ended.get()) {
        return;
      }
      if (reports != null) {
        reports.cancel(false);
      }
      reports = timer.scheduleAtFixedRate(this::report, seconds, seconds, TimeUnit.SECONDS);
    }

    // VMs in the last inventory read, for the load of a report made while libvirt is away.
    private volatile int lastVmCount;

    private void report() {
      try {
        List<DomainStatus> domains = hypervisor.inventory();
        lastVmCount = domains.size();
        AgentMessage next = deltas.next(loadProbe.sample(domains.size()), domains,
            hypervisor.cachedImages());
        if (writer.send(next)) {
          deltas.sent(next);
        }
      } catch (HypervisorException e) {
        // The host is alive though libvirtd does not answer (restarting): a report that says
        // so keeps it alive at the controller, which then leaves its VMs as they were.
        log.warn("libvirt does not answer; reporting the host alive without its domains: {}",
            e.getMessage());
        sendDomainsUnknown();
      } catch (IOException e) {
        // An empty report would tell the controller the VMs are gone; skipping it is honest.
        log.warn("skipping load report to {}: {}", target, e.getMessage());
      } catch (RuntimeException e) {
        // Must not escape: a periodic task that throws is never run again.
        log.error("load report to {} failed", target, e);
      }
    }

    private void sendDomainsUnknown() {
      try {
        // Says nothing of the domains: the next report the hypervisor answers is sent whole.
        deltas.forget();
        writer.send(AgentMessage.newBuilder()
            .setLoad(LoadReport.newBuilder()
                .setLoad(loadProbe.sample(lastVmCount))
                .setDomainsUnknown(true))
            .build());
      } catch (IOException e) {
        log.warn("skipping load report to {}: {}", target, e.getMessage());
      }
    }

    private synchronized void stopReports() {
      if (reports != null) {
        reports.cancel(false);
      }
    }

    /** The stream ended from the other side or the network: clean up and dial again. */
    private void end(String why) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      writer.markEnded();
      stopReports();
      channel.shutdown();
      if (!closed.get()) {
        log.warn("{}; dialling again in {} ms", why, dialLater().toMillis());
      }
    }

    /** The agent is stopping: half-close and give the controller a moment to end its side. */
    void close() throws InterruptedException {
      if (ended.compareAndSet(false, true)) {
        stopReports();
        writer.complete();
        log.info("closed the stream to controller {}", target);
      }
      channel.shutdown();
      if (!channel.awaitTermination(STREAM_CLOSE_GRACE_SECONDS, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    }
  }
}

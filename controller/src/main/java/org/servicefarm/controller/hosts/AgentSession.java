package org.servicefarm.controller.hosts;

import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/**
 * One agent's open stream: sends commands down it and matches the results that come back.
 * Stream writes are serialised because gRPC's StreamObserver is not thread-safe.
 */
public final class AgentSession implements AgentCommands.ConnectedAgent {
  private final String hostId;
  private final String address;
  private final String hypervisor;
  private final StreamObserver<ControllerMessage> out;
  private final Map<String, CompletableFuture<CommandResult>> pending = new ConcurrentHashMap<>();
  /** Who hears the progress of a pending command, by command id. */
  private final Map<String, Consumer<CommandProgress>> progressListeners = new ConcurrentHashMap<>();
  private volatile Instant lastReport = Instant.now();
  private volatile HostLoad load;
  private volatile Set<String> cachedImages;
  private volatile boolean closed;
  /**
   * What the agent last said of its host whole on this stream (its registration or its last
   * whole report, with the newest load): the base a delta report leaves out, and what an
   * {@code Alive} repeats.
   */
  private volatile LoadReport lastWhole;
  /** The newest load the agent sent, which may be newer than {@link #lastWhole}'s. */
  private volatile org.servicefarm.api.v1.HostLoad lastLoad;

  public AgentSession(
      String hostId, String address, String hypervisor, StreamObserver<ControllerMessage> out,
      HostLoad load, Set<String> cachedImages) {
    this.hostId = hostId;
    this.address = address;
    this.hypervisor = hypervisor;
    this.out = out;
    this.load = load;
    this.cachedImages = Set.copyOf(cachedImages);
  }

  public String hostId() {
    return hostId;
  }

  public String address() {
    return address;
  }

  /** Whether the host simulates its VMs (libvirt's test driver): nothing there boots an image. */
  @Override
  public boolean simulatesVms() {
    return "test".equals(hypervisor);
  }

  public Instant lastReport() {
    return lastReport;
  }

  public HostLoad load() {
    return load;
  }

  @Override
  public Set<String> cachedImages() {
    return cachedImages;
  }

  public boolean isClosed() {
    return closed;
  }

  public void reported(HostLoad load, java.util.List<String> cachedImages) {
    this.load = load;
    this.cachedImages = Set.copyOf(cachedImages);
    this.lastReport = Instant.now();
  }

  /** A load alone: the domains and cached images stay those of the last whole report. */
  public void reportedLoad(HostLoad load, org.servicefarm.api.v1.HostLoad onTheWire) {
    this.load = load;
    this.lastLoad = onTheWire;
    this.lastReport = Instant.now();
  }

  /** The agent said nothing changed: it is alive. */
  public void alive() {
    this.lastReport = Instant.now();
  }

  /** The last whole report with the newest load: what the host runs now, by its agent. */
  public LoadReport lastWhole() {
    LoadReport whole = lastWhole;
    org.servicefarm.api.v1.HostLoad newest = lastLoad;
    return newest == whole.getLoad() ? whole : whole.toBuilder().setLoad(newest).build();
  }

  public void lastWhole(LoadReport report) {
    this.lastWhole = report;
    this.lastLoad = report.getLoad();
  }

  /** Sends a command; the future completes with the agent's result or fails after timeout. */
  public CompletableFuture<CommandResult> send(Command command, Duration timeout) {
    return send(command, timeout, null);
  }

  /**
   * Sends a command whose progress reports (an install fetching images) go to {@code progress}
   * until its result arrives.
   */
  @Override
  public CompletableFuture<CommandResult> send(Command command, Duration timeout,
      Consumer<CommandProgress> progress) {
    String id = command.getCommandId().isEmpty() ? UUID.randomUUID().toString() : command.getCommandId();
    Command withId = command.toBuilder().setCommandId(id).build();
    CompletableFuture<CommandResult> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new FarmException.Unavailable("agent of host " + hostId + " disconnected"));
      return result;
    }
    pending.put(id, result);
    if (progress != null) {
      progressListeners.put(id, progress);
    }
    result.whenComplete((r, e) -> {
      pending.remove(id);
      progressListeners.remove(id);
    });
    try {
      write(ControllerMessage.newBuilder().setCommand(withId).build());
    } catch (RuntimeException e) {
      result.completeExceptionally(
          new FarmException.Unavailable("cannot reach the agent of host " + hostId + ": " + e.getMessage()));
      return result;
    }
    return result
        .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .exceptionallyCompose(
            e ->
                CompletableFuture.failedFuture(
                    e instanceof TimeoutException
                        ? new FarmException.Unavailable(
                            "host " + hostId + " did not answer command " + id + " within " + timeout)
                        : e));
  }

  public void complete(CommandResult result) {
    CompletableFuture<CommandResult> future = pending.get(result.getCommandId());
    if (future != null) {
      future.complete(result);
    }
  }

  /**
   * Hands a progress report to whoever sent the command. Only commands sent on this stream are
   * known here, so an agent cannot report on another host's work.
   */
  public void progressed(CommandProgress progress) {
    Consumer<CommandProgress> listener = progressListeners.get(progress.getCommandId());
    if (listener != null && pending.containsKey(progress.getCommandId())) {
      listener.accept(progress);
    }
  }

  public synchronized void write(ControllerMessage message) {
    out.onNext(message);
  }

  /** Fails every command still waiting; the agent will report their effects when it returns. */
  void close(String why) {
    closed = true;
    FarmException.Unavailable failure =
        new FarmException.Unavailable("agent of host " + hostId + " disconnected: " + why);
    pending.values().forEach(f -> f.completeExceptionally(failure));
    pending.clear();
    progressListeners.clear();
  }

  /** Ends the stream from the controller's side (a newer stream for the host replaced it). */
  synchronized void endStream() {
    try {
      out.onCompleted();
    } catch (IllegalStateException alreadyClosed) {
      // The call was already closed by the agent; nothing left to end.
    }
  }
}

package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.hosts.AgentCommands;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/**
 * The farm's agents as a step's test scripts them, in place of the gRPC streams of real agents:
 * which hosts are connected, whether a host simulates its VMs, the image digests it caches, and
 * for each kind of command what the host answers (by default a plain success). Every command a
 * host is sent is kept, so a test asserts what the host was told.
 */
final class ScriptedAgents implements AgentCommands {
  private final Map<String, ScriptedHost> hosts = new ConcurrentHashMap<>();
  private final AgentRegistry placementView = new AgentRegistry();

  /** The host's agent, connected and answering every command with success until told else. */
  ScriptedHost connect(String hostId) {
    return hosts.computeIfAbsent(hostId, id -> new ScriptedHost(id, placementView));
  }

  @Override
  public Optional<ConnectedAgent> agent(String hostId) {
    ScriptedHost host = hosts.get(hostId);
    return host == null || !host.connected ? Optional.empty() : Optional.of(host);
  }

  /**
   * The connected hosts as placement sees them: placement reads a registry of sessions (their
   * load), so each connected scripted host has a session there whose stream goes nowhere, from
   * its connect to its disconnect. Commands still go through this fake, never those sessions.
   */
  AgentRegistry asRegistryForPlacement() {
    return placementView;
  }

  /** A successful result of the kind of command, as an agent that did the work answers it. */
  static CommandResult ok() {
    return CommandResult.newBuilder().setOk(true).build();
  }

  /** A booted or woken VM: running, with its guest's port forwarded to a host port. */
  static CommandResult running(int guestPort, int hostPort) {
    return CommandResult.newBuilder().setOk(true).setStatus(DomainStatus.newBuilder()
        .setPower(PowerState.POWER_STATE_RUNNING)
        .addPorts(PortForward.newBuilder().setGuestPort(guestPort).setHostPort(hostPort)))
        .build();
  }

  /** A failure of the kind, with the agent's reason. */
  static CommandResult failed(CommandError kind, String reason) {
    return CommandResult.newBuilder().setOk(false).setErrorKind(kind).setError(reason).build();
  }

  /** One host's agent: its answers scripted per kind of command, the commands it was sent. */
  static final class ScriptedHost implements AgentCommands.ConnectedAgent {
    /** What the host does with a command of one kind. */
    private sealed interface Answer permits Answers, Silence, Gone {}

    /** Answers with these results in turn, repeating the last. */
    private record Answers(List<CommandResult> results, List<CommandProgress> progress)
        implements Answer {}

    /** Never answers: the command times out, as a real session's does. */
    private record Silence() implements Answer {}

    /** The agent's stream goes while the command is out. */
    private record Gone(String why) implements Answer {}

    private final String hostId;
    private volatile boolean connected = true;
    private volatile boolean simulatesVms;
    private final Set<String> cached = ConcurrentHashMap.newKeySet();
    private final Map<Command.ActionCase, Answer> answers =
        new EnumMap<>(Command.ActionCase.class);
    private final Map<Command.ActionCase, Integer> answered =
        new EnumMap<>(Command.ActionCase.class);
    private final List<Command> sent = new CopyOnWriteArrayList<>();

    private final AgentRegistry placementView;
    private final AgentSession session;

    private ScriptedHost(String hostId, AgentRegistry placementView) {
      this.hostId = hostId;
      this.placementView = placementView;
      this.session =
          new AgentSession(hostId, "192.0.2.1", "test", null, HostLoad.NONE, Set.of());
      placementView.attach(session);
    }

    /** The host boots no guests (the libvirt test driver): it needs no built image. */
    ScriptedHost simulatingVms() {
      simulatesVms = true;
      return this;
    }

    /** The host caches the image of this digest. */
    ScriptedHost caching(String digest) {
      cached.add(digest);
      return this;
    }

    /** The agent is no longer connected: steps find no agent for the host. */
    ScriptedHost disconnect() {
      connected = false;
      placementView.detach(session, "disconnected by the test");
      return this;
    }

    /** Commands of the kind are answered with these results in turn (the last one repeats). */
    synchronized ScriptedHost answers(Command.ActionCase kind, CommandResult... results) {
      answers.put(kind, new Answers(List.of(results), List.of()));
      answered.remove(kind);
      return this;
    }

    /** As {@link #answers}, with progress reports sent before the result. */
    synchronized ScriptedHost reportsThenAnswers(Command.ActionCase kind,
        List<CommandProgress> progress, CommandResult result) {
      answers.put(kind, new Answers(List.of(result), progress));
      return this;
    }

    /** Commands of the kind get no answer: they fail as timed out. */
    synchronized ScriptedHost neverAnswers(Command.ActionCase kind) {
      answers.put(kind, new Silence());
      return this;
    }

    /** The agent goes while a command of the kind is out. */
    synchronized ScriptedHost goesAwayOn(Command.ActionCase kind) {
      answers.put(kind, new Gone("agent of host " + hostId + " disconnected"));
      return this;
    }

    /** Every command the host was sent, oldest first. */
    List<Command> sent() {
      return List.copyOf(sent);
    }

    /** The kinds of the commands the host was sent, oldest first. */
    List<Command.ActionCase> sentKinds() {
      return sent.stream().map(Command::getActionCase).toList();
    }

    @Override
    public boolean simulatesVms() {
      return simulatesVms;
    }

    @Override
    public Set<String> cachedImages() {
      return Set.copyOf(cached);
    }

    @Override
    public CompletableFuture<CommandResult> send(Command command, Duration timeout,
        Consumer<CommandProgress> progress) {
      sent.add(command);
      Answer answer;
      int turn;
      synchronized (this) {
        answer = answers.getOrDefault(command.getActionCase(), new Answers(List.of(ok()),
            List.of()));
        turn = answered.merge(command.getActionCase(), 1, Integer::sum) - 1;
      }
      if (answer instanceof Silence) {
        return new CompletableFuture<CommandResult>()
            .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
            .exceptionallyCompose(e -> CompletableFuture.failedFuture(
                new FarmException.Unavailable("host " + hostId + " did not answer command "
                    + command.getCommandId() + " within " + timeout)));
      }
      if (answer instanceof Gone gone) {
        return CompletableFuture.failedFuture(new FarmException.Unavailable(gone.why()));
      }
      Answers scripted = (Answers) answer;
      if (progress != null) {
        scripted.progress().forEach(p -> progress.accept(p.toBuilder()
            .setCommandId(command.getCommandId()).setVmId(command.getVmId()).build()));
      }
      CommandResult result = scripted.results().get(
          Math.min(turn, scripted.results().size() - 1));
      return CompletableFuture.completedFuture(result.toBuilder()
          .setCommandId(command.getCommandId()).setVmId(command.getVmId())
          .setGeneration(command.getGeneration()).build());
    }
  }
}

package org.servicefarm.controller.hosts;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;

/**
 * The agents as the steps that drive VMs use them: which host's agent is connected, what it has,
 * and a command sent to it with its result to come. {@link AgentRegistry} is the one the farm
 * runs; a step's unit test answers for the agent with a fake.
 */
public interface AgentCommands {

  /** A host's agent holding its stream now. */
  interface ConnectedAgent {
    /** Whether the host boots no guests (the libvirt test driver): it needs no built images. */
    boolean simulatesVms();

    /** The digests of the images the host caches. */
    Set<String> cachedImages();

    /**
     * Sends the command; the future completes with the agent's result, or fails with
     * {@code FarmException.Unavailable} when the agent goes or does not answer in time.
     *
     * @param progress where the command's progress reports go until its result; null for none
     */
    CompletableFuture<CommandResult> send(Command command, Duration timeout,
        Consumer<CommandProgress> progress);
  }

  /** The host's agent, empty when it holds no stream to this controller. */
  Optional<ConnectedAgent> agent(String hostId);
}

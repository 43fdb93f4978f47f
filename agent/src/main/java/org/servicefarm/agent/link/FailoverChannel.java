package org.servicefarm.agent.link;

import io.grpc.ManagedChannel;
import java.util.List;
import org.servicefarm.agent.images.ControllerChannels;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One channel at a time to one of the controller addresses, for calls made outside the agent's
 * stream (the image store's blob transfers). When a call finds the controller unavailable, the
 * caller reports it and the next call goes to the next address, as the stream's redial does.
 */
public final class FailoverChannel implements ControllerChannels, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FailoverChannel.class);

  private final List<String> targets;
  private final ChannelOpener opener;
  private int index; // guarded by this
  private ManagedChannel channel; // guarded by this; opened on first use
  private boolean closed; // guarded by this

  public FailoverChannel(List<String> targets, ChannelOpener opener) {
    this.targets = List.copyOf(targets);
    if (this.targets.isEmpty()) {
      throw new IllegalArgumentException("at least one controller address is needed");
    }
    this.opener = opener;
  }

  /** The channel to use now. */
  @Override
  public synchronized ManagedChannel current() {
    if (closed) {
      throw new IllegalStateException("the channel to the controller is closed: agent stopping");
    }
    if (channel == null) {
      channel = opener.open(targets.get(index));
    }
    return channel;
  }

  /**
   * Moves on to the next controller address after a call on {@code failed} found its controller
   * unavailable. Calls still running on the old channel may finish.
   */
  @Override
  public synchronized void failover(ManagedChannel failed) {
    if (failed != channel || targets.size() < 2 || closed) {
      return; // someone moved on already, or there is nowhere else to go
    }
    channel.shutdown();
    channel = null;
    String from = targets.get(index);
    index = (index + 1) % targets.size();
    log.info("controller {} is unavailable for blob transfers; using {}", from,
        targets.get(index));
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
  }
}

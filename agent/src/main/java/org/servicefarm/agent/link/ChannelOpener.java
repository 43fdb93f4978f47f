package org.servicefarm.agent.link;

import io.grpc.ManagedChannel;

/** Opens a channel to one controller address; tests pass an in-process variant. */
@FunctionalInterface
public interface ChannelOpener {
  ManagedChannel open(String target);
}

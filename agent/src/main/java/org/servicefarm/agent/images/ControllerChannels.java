package org.servicefarm.agent.images;

import io.grpc.ManagedChannel;

/**
 * The channel to a controller the image store's calls go on, moved to the next controller when a
 * call finds this one unavailable. A port owned here so images need not import the link package
 * that implements it (link.FailoverChannel), which itself depends on images.
 */
public interface ControllerChannels {
  /** The channel to use now. */
  ManagedChannel current();

  /** A call on {@code failed} found its controller unavailable: the next call goes elsewhere. */
  void failover(ManagedChannel failed);
}

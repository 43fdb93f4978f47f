package org.servicefarm.agent;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.LogManager;

/**
 * java.util.logging resets itself from its own shutdown hook, which races the agent's shutdown
 * hook: the lines of the agent's orderly stop (commands finishing, the stream closing) would
 * vanish. This manager holds that reset until the agent says it has stopped. AgentMain installs
 * it through the {@code java.util.logging.manager} system property.
 */
public final class AgentLogManager extends LogManager {

  /** Longest the exit reset waits, so a stuck stop cannot keep the JVM alive for ever. */
  private static final long MAX_HOLD_SECONDS = 60;
  private static final CountDownLatch agentStopped = new CountDownLatch(1);
  private static volatile boolean holdResets;

  /** From now on a reset (the one at JVM exit) waits for {@link #agentStopped()}. */
  static void holdResetsUntilAgentStopped() {
    holdResets = true;
  }

  static void agentStopped() {
    agentStopped.countDown();
  }

  @Override
  public void reset() {
    if (holdResets) {
      try {
        agentStopped.await(MAX_HOLD_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    super.reset();
  }
}

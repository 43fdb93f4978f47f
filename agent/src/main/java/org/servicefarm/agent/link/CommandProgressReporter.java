package org.servicefarm.agent.link;

import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.servicefarm.agent.hypervisor.InstallProgress;
import org.servicefarm.api.v1.CommandProgress;

/**
 * Turns one command's install progress into CommandProgress messages for the controller. Byte
 * counts arrive after every chunk; at most one is sent per {@link #MIN_INTERVAL_NANOS} (a few a
 * second is all a progress bar needs), except the first and the one that completes a blob.
 * "installing" is always sent.
 */
final class CommandProgressReporter implements InstallProgress {
  static final long MIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  private final String commandId;
  private final String vmId;
  private final Consumer<CommandProgress> send;
  private final LongSupplier nanoTime;
  private long lastSentNanos;
  private boolean sentAny;

  CommandProgressReporter(String commandId, String vmId, Consumer<CommandProgress> send,
      LongSupplier nanoTime) {
    this.commandId = commandId;
    this.vmId = vmId;
    this.send = send;
    this.nanoTime = nanoTime;
  }

  @Override
  public synchronized void transferred(long doneBytes, long totalBytes) {
    long now = nanoTime.getAsLong();
    boolean complete = totalBytes > 0 && doneBytes >= totalBytes;
    if (sentAny && !complete && now - lastSentNanos < MIN_INTERVAL_NANOS) {
      return;
    }
    sentAny = true;
    lastSentNanos = now;
    send.accept(message("transferring").setDoneBytes(doneBytes).setTotalBytes(totalBytes).build());
  }

  @Override
  public synchronized void installing() {
    send.accept(message("installing").build());
  }

  private CommandProgress.Builder message(String phase) {
    return CommandProgress.newBuilder().setCommandId(commandId).setVmId(vmId).setPhase(phase);
  }
}

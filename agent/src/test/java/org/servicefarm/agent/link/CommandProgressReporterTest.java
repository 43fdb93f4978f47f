package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.CommandProgress;

/** Progress reaches the controller a few times a second at most, and its end always does. */
class CommandProgressReporterTest {
  private final AtomicLong clock = new AtomicLong();
  private final List<CommandProgress> sent = new ArrayList<>();
  private final CommandProgressReporter reporter =
      new CommandProgressReporter("cmd-1", "vm-1", sent::add, clock::get);

  @Test
  void chunksInQuickSuccessionAreThinnedButTheEndIsSent() {
    for (int chunk = 1; chunk <= 100; chunk++) {
      reporter.transferred(chunk * 1000L, 100_000L);
      clock.addAndGet(CommandProgressReporter.MIN_INTERVAL_NANOS / 10);
    }
    // 100 chunks over ten intervals: one an interval (the first at once), and the last.
    assertEquals(11, sent.size(), sent.toString());
    CommandProgress last = sent.get(sent.size() - 1);
    assertEquals(100_000L, last.getDoneBytes());
    assertEquals("transferring", last.getPhase());
    assertEquals("cmd-1", last.getCommandId());
  }

  @Test
  void installingIsAlwaysSent() {
    reporter.transferred(10, 100);
    reporter.installing();
    assertEquals(List.of("transferring", "installing"),
        sent.stream().map(CommandProgress::getPhase).toList());
  }
}

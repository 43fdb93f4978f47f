package org.servicefarm.controller.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.LoadReport;

class ReportIngestTest {

  private static LoadReport report(int vmCount) {
    return LoadReport.newBuilder().setLoad(HostLoad.newBuilder().setVmCount(vmCount)).build();
  }

  @Test
  void reportsThatWaitAreReplacedByTheNewestAndOneHostsRunOneAtATime() throws Exception {
    ReportIngest ingest = new ReportIngest(4);
    CountDownLatch firstStarted = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    CountDownLatch lastDone = new CountDownLatch(1);
    List<Integer> applied = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicInteger running = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger mostAtOnce = new java.util.concurrent.atomic.AtomicInteger();
    java.util.function.Consumer<LoadReport> handler = r -> {
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      int n = r.getLoad().getVmCount();
      if (n == 1) {
        firstStarted.countDown();
        await(releaseFirst);
      }
      applied.add(n);
      running.decrementAndGet();
      if (n == 9) {
        lastDone.countDown();
      }
    };
    ingest.submit("h1", report(1), handler);
    assertTrue(firstStarted.await(5, TimeUnit.SECONDS));
    for (int n = 2; n <= 9; n++) {
      ingest.submit("h1", report(n), handler); // arrive while the first is still applied
    }
    releaseFirst.countDown();
    assertTrue(lastDone.await(5, TimeUnit.SECONDS));
    assertEquals(List.of(1, 9), applied, "only the newest waiting report is applied");
    assertEquals(1, mostAtOnce.get(), "one host's reports never run at the same time");
  }

  @Test
  void aReportThatFailsDoesNotStopTheHostsNextOnes() throws Exception {
    ReportIngest ingest = new ReportIngest(2);
    CountDownLatch second = new CountDownLatch(1);
    CountDownLatch firstRan = new CountDownLatch(1);
    // One handler, as a stream has: the worker that failed on the first report may still be the
    // one that takes the second (logging the failure can outlast any fixed pause).
    java.util.function.Consumer<LoadReport> handler = r -> {
      if (r.equals(report(1))) {
        firstRan.countDown();
        throw new IllegalStateException("a bad report");
      }
      second.countDown();
    };
    ingest.submit("h1", report(1), handler);
    assertTrue(firstRan.await(5, TimeUnit.SECONDS));
    ingest.submit("h1", report(2), handler);
    assertTrue(second.await(5, TimeUnit.SECONDS), "the host's later report was applied");
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class VmSerialExecutorTest {

  @Test
  void commandsForOneVmRunOneAtATimeInOrder() throws Exception {
    try (var executor = new VmSerialExecutor(4)) {
      AtomicInteger running = new AtomicInteger();
      AtomicInteger mostAtOnce = new AtomicInteger();
      List<Integer> order = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> last = null;
      for (int i = 0; i < 20; i++) {
        int index = i;
        last = executor.submit("vm-1", () -> {
          mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
          sleep(2);
          order.add(index);
          running.decrementAndGet();
        });
      }
      last.get(10, TimeUnit.SECONDS);
      assertEquals(1, mostAtOnce.get(), "two commands of one VM overlapped");
      assertEquals(java.util.stream.IntStream.range(0, 20).boxed().toList(), order);
    }
  }

  @Test
  void differentVmsProceedInParallel() throws Exception {
    try (var executor = new VmSerialExecutor(4)) {
      CountDownLatch bothStarted = new CountDownLatch(2);
      Runnable waitForTheOther = () -> {
        bothStarted.countDown();
        await(bothStarted);
      };
      var a = executor.submit("vm-a", waitForTheOther);
      var b = executor.submit("vm-b", waitForTheOther);
      CompletableFuture.allOf(a, b).get(10, TimeUnit.SECONDS);
      assertEquals(0, bothStarted.getCount());
    }
  }

  @Test
  void aFailedCommandDoesNotBlockTheVmsNextOne() throws Exception {
    try (var executor = new VmSerialExecutor(2)) {
      executor.submit("vm-1", () -> {
        throw new IllegalStateException("boom");
      });
      CountDownLatch ran = new CountDownLatch(1);
      executor.submit("vm-1", ran::countDown);
      assertTrue(ran.await(10, TimeUnit.SECONDS), "the VM's queue stalled after a failure");
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(5, TimeUnit.SECONDS)) {
        throw new AssertionError("the other VM's command never started alongside");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

package org.servicefarm.controller.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.db.EventRepository.Event;

/** One watch: stored events first, then live ones, only while the caller can take them. */
class EventWatchTest {
  private static final UUID VM = UUID.randomUUID();

  private static Event event(long id, UUID vm) {
    return new Event(id, Instant.EPOCH, "VM_STATE", vm, "h1", "web", "A", "B", "test");
  }

  /** A call whose readiness the test sets; records what was sent and how it ended. */
  private static final class FakeCallForTest extends ServerCallStreamObserver<Long> {
    final List<Long> sent = new ArrayList<>();
    boolean ready = true;
    Status endedWith;
    Runnable onReady = () -> { };

    @Override public boolean isReady() {
      return ready;
    }

    @Override public boolean isCancelled() {
      return false;
    }

    @Override public void setOnReadyHandler(Runnable handler) {
      onReady = handler;
    }

    @Override public void setOnCancelHandler(Runnable handler) {}

    @Override public void setCompression(String compression) {}

    @Override public void disableAutoInboundFlowControl() {}

    @Override public void request(int count) {}

    @Override public void setMessageCompression(boolean enable) {}

    @Override public void onNext(Long id) {
      sent.add(id);
    }

    @Override public void onError(Throwable t) {
      endedWith = Status.fromThrowable(t);
    }

    @Override public void onCompleted() {
      endedWith = Status.OK;
    }

    void becomeReady() {
      ready = true;
      onReady.run();
    }
  }

  private static EventWatch<Long> watch(FakeCallForTest call, long afterId, long feedPosition,
      List<Event> stored) {
    EventFilter vmOnly = new EventFilter(VM, null, null, null);
    return new EventWatch<>(vmOnly, afterId, feedPosition, call, Event::id,
        (after, upTo, limit) -> stored.stream()
            .filter(e -> e.id() > after && e.id() <= upTo).limit(limit).toList(),
        Runnable::run, () -> { }, StatusMapper::toStatus);
  }

  @Test
  void storedEventsComeFirstThenLiveOnesEachOnceAndFiltered() {
    FakeCallForTest call = new FakeCallForTest();
    EventWatch<Long> watch = watch(call, 2, 5, List.of(event(3, VM), event(5, VM)));
    watch.pump();
    watch.offer(event(5, VM)); // at the feed's position: already replayed
    watch.offer(event(6, UUID.randomUUID())); // another VM
    watch.offer(event(7, VM));
    assertEquals(List.of(3L, 5L, 7L), call.sent);
  }

  @Test
  void aCallThatIsNotReadyQueuesWithoutBlockingTheFeedAndCatchesUpWhenReady() {
    FakeCallForTest call = new FakeCallForTest();
    EventWatch<Long> watch = watch(call, 0, 10, List.of());
    call.ready = false;
    for (long id = 11; id <= 20; id++) {
      watch.offer(event(id, VM)); // returns at once although nothing can be sent
    }
    assertTrue(call.sent.isEmpty());
    call.becomeReady();
    assertEquals(10, call.sent.size());
    assertEquals(20L, call.sent.get(9));
  }

  @Test
  void aWatchThatFallsTooFarBehindEndsSayingHowToResume() {
    FakeCallForTest call = new FakeCallForTest();
    EventWatch<Long> watch = watch(call, 0, 0, List.of());
    call.ready = false;
    for (long id = 1; id <= EventWatch.MAX_QUEUED + 1; id++) {
      watch.offer(event(id, VM));
    }
    call.becomeReady();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, call.endedWith.getCode());
    assertTrue(call.endedWith.getDescription().contains("after_id"));
  }
}

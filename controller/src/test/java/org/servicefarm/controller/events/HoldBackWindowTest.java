package org.servicefarm.controller.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.EventRepository.Event;

/** Events leave the window in id order, each once, and a gap holds back only for the grace. */
class HoldBackWindowTest {
  private static final long SECOND = Duration.ofSeconds(1).toNanos();

  private static Event event(long id) {
    return new Event(id, Instant.EPOCH, "VM_STATE", null, null, null, null, null, "test");
  }

  private static List<Long> ids(List<Event> events) {
    return events.stream().map(Event::id).toList();
  }

  @Test
  void contiguousEventsGoOutAtOnceInIdOrder() {
    HoldBackWindow window = new HoldBackWindow(10, Duration.ofSeconds(2));
    assertEquals(List.of(11L, 12L, 13L),
        ids(window.accept(List.of(event(12), event(11), event(13)), 0)));
    assertEquals(13, window.delivered());
  }

  @Test
  void anEventAfterAGapWaitsUntilTheGapFills() {
    HoldBackWindow window = new HoldBackWindow(10, Duration.ofSeconds(2));
    // Id 12 committed before 11: 12 waits.
    assertEquals(List.of(), ids(window.accept(List.of(event(12)), 0)));
    assertEquals(1, window.heldBack());
    // The poll after 11 commits sees both (12 again): each goes out once, in order.
    assertEquals(List.of(11L, 12L), ids(window.accept(List.of(event(11), event(12)), SECOND)));
    assertEquals(List.of(), ids(window.accept(List.of(event(12)), 2 * SECOND)));
  }

  @Test
  void aGapThatNeverFillsIsGivenUpAfterTheGrace() {
    HoldBackWindow window = new HoldBackWindow(10, Duration.ofSeconds(2));
    window.accept(List.of(event(12), event(13)), 0);
    assertEquals(List.of(), ids(window.accept(List.of(), SECOND)));
    // Id 11 was rolled back: after the grace 12 and 13 go out and 11 is passed.
    assertEquals(List.of(12L, 13L), ids(window.accept(List.of(), 2 * SECOND)));
    assertEquals(13, window.delivered());
    // Should 11 turn up after all, it is too late for the stream: never out of order.
    assertEquals(List.of(), ids(window.accept(List.of(event(11)), 3 * SECOND)));
  }

  @Test
  void eachGapGetsItsOwnGraceFromWhenItsEventWasSeen() {
    HoldBackWindow window = new HoldBackWindow(0, Duration.ofSeconds(2));
    window.accept(List.of(event(2)), 0);
    window.accept(List.of(event(2), event(4)), SECOND);
    // 2 waited out its grace; 4 was seen a second later and still waits for 3.
    assertEquals(List.of(2L), ids(window.accept(List.of(), 2 * SECOND)));
    assertEquals(List.of(3L, 4L), ids(window.accept(List.of(event(3), event(4)), 2 * SECOND)));
  }
}

package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The window of writes a restore from an older archive loses, as the event words it. */
class DiskLossTest {

  @ParameterizedTest(name = "{0} s reads \"{1}\"")
  @CsvSource({
      "0, 0 s",
      "12, 12 s",
      "245, 4 min 5 s",
      "11520, 3 h 12 min",
      "97200, 1 d 3 h",
      "-5, 0 s",
  })
  void theLostWindowIsWordedInTheUnitsAPersonReads(long seconds, String worded) {
    assertEquals(worded, DiskLoss.window(Duration.ofSeconds(seconds)));
  }
}

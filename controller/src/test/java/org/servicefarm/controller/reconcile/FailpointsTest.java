package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import org.junit.jupiter.api.Test;

class FailpointsTest {

  @Test
  void armedPointsAreACommaListWithBlanksIgnored() {
    assertEquals(Set.of("provision.decided", "provision.booted"),
        Failpoints.parse(" provision.decided,,provision.booted "));
  }

  @Test
  void noVariableArmsNothing() {
    assertEquals(Set.of(), Failpoints.parse(null));
    assertEquals(Set.of(), Failpoints.parse("  "));
  }

  @Test
  void withNothingArmedAHitReturns() {
    Failpoints.hit("provision.decided"); // the test JVM runs without SERVICEFARM_FAILPOINT
  }
}

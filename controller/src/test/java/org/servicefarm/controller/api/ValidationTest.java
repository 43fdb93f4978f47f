package org.servicefarm.controller.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.FarmException;

class ValidationTest {

  @Test
  void badServiceNameIsRefusedNamingFieldAndValue() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.serviceName("service", "Static Web!"));
    assertTrue(e.getMessage().startsWith("service: 'Static Web!' is not valid"), e.getMessage());
  }

  @Test
  void hugeValuesAreShownBoundedAndControlCharactersEscaped() {
    String huge = "a\u0001" + "x".repeat(10_000);
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.serviceName("service", huge));
    assertTrue(e.getMessage().length() < 300, "message is " + e.getMessage().length() + " chars");
    assertTrue(e.getMessage().contains("a\\x01x"), e.getMessage());
    assertTrue(e.getMessage().contains("10002 characters"), e.getMessage());
  }

  @Test
  void vmIdMustBeAUuid() {
    assertThrows(FarmException.InvalidInput.class, () -> Validation.vmId("42"));
    assertEquals("123e4567-e89b-12d3-a456-426614174000",
        Validation.vmId("123e4567-e89b-12d3-a456-426614174000").toString());
  }

  @Test
  void tooManyPackagesAreRefused() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.packages(Collections.nCopies(300, "busybox")));
    assertTrue(e.getMessage().contains("300 packages"), e.getMessage());
  }

  @Test
  void emptyIdempotencyKeyMeansNone() {
    assertEquals(null, Validation.idempotencyKey(""));
    assertThrows(FarmException.InvalidInput.class, () -> Validation.idempotencyKey("a\nb"));
  }
}

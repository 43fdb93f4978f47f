package org.servicefarm.controller.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.model.FarmException;

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

  @Test
  void aCommandWithANulOrNewlineIsRefusedBeforeTheDatabaseSeesIt() {
    FarmException nul = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.command("definition.command", "httpd\u0000-f"));
    assertTrue(nul.getMessage().contains("definition.command: 'httpd\\x00-f' holds control"),
        nul.getMessage());
    assertThrows(FarmException.InvalidInput.class,
        () -> Validation.command("definition.command", "a\nreboot"));
    assertEquals("httpd -f\t-p 80", Validation.command("definition.command", "httpd -f\t-p 80"));
  }

  @Test
  void anOverlongCommandIsRefusedWithItsLength() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.command("definition.command", "x".repeat(5000)));
    assertTrue(e.getMessage().contains("5000 characters, at most 4096"), e.getMessage());
  }

  @Test
  void tooManyBundledServicesAreRefused() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.bundled(Collections.nCopies(33, "extra")));
    assertTrue(e.getMessage().contains("definition.bundled: 33 services given, at most 32"),
        e.getMessage());
  }

  @Test
  void leaseTtlOutOfRangeNamesFieldAndValue() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.leaseTtl("lease_ttl_seconds", -5, 60, 3600));
    assertTrue(e.getMessage().startsWith("lease_ttl_seconds: -5 seconds is out of range"),
        e.getMessage());
    assertEquals(60, Validation.leaseTtl("lease_ttl_seconds", 0, 60, 3600));
  }

  @Test
  void sqlQuotesInANameAreRefusedAsText() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> Validation.serviceName("service", "'; DROP TABLE vms;--"));
    assertTrue(e.getMessage().contains("'; DROP TABLE vms;--"), e.getMessage());
  }
}

package org.servicefarm.controller.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.servicefarm.controller.model.FarmException;

class ApiTokensTest {

  @Test
  void aNewTokenIsSfAnd32RandomBytesInBase64url() {
    String token = ApiTokens.generate();
    assertTrue(token.matches("sf_[A-Za-z0-9_-]{43}"), token.length() + " characters");
    assertTrue(ApiTokens.wellFormed(token));
    assertNotEquals(token, ApiTokens.generate(), "two tokens differ");
  }

  @Test
  void malformedTokensAreRecognized() {
    assertFalse(ApiTokens.wellFormed(null));
    assertFalse(ApiTokens.wellFormed("sf_short"));
    assertFalse(ApiTokens.wellFormed("xx_" + "A".repeat(43)));
    assertFalse(ApiTokens.wellFormed("sf_" + "A".repeat(42) + "="));
  }

  @Test
  void theHashIsSha256HexAndDoesNotContainTheToken() {
    String token = ApiTokens.generate();
    String hash = ApiTokens.hash(token);
    assertTrue(hash.matches("[0-9a-f]{64}"), hash);
    assertEquals(hash, ApiTokens.hash(token));
    assertFalse(hash.contains(token.substring(3)));
    // sha256("abc"), the FIPS 180-2 test vector.
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ApiTokens.hash("abc"));
  }

  @Test
  void hashesCompareEqualOnlyWhenEqual() {
    String a = ApiTokens.hash(ApiTokens.generate());
    String b = ApiTokens.hash(ApiTokens.generate());
    assertTrue(ApiTokens.sameHash(a, new String(a.toCharArray())));
    assertFalse(ApiTokens.sameHash(a, b));
    assertFalse(ApiTokens.sameHash(a, a.substring(0, 63)), "a prefix is not equal");
  }

  @Test
  void namesFollowTheTablesRule() {
    assertEquals("ci-runner.1", ApiTokens.validName("ci-runner.1"));
    FarmException.InvalidInput e = assertThrows(FarmException.InvalidInput.class,
        () -> ApiTokens.validName("Bad Name"));
    assertTrue(e.getMessage().contains("'Bad Name'"), e.getMessage());
    assertThrows(FarmException.InvalidInput.class, () -> ApiTokens.validName("-x"));
    assertThrows(FarmException.InvalidInput.class, () -> ApiTokens.validName("x".repeat(64)));
  }
}

package org.servicefarm.controller.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;

/**
 * The shape of bearer tokens: {@code sf_} and 32 random bytes in base64url (43 characters). Only
 * the sha256 of a token is stored; hashes are compared in constant time so the time a check takes
 * says nothing about how much of a guess was right.
 */
public final class ApiTokens {
  public static final String PREFIX = "sf_";
  private static final int SECRET_BYTES = 32;
  private static final Pattern FORMAT = Pattern.compile("sf_[A-Za-z0-9_-]{43}");
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  private static final SecureRandom RANDOM = new SecureRandom();

  private ApiTokens() {}

  /** A fresh token; the caller shows it once and keeps only {@link #hash}. */
  public static String generate() {
    byte[] secret = new byte[SECRET_BYTES];
    RANDOM.nextBytes(secret);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
  }

  /** True when the text has the shape of a token this farm issues. */
  public static boolean wellFormed(String token) {
    return token != null && FORMAT.matcher(token).matches();
  }

  /** The sha256 of the token, in lower-case hex, as stored in {@code api_tokens.token_hash}. */
  public static String hash(String token) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256")
          .digest(token.getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  /** Compares two hashes in time that depends only on their length. */
  public static boolean sameHash(String a, String b) {
    return MessageDigest.isEqual(
        a.getBytes(StandardCharsets.US_ASCII), b.getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Checks a token's name: 1 to 63 of lower-case letters, digits, '.', '_' and '-', starting with a
   * letter or digit (the same rule as the table's CHECK).
   *
   * @throws FarmException.InvalidInput naming the value
   */
  public static String validName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new FarmException.InvalidInput("token name '"
          + (name == null ? "null" : FarmException.shown(name)) + "' must be 1 to 63 of a-z, 0-9,"
          + " '.', '_' and '-', starting with a letter or digit");
    }
    return name;
  }
}

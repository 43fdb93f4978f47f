package org.servicefarm.controller.images;

import java.security.MessageDigest;
import java.util.Random;

/** Deterministic test content and its digest. */
public final class TestBytes {
  private TestBytes() {}

  public static byte[] random(int length, long seed) {
    byte[] bytes = new byte[length];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  public static String sha256(byte[] bytes) {
    MessageDigest digest = Sha256.newDigest();
    digest.update(bytes);
    return Sha256.hex(digest);
  }
}

package org.servicefarm.controller.images;

import java.security.MessageDigest;
import java.util.Random;

/** Deterministic test content and its digest. */
final class TestBytes {
  private TestBytes() {}

  static byte[] random(int length, long seed) {
    byte[] bytes = new byte[length];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  static String sha256(byte[] bytes) {
    MessageDigest digest = Sha256.newDigest();
    digest.update(bytes);
    return Sha256.hex(digest);
  }
}

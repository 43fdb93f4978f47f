package org.servicefarm.agent.images;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The signed manifests whose signature this agent has verified, so that the next command naming
 * the same image (every VM of a definition's image carries the same manifest) is not verified
 * again: an Ed25519 verification costs about a millisecond of CPU in Java. A manifest is
 * remembered by the SHA-256 of its key id, bytes and signature together, so only the very same
 * signed bytes match. Sound because trusted keys are only ever added: a signature that verified
 * with a key keeps verifying. Bounded: the least recently used are forgotten past
 * {@link #CAPACITY}.
 */
final class VerifiedSignatures {
  static final int CAPACITY = 1024;

  private final Map<String, Boolean> seen = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > CAPACITY;
    }
  };

  /** Whether exactly these signed bytes verified before. */
  synchronized boolean verifiedBefore(String keyId, byte[] manifest, byte[] signature) {
    return seen.get(digest(keyId, manifest, signature)) != null;
  }

  /** Remembers that these signed bytes verified. */
  synchronized void verified(String keyId, byte[] manifest, byte[] signature) {
    seen.put(digest(keyId, manifest, signature), Boolean.TRUE);
  }

  synchronized int size() {
    return seen.size();
  }

  private static String digest(String keyId, byte[] manifest, byte[] signature) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      // Lengths first, so no two different triples hash the same bytes.
      sha.update(java.nio.ByteBuffer.allocate(12).putInt(keyId.length())
          .putInt(manifest.length).putInt(signature.length).array());
      sha.update(keyId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      sha.update(manifest);
      sha.update(signature);
      return java.util.HexFormat.of().formatHex(sha.digest());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime must provide SHA-256", e);
    }
  }
}

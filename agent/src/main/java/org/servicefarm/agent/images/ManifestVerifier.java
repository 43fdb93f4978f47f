package org.servicefarm.agent.images;

import com.google.protobuf.InvalidProtocolBufferException;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.ImageManifest;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.ManifestKey;
import org.servicefarm.api.v1.SignedManifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks, before an install or a restore touches anything, that the image or archive a command
 * names is the one a farm key signed: the manifest's Ed25519 signature verifies with a key the
 * controller told this agent at registration (keys are only ever added, so a manifest signed by
 * the key before a rotation stays valid), and every digest, size and the kernel command line the
 * command carries equal the manifest's. The digests then bind the bytes: the cache checks each
 * blob against them.
 *
 * <p>An agent told no keys (a controller of the release before signed manifests) takes commands
 * without manifests, and says so once in its log.
 */
public final class ManifestVerifier {
  private static final Logger log = LoggerFactory.getLogger(ManifestVerifier.class);
  private static final String ALGORITHM = "Ed25519";

  private final Map<String, PublicKey> trusted = new ConcurrentHashMap<>();
  private final boolean pinned;
  /** Signed manifests verified already: the same bytes are not verified twice. */
  private final VerifiedSignatures alreadyVerified = new VerifiedSignatures();
  private volatile boolean warnedUnsigned;

  /** A verifier that trusts the keys the controller tells it at registration. */
  public ManifestVerifier() {
    this.pinned = false;
  }

  private ManifestVerifier(boolean pinned) {
    this.pinned = pinned;
  }

  /**
   * A verifier that trusts only the given public keys (X.509 DER, as a controller keeps them in
   * {@code <data-dir>/manifest-keys/<key-id>.pub}), whatever a controller says: the farm's
   * database is then no part of what decides which keys sign images.
   *
   * @throws IllegalArgumentException naming the key that is not an Ed25519 public key
   */
  public static ManifestVerifier pinnedTo(List<byte[]> publicKeys) {
    ManifestVerifier verifier = new ManifestVerifier(true);
    for (byte[] encoded : publicKeys) {
      String id = keyId(encoded);
      try {
        verifier.trusted.put(id, KeyFactory.getInstance(ALGORITHM)
            .generatePublic(new X509EncodedKeySpec(encoded)));
      } catch (GeneralSecurityException e) {
        throw new IllegalArgumentException("manifest key " + id + " is not an " + ALGORITHM
            + " public key (X.509 DER): " + e.getMessage(), e);
      }
    }
    if (verifier.trusted.isEmpty()) {
      throw new IllegalArgumentException("no manifest key given to pin");
    }
    return verifier;
  }

  /**
   * Trusts the keys a controller published (in addition to those trusted already); a malformed
   * key is skipped, and a pinned verifier trusts none but its own.
   */
  public void trust(List<ManifestKey> keys) {
    if (pinned) {
      List<String> offered = keys.stream().map(ManifestKey::getKeyId)
          .filter(id -> !trusted.containsKey(id)).toList();
      if (!offered.isEmpty()) {
        log.info("the controller offers manifest keys {}, which are not pinned here; images they"
            + " sign are refused", offered);
      }
      return;
    }
    for (ManifestKey key : keys) {
      byte[] encoded = key.getPublicKey().toByteArray();
      if (!keyId(encoded).equals(key.getKeyId())) {
        log.warn("manifest key {} is not the key its id names; not trusted", key.getKeyId());
        continue;
      }
      try {
        trusted.putIfAbsent(key.getKeyId(), KeyFactory.getInstance(ALGORITHM)
            .generatePublic(new X509EncodedKeySpec(encoded)));
      } catch (GeneralSecurityException e) {
        log.warn("manifest key {} is not an {} public key; not trusted: {}", key.getKeyId(),
            ALGORITHM, e.toString());
      }
    }
  }

  /** Ids of the keys trusted now. */
  public List<String> trustedKeyIds() {
    return trusted.keySet().stream().sorted().toList();
  }

  /**
   * @throws ImageException naming the image and what failed: no manifest, an unknown key, a
   *     signature that does not verify, or a field the command and the manifest disagree on
   */
  public void verifyImage(ImageRef image) throws ImageException {
    String name = "image " + (image.getName().isEmpty() ? image.getImageId() : image.getName());
    if (!image.hasManifest()) {
      requireUnsignedAllowed(name);
      return;
    }
    ImageManifest manifest;
    try {
      manifest = ImageManifest.parseFrom(verified(image.getManifest(), name));
    } catch (InvalidProtocolBufferException e) {
      throw new ImageException(name + " is refused: its signed manifest does not parse", e);
    }
    List<String> differences = new ArrayList<>();
    compare(differences, "image id", image.getImageId(), manifest.getImageId());
    compare(differences, "name", image.getName(), manifest.getName());
    compare(differences, "disk sha256", image.getSha256(), manifest.getDiskSha256());
    compare(differences, "disk size", image.getSizeBytes(), manifest.getDiskSizeBytes());
    compare(differences, "format", image.getFormat(), manifest.getFormat());
    compare(differences, "base layer sha256", image.getBaseLayerSha256(),
        manifest.getBaseLayerSha256());
    compare(differences, "base layer size", image.getBaseLayerSizeBytes(),
        manifest.getBaseLayerSizeBytes());
    compare(differences, "kernel sha256", image.getKernelSha256(), manifest.getKernelSha256());
    compare(differences, "initrd sha256", image.getInitrdSha256(), manifest.getInitrdSha256());
    compare(differences, "kernel command line", image.getKernelCmdline(),
        manifest.getKernelCmdline());
    if (!differences.isEmpty()) {
      throw new ImageException(name + " is refused: the command differs from its signed"
          + " manifest: " + String.join("; ", differences));
    }
  }

  /**
   * @throws ImageException naming the archive and what failed, as for images; the manifest must
   *     name this VM and this archive's digest
   */
  public void verifyArchive(String vmId, String archiveRef, SignedManifest signed)
      throws ImageException {
    String name = "archive " + archiveRef + " of vm " + vmId;
    if (signed.getManifest().isEmpty() && signed.getKeyId().isEmpty()) {
      requireUnsignedAllowed(name);
      return;
    }
    ArchiveManifest manifest;
    try {
      manifest = ArchiveManifest.parseFrom(verified(signed, name));
    } catch (InvalidProtocolBufferException e) {
      throw new ImageException(name + " is refused: its signed manifest does not parse", e);
    }
    List<String> differences = new ArrayList<>();
    compare(differences, "vm id", vmId, manifest.getVmId());
    compare(differences, "archive", archiveRef,
        BlobDigest.ARCHIVE_REF_PREFIX + manifest.getArchiveSha256());
    if (!differences.isEmpty()) {
      throw new ImageException(name + " is refused: the command differs from its signed"
          + " manifest: " + String.join("; ", differences));
    }
  }

  /** The manifest's bytes, once its signature verifies with a trusted key. */
  private byte[] verified(SignedManifest signed, String name) throws ImageException {
    PublicKey key = trusted.get(signed.getKeyId());
    if (key == null) {
      throw new ImageException(name + " is refused: its manifest is signed by key '"
          + signed.getKeyId() + "', which this host does not trust (trusted: "
          + trustedKeyIds() + ")");
    }
    byte[] bytes = signed.getManifest().toByteArray();
    byte[] signature = signed.getSignature().toByteArray();
    if (alreadyVerified.verifiedBefore(signed.getKeyId(), bytes, signature)) {
      return bytes;
    }
    boolean valid;
    try {
      Signature verifier = Signature.getInstance(ALGORITHM);
      verifier.initVerify(key);
      verifier.update(bytes);
      valid = verifier.verify(signature);
    } catch (SignatureException | InvalidKeyException e) {
      valid = false;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Java 17 provides " + ALGORITHM, e);
    }
    if (!valid) {
      throw new ImageException(name + " is refused: its manifest's signature does not verify"
          + " with key " + signed.getKeyId() + " (the manifest or its signature was altered)");
    }
    alreadyVerified.verified(signed.getKeyId(), bytes, signature);
    return bytes;
  }

  private void requireUnsignedAllowed(String name) throws ImageException {
    if (!trusted.isEmpty()) {
      throw new ImageException(name + " is refused: the command carries no signed manifest,"
          + " and this host boots only what a farm key (" + trustedKeyIds() + ") signed");
    }
    if (!warnedUnsigned) {
      warnedUnsigned = true;
      log.warn("the controller signs no manifests (it told this agent no keys): {} and what"
          + " follows are taken on their digests alone", name);
    }
  }

  private static void compare(List<String> differences, String field, Object command,
      Object manifest) {
    if (!Objects.equals(command, manifest)) {
      differences.add(field + " '" + command + "' where the manifest says '" + manifest + "'");
    }
  }

  static String keyId(byte[] publicKeyEncoding) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(publicKeyEncoding)).substring(0, 16);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime must provide SHA-256", e);
    }
  }
}

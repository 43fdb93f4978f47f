package org.servicefarm.controller.images.manifests;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.X509EncodedKeySpec;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.ImageManifest;
import org.servicefarm.api.v1.SignedManifest;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Manifests and their Ed25519 signatures. A manifest is a protobuf message serialised
 * deterministically once, when it is signed; those bytes are stored and sent as they are, so a
 * verifier checks the signature over exactly what was signed and never re-encodes anything.
 */
public final class ManifestSignatures {

  private ManifestSignatures() {}

  /** What an image boots from, as its row says. */
  public static ImageManifest manifestOf(ImageRecord image) {
    return ImageManifest.newBuilder()
        .setImageId(image.id().toString())
        .setName(image.name())
        .setDiskSha256(orEmpty(image.sha256()))
        .setDiskSizeBytes(image.sizeBytes())
        .setFormat(image.format())
        .setBaseLayerSha256(orEmpty(image.baseLayerSha256()))
        .setBaseLayerSizeBytes(image.baseLayerSizeBytes())
        .setKernelSha256(orEmpty(image.kernelSha256()))
        .setInitrdSha256(orEmpty(image.initrdSha256()))
        .setKernelCmdline(orEmpty(image.kernelCmdline()))
        .build();
  }

  /** An archived disk: the VM it belongs to and the digest of its bytes. */
  public static ArchiveManifest archiveManifest(String vmId, String archiveSha256) {
    return ArchiveManifest.newBuilder().setVmId(vmId).setArchiveSha256(archiveSha256).build();
  }

  /** Deterministic bytes of a manifest, the ones that are signed. */
  public static byte[] encode(Message manifest) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      manifest.writeTo(out);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory failed", e);
    }
  }

  /** Signs {@code manifest} (the bytes of {@link #encode}) with {@code key}. */
  public static SignedManifest sign(byte[] manifest, ManifestKeyring.SigningKey key) {
    try {
      Signature signer = Signature.getInstance(ManifestKeyring.ALGORITHM);
      signer.initSign(key.privateKey());
      signer.update(manifest);
      return SignedManifest.newBuilder()
          .setManifest(ByteString.copyFrom(manifest))
          .setSignature(ByteString.copyFrom(signer.sign()))
          .setKeyId(key.keyId())
          .build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("signing with " + ManifestKeyring.ALGORITHM + " key "
          + key.keyId() + " failed", e);
    }
  }

  /** Whether {@code signed}'s signature is {@code key}'s over its manifest bytes. */
  public static boolean verifies(SignedManifest signed, PublicKey key) {
    try {
      Signature verifier = Signature.getInstance(ManifestKeyring.ALGORITHM);
      verifier.initVerify(key);
      verifier.update(signed.getManifest().toByteArray());
      return verifier.verify(signed.getSignature().toByteArray());
    } catch (SignatureException | InvalidKeyException e) {
      return false; // a malformed signature or key does not verify: the caller says which
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Java 17 provides " + ManifestKeyring.ALGORITHM, e);
    }
  }

  /** A public key from its X.509 encoding. */
  public static PublicKey publicKey(byte[] encoded) throws GeneralSecurityException {
    return KeyFactory.getInstance(ManifestKeyring.ALGORITHM)
        .generatePublic(new X509EncodedKeySpec(encoded));
  }

  private static String orEmpty(String value) {
    return value == null ? "" : value;
  }
}

package org.servicefarm.agent.images;

import com.google.protobuf.ByteString;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import org.servicefarm.api.v1.ImageManifest;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.ManifestKey;
import org.servicefarm.api.v1.SignedManifest;

/** Ed25519 signing keys and signed manifests, as the controller makes them, for agent tests. */
public final class ManifestsForTest {

  /** A key pair and its id. */
  public record Key(KeyPair pair, String id) {
    public ManifestKey published() {
      return ManifestKey.newBuilder().setKeyId(id)
          .setPublicKey(ByteString.copyFrom(pair.getPublic().getEncoded())).build();
    }
  }

  private ManifestsForTest() {}

  public static Key newKey() throws GeneralSecurityException {
    KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    return new Key(pair, ManifestVerifier.keyId(pair.getPublic().getEncoded()));
  }

  public static SignedManifest sign(byte[] manifest, Key key) throws GeneralSecurityException {
    Signature signer = Signature.getInstance("Ed25519");
    signer.initSign(key.pair().getPrivate());
    signer.update(manifest);
    return SignedManifest.newBuilder().setManifest(ByteString.copyFrom(manifest))
        .setSignature(ByteString.copyFrom(signer.sign())).setKeyId(key.id()).build();
  }

  /** The manifest of exactly what {@code image} says. */
  public static ImageManifest manifestOf(ImageRef image) {
    return ImageManifest.newBuilder().setImageId(image.getImageId()).setName(image.getName())
        .setDiskSha256(image.getSha256()).setDiskSizeBytes(image.getSizeBytes())
        .setFormat(image.getFormat()).setBaseLayerSha256(image.getBaseLayerSha256())
        .setBaseLayerSizeBytes(image.getBaseLayerSizeBytes())
        .setKernelSha256(image.getKernelSha256()).setInitrdSha256(image.getInitrdSha256())
        .setKernelCmdline(image.getKernelCmdline()).build();
  }

  /** {@code image} carrying its manifest, signed by {@code key}. */
  public static ImageRef signed(ImageRef image, Key key) throws GeneralSecurityException {
    return image.toBuilder().setManifest(sign(manifestOf(image).toByteArray(), key)).build();
  }
}

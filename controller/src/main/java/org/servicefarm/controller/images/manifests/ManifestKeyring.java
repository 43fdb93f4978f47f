package org.servicefarm.controller.images.manifests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.servicefarm.controller.images.PrivatePaths;

/**
 * The controller's manifest-signing keys: Ed25519 key pairs in {@code <data-dir>/manifest-keys/},
 * one {@code <key-id>.key} (PKCS#8 DER) and {@code <key-id>.pub} (X.509 DER) each, readable by the
 * controller's user only, and a file {@code current} naming the key new manifests are signed
 * with. The first start makes one; {@link #rotate} makes another and makes it current, keeping
 * the old ones so manifests they signed stay verifiable until re-signed.
 *
 * <p>A key id is the first 16 hex digits of the sha256 of the public key's encoding.
 */
public final class ManifestKeyring {
  private static final Logger LOG = Logger.getLogger(ManifestKeyring.class.getName());
  public static final String DIRECTORY = "manifest-keys";
  public static final String ALGORITHM = "Ed25519";
  private static final String CURRENT = "current";

  /** One key pair, named by its id. */
  public record SigningKey(String keyId, PrivateKey privateKey, PublicKey publicKey) {}

  private final Path dir;

  private ManifestKeyring(Path dir) {
    this.dir = dir;
  }

  /** The keyring in {@code dataDir}, made with a first key when it has none. */
  public static ManifestKeyring open(Path dataDir) throws IOException {
    ManifestKeyring keyring = new ManifestKeyring(dataDir.resolve(DIRECTORY));
    Files.createDirectories(dataDir);
    PrivatePaths.directory(keyring.dir); // 0700: the controller's alone
    if (!Files.exists(keyring.dir.resolve(CURRENT))) {
      String id = keyring.generate();
      LOG.info("made manifest-signing key " + id + " in " + keyring.dir);
    }
    return keyring;
  }

  /** Makes a new key the current one; the keys before it stay. Returns the new key's id. */
  public String rotate() throws IOException {
    String previous = current().keyId();
    String id = generate();
    LOG.info("manifest-signing key rotated: " + previous + " -> " + id + "; manifests signed by "
        + previous + " stay valid until re-signed");
    return id;
  }

  /** The key new manifests are signed with. */
  public SigningKey current() throws IOException {
    String id = Files.readString(dir.resolve(CURRENT), StandardCharsets.US_ASCII).strip();
    if (!id.matches("[0-9a-f]{16}")) {
      throw new IOException(dir.resolve(CURRENT) + " holds '" + id + "', not a key id");
    }
    return load(id);
  }

  /** Every key in the ring, the current one included. */
  public List<SigningKey> all() throws IOException {
    List<SigningKey> keys = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.sorted().toList()) {
        String name = file.getFileName().toString();
        if (name.matches("[0-9a-f]{16}\\.key")) {
          keys.add(load(name.substring(0, 16)));
        }
      }
    }
    return keys;
  }

  /** The id of a public key: the first 16 hex digits of the sha256 of its X.509 encoding. */
  public static String keyId(byte[] publicKeyEncoding) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(publicKeyEncoding);
      return HexFormat.of().formatHex(digest).substring(0, 16);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime must provide SHA-256", e);
    }
  }

  private String generate() throws IOException {
    KeyPair pair;
    try {
      pair = KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Java 17 provides " + ALGORITHM, e);
    }
    String id = keyId(pair.getPublic().getEncoded());
    writePrivately(dir.resolve(id + ".key"), pair.getPrivate().getEncoded());
    writePrivately(dir.resolve(id + ".pub"), pair.getPublic().getEncoded());
    writePrivately(dir.resolve(CURRENT), (id + "\n").getBytes(StandardCharsets.US_ASCII));
    return id;
  }

  private SigningKey load(String id) throws IOException {
    Path privateFile = dir.resolve(id + ".key");
    Path publicFile = dir.resolve(id + ".pub");
    try {
      KeyFactory factory = KeyFactory.getInstance(ALGORITHM);
      PrivateKey privateKey =
          factory.generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(privateFile)));
      PublicKey publicKey =
          factory.generatePublic(new X509EncodedKeySpec(Files.readAllBytes(publicFile)));
      if (!keyId(publicKey.getEncoded()).equals(id)) {
        throw new IOException(publicFile + " does not hold key " + id);
      }
      return new SigningKey(id, privateKey, publicKey);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot read manifest-signing key " + privateFile + " / " + publicFile
          + ": " + e.getMessage(), e);
    }
  }

  // Written beside the target with mode 0600 from the start, then moved over it, so a key is
  // never readable by others and a reader never sees half a file.
  private static void writePrivately(Path file, byte[] content) throws IOException {
    Path temp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.write(temp, content);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}

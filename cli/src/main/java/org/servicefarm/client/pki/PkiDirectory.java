package org.servicefarm.client.pki;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * A directory of PEM files: {@code ca.pem} and {@code ca-key.pem}, and for every issued
 * certificate {@code NAME.pem} (the certificate, then the CA's) and {@code NAME-key.pem}
 * (PKCS#8, mode 0600). Nothing here ever overwrites a file: replacing a key is a deliberate act.
 */
public final class PkiDirectory {
  /** The CA's name: its files are ca.pem and ca-key.pem. */
  public static final String CA = "ca";

  private final Path dir;

  /** The PEM files in {@code dir}, which need not exist until a file is written. */
  public PkiDirectory(Path dir) {
    this.dir = dir;
  }

  /** Where the certificate called {@code name} is: NAME.pem. */
  public Path certificate(String name) {
    return dir.resolve(name + ".pem");
  }

  /** Where the private key of {@code name} is: NAME-key.pem. */
  public Path key(String name) {
    return dir.resolve(name + "-key.pem");
  }

  /**
   * Writes a certificate (followed by the chain above it) and its key.
   *
   * @throws FileAlreadyExistsException naming the first of the two files that exists already
   */
  public void write(String name, CertificateIssuer.Issued issued, List<X509Certificate> chain)
      throws IOException {
    Path certFile = certificate(name);
    Path keyFile = key(name);
    // Both checked first, so a refusal leaves no half-written pair behind.
    for (Path p : List.of(certFile, keyFile)) {
      if (Files.exists(p)) {
        throw new FileAlreadyExistsException(p.toString(), null, "refusing to overwrite it");
      }
    }
    Files.createDirectories(dir);
    StringWriter certs = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(certs)) {
      pem.writeObject(issued.certificate());
      for (X509Certificate c : chain) {
        pem.writeObject(c);
      }
    }
    StringWriter key = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(key)) {
      PemObject pkcs8 = new JcaPKCS8Generator(issued.keys().getPrivate(), null).generate();
      pem.writeObject(pkcs8);
    }
    // The key file is created 0600, never widened and narrowed later.
    Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rw-------")));
    try (Writer out = Files.newBufferedWriter(keyFile, StandardCharsets.US_ASCII,
        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      out.write(key.toString());
    }
    Files.writeString(certFile, certs.toString(), StandardCharsets.US_ASCII,
        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
  }

  /** The CA that {@code pki init} wrote here. */
  public CertificateIssuer.Issued readCa() throws IOException {
    Path certFile = certificate(CA);
    Path keyFile = key(CA);
    if (!Files.isRegularFile(certFile) || !Files.isRegularFile(keyFile)) {
      throw new IOException("no CA in " + dir + " (expected " + certFile.getFileName() + " and "
          + keyFile.getFileName() + "); run 'farmctl pki init --dir " + dir + "' first");
    }
    X509Certificate certificate = readCertificate(certFile);
    PrivateKey key = readKey(keyFile);
    return new CertificateIssuer.Issued(certificate, new KeyPair(certificate.getPublicKey(), key));
  }

  /** The first certificate in a PEM file. */
  public static X509Certificate readCertificate(Path file) throws IOException {
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
         PEMParser parser = new PEMParser(in)) {
      Object first = parser.readObject();
      if (!(first instanceof X509CertificateHolder holder)) {
        throw new IOException(file + " does not start with a PEM certificate");
      }
      return new JcaX509CertificateConverter().getCertificate(holder);
    } catch (CertificateException e) {
      throw new IOException(file + " holds an unreadable certificate: " + e.getMessage(), e);
    }
  }

  private static PrivateKey readKey(Path file) throws IOException {
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
         PEMParser parser = new PEMParser(in)) {
      Object first = parser.readObject();
      if (!(first instanceof PrivateKeyInfo info)) {
        throw new IOException(file + " does not hold an unencrypted PKCS#8 private key");
      }
      return new JcaPEMKeyConverter().getPrivateKey(info);
    }
  }
}

package org.servicefarm.client.pki;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Issues the farm's certificates: a CA, the controller's server certificate, agents' client
 * certificates (the host id in the CN and in a SAN URI {@code servicefarm:host:ID}, which the
 * controller reads) and optional client certificates. Every key is EC P-256; the JDK's own
 * providers do the cryptography, Bouncy Castle only builds the certificate structures.
 */
public final class CertificateIssuer {

  /** The SAN URI prefix the controller looks for in an agent's certificate. */
  public static final String HOST_URI_PREFIX = "servicefarm:host:";
  /** The SAN URI prefix naming a farm gateway, which the controller serves as role gateway. */
  public static final String GATEWAY_URI_PREFIX = "servicefarm:gateway:";
  /** The rule agents' host ids follow; certificate names follow it too. */
  public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  /** How long a CA certificate is valid: ten years. */
  public static final Duration CA_VALIDITY = Duration.ofDays(3650);
  /** How long a controller, agent or client certificate is valid: 825 days. */
  public static final Duration LEAF_VALIDITY = Duration.ofDays(825);

  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
  private static final Pattern DNS_NAME = Pattern.compile(
      "(\\*\\.)?[A-Za-z0-9][A-Za-z0-9-]{0,62}(\\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*");
  private static final String SIGNATURE = "SHA256withECDSA";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A certificate with its private key. */
  public record Issued(X509Certificate certificate, KeyPair keys) {}

  private CertificateIssuer() {}

  /** A self-signed CA certificate that may sign leaf certificates only (path length 0). */
  public static Issued newCa(String commonName) {
    KeyPair keys = newKeyPair();
    X500Name subject = name(commonName);
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = builder(subject, subject, keys.getPublic(), CA_VALIDITY)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false,
              ext.createSubjectKeyIdentifier(keys.getPublic()));
      return new Issued(sign(builder, keys), keys);
    } catch (CertIOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the CA certificate " + commonName, e);
    }
  }

  /**
   * The controller's server certificate.
   *
   * @param subjectAltNames IP addresses and DNS names clients and agents dial the controller by
   */
  public static Issued newServer(Issued ca, String name, List<String> subjectAltNames) {
    requireName("name", name);
    if (subjectAltNames.isEmpty()) {
      throw new IllegalArgumentException("a controller certificate needs at least one --san");
    }
    List<GeneralName> sans = new ArrayList<>();
    for (String san : subjectAltNames) {
      sans.add(generalName(san));
    }
    return leaf(ca, name, sans, KeyPurposeId.id_kp_serverAuth);
  }

  /** An agent's client certificate, naming its host id in the CN and a SAN URI. */
  public static Issued newAgent(Issued ca, String hostId) {
    requireName("host id", hostId);
    return leaf(ca, hostId,
        List.of(new GeneralName(GeneralName.uniformResourceIdentifier, HOST_URI_PREFIX + hostId)),
        KeyPurposeId.id_kp_clientAuth);
  }

  /**
   * A farm gateway's client certificate: its name in the CN and in a SAN URI
   * {@code servicefarm:gateway:NAME}, which the controller serves as role gateway (request, renew,
   * release, watch routes) without a token.
   */
  public static Issued newGateway(Issued ca, String name) {
    requireName("gateway name", name);
    return leaf(ca, name,
        List.of(new GeneralName(GeneralName.uniformResourceIdentifier, GATEWAY_URI_PREFIX + name)),
        KeyPurposeId.id_kp_clientAuth);
  }

  /** A client certificate for an SDK user or tool; it names no host, so it cannot be an agent. */
  public static Issued newClient(Issued ca, String name) {
    requireName("name", name);
    return leaf(ca, name, List.of(), KeyPurposeId.id_kp_clientAuth);
  }

  /** @throws IllegalArgumentException naming the value when it breaks the host id rule */
  public static void requireName(String what, String value) {
    if (value == null || !NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(
          what + " '" + value + "' must match [a-z0-9][a-z0-9-]{0,62}");
    }
  }

  private static Issued leaf(Issued ca, String commonName, List<GeneralName> sans,
      KeyPurposeId purpose) {
    KeyPair keys = newKeyPair();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X500Name issuer = X500Name.getInstance(
          ca.certificate().getSubjectX500Principal().getEncoded());
      X509v3CertificateBuilder builder =
          builder(issuer, name(commonName), keys.getPublic(), LEAF_VALIDITY)
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
              .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
              .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
              .addExtension(Extension.subjectKeyIdentifier, false,
                  ext.createSubjectKeyIdentifier(keys.getPublic()))
              .addExtension(Extension.authorityKeyIdentifier, false,
                  ext.createAuthorityKeyIdentifier(ca.certificate()));
      if (!sans.isEmpty()) {
        builder.addExtension(Extension.subjectAlternativeName, false,
            new GeneralNames(sans.toArray(GeneralName[]::new)));
      }
      return new Issued(sign(builder, ca.keys()), keys);
    } catch (CertIOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the certificate for " + commonName, e);
    }
  }

  private static GeneralName generalName(String san) {
    String value = san.strip();
    if (IPV4.matcher(value).matches() || value.contains(":")) {
      try {
        return new GeneralName(GeneralName.iPAddress, value);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--san '" + san + "' is not a valid IP address", e);
      }
    }
    if (!DNS_NAME.matcher(value).matches()) {
      throw new IllegalArgumentException("--san '" + san + "' is neither an IP address nor a DNS"
          + " name");
    }
    return new GeneralName(GeneralName.dNSName, value);
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject,
      PublicKey key, Duration validity) {
    // An hour back, so a host whose clock lags a little accepts a certificate issued just now.
    Instant notBefore = Instant.now().minus(Duration.ofHours(1));
    return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
        Date.from(notBefore), Date.from(notBefore.plus(validity)), subject, key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair signer)
      throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter().getCertificate(
          builder.build(new JcaContentSignerBuilder(SIGNATURE).build(signer.getPrivate())));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign with " + SIGNATURE, e);
    }
  }

  private static X500Name name(String commonName) {
    return new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "Service Farm").addRDN(BCStyle.CN, commonName).build();
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM cannot generate EC P-256 keys", e);
    }
  }
}

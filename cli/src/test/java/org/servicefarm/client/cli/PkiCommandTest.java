package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.client.pki.PkiDirectory;
import picocli.CommandLine;

/** farmctl pki through picocli, checked with the JDK's own certificate parser. */
class PkiCommandTest {

  @TempDir
  Path dir;

  private record Run(int exitCode, String out, String err) {}

  private Run farmctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    // Built as main builds it, with only the commands these arguments run.
    CommandLine commandLine = FarmCtl.commandLineFor(args, options -> {
      throw new AssertionError("pki must not connect to a farm");
    });
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  private static List<X509Certificate> chain(Path file) throws Exception {
    try (var in = Files.newInputStream(file)) {
      Collection<? extends java.security.cert.Certificate> certs =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      return certs.stream().map(c -> (X509Certificate) c).toList();
    }
  }

  @Test
  void initControllerAndAgentIssueCertificatesThatChainToTheCa() throws Exception {
    assertEquals(0, farmctl("pki", "init", "--dir", dir.toString()).exitCode());
    Run controller = farmctl("pki", "controller", "--dir", dir.toString(),
        "--san", "127.0.0.1,localhost,farm.example.org");
    assertEquals(0, controller.exitCode(), controller.err());
    assertEquals(0, farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "host-a")
        .exitCode());

    X509Certificate ca = chain(dir.resolve("ca.pem")).get(0);
    ca.verify(ca.getPublicKey());
    assertEquals(0, ca.getBasicConstraints(), "a CA that signs leaves only");

    List<X509Certificate> server = chain(dir.resolve("controller.pem"));
    server.get(0).verify(ca.getPublicKey());
    assertEquals(ca, server.get(1), "the chain file ends with the CA");
    List<String> sans = server.get(0).getSubjectAlternativeNames().stream()
        .map(n -> String.valueOf(n.get(1))).toList();
    assertEquals(List.of("127.0.0.1", "localhost", "farm.example.org"), sans);
    assertTrue(server.get(0).getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"), "serverAuth");

    X509Certificate agent = chain(dir.resolve("agent-host-a.pem")).get(0);
    agent.verify(ca.getPublicKey());
    assertTrue(agent.getSubjectX500Principal().getName().contains("CN=host-a"),
        agent.getSubjectX500Principal().getName());
    assertEquals(List.of(List.of(6, "servicefarm:host:host-a")),
        List.copyOf(agent.getSubjectAlternativeNames()));
    assertTrue(agent.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.2"), "clientAuth");
    assertEquals(-1, agent.getBasicConstraints(), "not a CA");
  }

  @Test
  void aGatewayCertificateNamesTheGatewayForTheControllerToServeAsRoleGateway() throws Exception {
    assertEquals(0, farmctl("pki", "init", "--dir", dir.toString()).exitCode());
    Run issued = farmctl("pki", "gateway", "--dir", dir.toString(), "--name", "gw1");
    assertEquals(0, issued.exitCode(), issued.err());

    X509Certificate ca = chain(dir.resolve("ca.pem")).get(0);
    X509Certificate gateway = chain(dir.resolve("gateway-gw1.pem")).get(0);
    gateway.verify(ca.getPublicKey());
    assertEquals(List.of(List.of(6, "servicefarm:gateway:gw1")),
        List.copyOf(gateway.getSubjectAlternativeNames()));
    assertTrue(gateway.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.2"), "clientAuth");
    assertTrue(Files.exists(dir.resolve("gateway-gw1-key.pem")));
    Run badName = farmctl("pki", "gateway", "--dir", dir.toString(), "--name", "GW_1");
    assertTrue(badName.exitCode() != 0 && badName.err().contains("GW_1"), badName.err());
  }

  @Test
  void keysAreReadableByTheOwnerOnly() throws Exception {
    farmctl("pki", "init", "--dir", dir.toString());
    farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "host-a");
    farmctl("pki", "client", "--dir", dir.toString(), "--name", "ops");
    for (String key : List.of("ca-key.pem", "agent-host-a-key.pem", "client-ops-key.pem")) {
      assertEquals("rw-------",
          PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(key))), key);
      assertTrue(Files.readString(dir.resolve(key)).startsWith("-----BEGIN PRIVATE KEY-----"),
          key + " is PKCS#8");
    }
  }

  @Test
  void existingFilesAreNeverOverwritten() throws Exception {
    farmctl("pki", "init", "--dir", dir.toString());
    String caBefore = Files.readString(dir.resolve("ca.pem"));
    Run again = farmctl("pki", "init", "--dir", dir.toString());
    assertEquals(ExitCodes.FAILURE, again.exitCode());
    assertTrue(again.err().contains("ca.pem") && again.err().contains("refusing to overwrite"),
        again.err());
    assertEquals(caBefore, Files.readString(dir.resolve("ca.pem")));

    farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "host-a");
    Files.delete(dir.resolve("agent-host-a.pem")); // only the key is left
    Run reissue = farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "host-a");
    assertEquals(ExitCodes.FAILURE, reissue.exitCode());
    assertFalse(Files.exists(dir.resolve("agent-host-a.pem")), "no half-written pair");
  }

  @Test
  void badHostIdsAndSansAreUsageErrorsNamingTheValue() {
    farmctl("pki", "init", "--dir", dir.toString());
    Run badHost = farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "Host_A");
    assertEquals(ExitCodes.USAGE, badHost.exitCode());
    assertTrue(badHost.err().contains("'Host_A'"), badHost.err());
    Run badSan = farmctl("pki", "controller", "--dir", dir.toString(), "--san", "not a name");
    assertEquals(ExitCodes.USAGE, badSan.exitCode());
    assertTrue(badSan.err().contains("'not a name'"), badSan.err());
  }

  @Test
  void issuingWithoutACaSaysToRunInit() {
    Run run = farmctl("pki", "agent", "--dir", dir.toString(), "--host-id", "host-a");
    assertEquals(ExitCodes.FAILURE, run.exitCode());
    assertTrue(run.err().contains("farmctl pki init"), run.err());
    assertFalse(Files.exists(new PkiDirectory(dir).key("agent-host-a")));
  }
}

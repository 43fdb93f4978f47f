package org.servicefarm.client.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.servicefarm.client.pki.CertificateIssuer;
import org.servicefarm.client.pki.PkiDirectory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * farmctl pki: a small CA for the farm's transport security, on files only (no controller call).
 * The controller serves with the controller certificate and verifies agents against the CA;
 * each agent proves its host id with its own certificate.
 */
@Command(
    name = "pki",
    description = "Create a CA and the certificates of the controller, agents and clients.",
    footer = {
      "%nExample:",
      "  farmctl pki init --dir /etc/servicefarm/pki",
      "  farmctl pki controller --dir /etc/servicefarm/pki --san 10.0.0.5,farm.example.org",
      "  farmctl pki agent --dir /etc/servicefarm/pki --host-id host-1",
      "  farmctl pki gateway --dir /etc/servicefarm/pki --name gw1",
    })
final class PkiCommand {

  @Spec
  private CommandSpec spec;

  @Command(name = "init",
      description = "Create the CA: ca.pem and ca-key.pem (EC P-256, 10 years).",
      footer = {"%nExample:", "  farmctl pki init --dir /etc/servicefarm/pki"})
  void init(@Option(names = "--dir", required = true, paramLabel = "DIR") Path dir)
      throws IOException {
    CertificateIssuer.Issued ca = CertificateIssuer.newCa("Service Farm CA");
    write(dir, PkiDirectory.CA, ca, List.of());
  }

  @Command(name = "controller",
      description = "Issue the controller's server certificate: NAME.pem and NAME-key.pem.",
      footer = {"%nExample:",
          "  farmctl pki controller --dir /etc/servicefarm/pki --san 10.0.0.5,farm.example.org"})
  void controller(@Option(names = "--dir", required = true, paramLabel = "DIR") Path dir,
      @Option(names = "--name", defaultValue = "controller",
          description = "File and common name (default ${DEFAULT-VALUE}).") String name,
      @Option(names = "--san", required = true, split = ",", paramLabel = "IP|DNS",
          description = "Addresses and names agents and clients dial the controller by.")
      List<String> sans) throws IOException {
    PkiDirectory pki = new PkiDirectory(dir);
    CertificateIssuer.Issued ca = pki.readCa();
    CertificateIssuer.Issued issued = usage(() -> CertificateIssuer.newServer(ca, name, sans));
    write(dir, name, issued, List.of(ca.certificate()));
  }

  @Command(name = "agent", description = {"Issue an agent's client certificate:",
      "agent-HOST.pem and agent-HOST-key.pem, naming the host id the agent may register."},
      footer = {"%nExample:", "  farmctl pki agent --dir /etc/servicefarm/pki --host-id host-1"})
  void agent(@Option(names = "--dir", required = true, paramLabel = "DIR") Path dir,
      @Option(names = "--host-id", required = true, paramLabel = "HOST") String hostId)
      throws IOException {
    issueNamed(dir, "--host-id", hostId, "agent-", CertificateIssuer::newAgent);
  }

  @Command(name = "gateway", description = {"Issue a farm gateway's client certificate:",
      "gateway-NAME.pem and gateway-NAME-key.pem; the controller serves it as role gateway."},
      footer = {"%nExample:", "  farmctl pki gateway --dir /etc/servicefarm/pki --name gw1"})
  void gateway(@Option(names = "--dir", required = true, paramLabel = "DIR") Path dir,
      @Option(names = "--name", required = true) String name) throws IOException {
    issueNamed(dir, "--name", name, "gateway-", CertificateIssuer::newGateway);
  }

  @Command(name = "client",
      description = "Issue a client certificate: client-NAME.pem and client-NAME-key.pem.",
      footer = {"%nExample:", "  farmctl pki client --dir /etc/servicefarm/pki --name ci"})
  void client(@Option(names = "--dir", required = true, paramLabel = "DIR") Path dir,
      @Option(names = "--name", required = true) String name) throws IOException {
    issueNamed(dir, "--name", name, "client-", CertificateIssuer::newClient);
  }

  /**
   * A client certificate naming {@code name} (checked as the option {@code option}), signed by
   * the directory's CA, written as PREFIX-NAME.pem and PREFIX-NAME-key.pem.
   */
  private void issueNamed(Path dir, String option, String name, String prefix,
      java.util.function.BiFunction<CertificateIssuer.Issued, String, CertificateIssuer.Issued>
          issue) throws IOException {
    PkiDirectory pki = new PkiDirectory(dir);
    usage(() -> {
      CertificateIssuer.requireName(option, name);
      return null;
    });
    CertificateIssuer.Issued ca = pki.readCa();
    write(dir, prefix + name, issue.apply(ca, name), List.of(ca.certificate()));
  }

  private void write(Path dir, String name, CertificateIssuer.Issued issued,
      List<java.security.cert.X509Certificate> chain) throws IOException {
    PkiDirectory pki = new PkiDirectory(dir);
    pki.write(name, issued, chain);
    var out = spec.commandLine().getOut();
    out.println("wrote " + pki.certificate(name) + " and " + pki.key(name) + " (key mode 0600)");
    out.flush();
  }

  /** Bad names and SANs are usage errors, reported as such. */
  private <T> T usage(java.util.function.Supplier<T> step) {
    try {
      return step.get();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }
}

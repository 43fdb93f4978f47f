package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * The embedded database is the controller's alone: a farm started as root, and another local
 * account ({@code nobody}) trying what the issue that found trust authentication tried, psql over
 * TCP and over the Unix socket. The controller keeps working throughout.
 */
@Timeout(300)
class LocalDatabaseAccessIntegrationTest {
  private ProcessFarm farm;
  private Path pgdata;

  @BeforeEach
  void startFarmAsRoot() throws Exception {
    requireRootAndPsql();
    farm = new ProcessFarm("test:///default");
    pgdata = farm.dir().resolve("controller").resolve("pgdata");
  }

  @AfterEach
  void stop() throws Exception {
    if (farm != null) {
      farm.close();
    }
  }

  @Test
  void anotherLocalUserCannotOpenTheDatabaseOverTcpOrTheSocketWhileTheControllerCan() throws Exception {
    int tcpPort = freePort();
    farm.startController(List.of("--embedded-database-port", Integer.toString(tcpPort)), Map.of());
    Path socketDir = socketDirectory();

    CommandRun noPassword = asNobody(null, "-h", "127.0.0.1", "-p", Integer.toString(tcpPort));
    assertNotEquals(0, noPassword.exitCode(), noPassword.toString());
    assertTrue(noPassword.err().contains("password"), noPassword.toString());

    CommandRun guessed = asNobody("postgres", "-h", "127.0.0.1", "-p", Integer.toString(tcpPort));
    assertNotEquals(0, guessed.exitCode(), guessed.toString());
    assertTrue(guessed.err().contains("password authentication failed"), guessed.toString());

    CommandRun overSocket = asNobody(null, "-h", socketDir.toString(), "-p", Integer.toString(tcpPort));
    assertNotEquals(0, overSocket.exitCode(), overSocket.toString());
    assertTrue(overSocket.err().contains("Permission denied"), overSocket.toString());

    Path passwordFile = pgdata.resolve("servicefarm.password");
    CommandRun readPassword = CommandRun.of(farm.dir(),
        List.of("runuser", "-u", "nobody", "--", "cat", passwordFile.toString()));
    assertNotEquals(0, readPassword.exitCode(), "nobody read " + passwordFile);

    // The account the controller runs as (root here) gets in, over both.
    String password = Files.readString(passwordFile).strip();
    CommandRun controllerAccount = CommandRun.of(farm.dir(), List.of("env", "PGPASSWORD=" + password,
        "psql", "-w", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", Integer.toString(tcpPort), "-U",
        "postgres", "-d", "servicefarm", "-c", "select count(*) > 0 from api_tokens"));
    assertEquals("t", controllerAccount.out().strip(), controllerAccount.toString());
    assertEquals("still-works", farm.client().tokens().create("still-works", "client")
        .getToken().getName());
  }

  @Test
  void aDataDirectoryLeftWithTrustAuthenticationIsMigratedAndNoTcpListenerIsOpenByDefault()
      throws Exception {
    farm.startController();
    farm.stopController();
    // What a data directory made by an earlier release holds.
    Files.writeString(pgdata.resolve("pg_hba.conf"),
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n");
    farm.startController();

    String rules = Files.readString(pgdata.resolve("pg_hba.conf"));
    assertFalse(rules.lines().anyMatch(line -> !line.startsWith("#") && line.contains("trust")),
        "trust left in pg_hba.conf:\n" + rules);
    int port = Integer.parseInt(postmasterPidLine(3));
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      throw new AssertionError("the embedded database listens on 127.0.0.1:" + port
          + " though no --embedded-database-port was given");
    } catch (IOException refused) {
      assertTrue(refused.getMessage().contains("refused"), refused.toString());
    }
    CommandRun overSocket = asNobody(null, "-h", socketDirectory().toString(), "-p",
        Integer.toString(port));
    assertNotEquals(0, overSocket.exitCode(), overSocket.toString());
    assertEquals("after-migration", farm.client().tokens().create("after-migration", "client")
        .getToken().getName());
  }

  /** psql as user nobody, with {@code password} in PGPASSWORD (or none), reading api_tokens. */
  private CommandRun asNobody(String password, String... where) throws Exception {
    List<String> command = new ArrayList<>(List.of("runuser", "-u", "nobody", "--", "env"));
    if (password != null) {
      command.add("PGPASSWORD=" + password);
    }
    command.addAll(List.of("psql", "-w", "-X", "-U", "postgres", "-d", "servicefarm"));
    command.addAll(List.of(where));
    command.addAll(List.of("-c", "select token_hash from api_tokens"));
    return CommandRun.of(farm.dir(), command);
  }

  /** postmaster.pid: line 4 the port, line 5 the socket's directory (0-based 3 and 4). */
  private Path socketDirectory() throws IOException {
    return Path.of(postmasterPidLine(4));
  }

  private String postmasterPidLine(int index) throws IOException {
    return Files.readAllLines(pgdata.resolve("postmaster.pid")).get(index).strip();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** Switching to another account needs root; CI runs as root, so there a skip is a failure. */
  private static void requireRootAndPsql() {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean tools = CommandRun.onPath("psql") && CommandRun.onPath("runuser");
    String why = "another local account can be tried only by root with psql and runuser"
        + " installed: local database access test SKIPPED";
    if (!(root && tools) && "true".equals(System.getenv("CI"))) {
      throw new AssertionError(why.replace("SKIPPED", "cannot run, and CI must run it"));
    }
    if (!(root && tools)) {
      System.err.println("WARNING: " + why);
    }
    Assumptions.assumeTrue(root && tools, why);
  }
}

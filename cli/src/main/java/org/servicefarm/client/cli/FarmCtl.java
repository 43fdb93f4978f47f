package org.servicefarm.client.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * farmctl: ask a Service Farm for services and look after its catalog, VMs and hosts. Holds the
 * options every subcommand shares and turns failures into one line on stderr and an exit code.
 */
@Command(
    name = "farmctl",
    // Subcommands inherit --help, --version and the exit code list.
    scope = ScopeType.INHERIT,
    mixinStandardHelpOptions = true,
    versionProvider = FarmCtlVersion.class,
    description = "Ask a Service Farm for services and manage its catalog, VMs and hosts.",
    // The commands are registered in commandLine (CommandSelection.ALL), so a run models only
    // the one it runs.
    exitCodeListHeading = "%nExit codes:%n",
    footer = {
      "%nExample:",
      "  farmctl --target 10.0.0.5:50051 request redis",
    })
public final class FarmCtl {

  @Option(names = "--target", scope = ScopeType.INHERIT, paramLabel = "HOST:PORT",
      defaultValue = "${env:FARM_TARGET:-" + FarmClientOptions.DEFAULT_TARGET + "}",
      description = "Controller address (env FARM_TARGET; default ${DEFAULT-VALUE}).")
  private String target;

  // No ${DEFAULT-VALUE} in the description: that would print the token in --help.
  @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
      defaultValue = "${env:FARM_TOKEN}",
      description = "Bearer token sent with every call (env FARM_TOKEN).")
  private String token;

  @Option(names = "--token-file", scope = ScopeType.INHERIT, paramLabel = "FILE",
      defaultValue = "${env:FARM_TOKEN_FILE}",
      description = "Read the bearer token from this file when --token is not given"
          + " (env FARM_TOKEN_FILE), e.g. the controller's <data-dir>/admin.token.")
  private Path tokenFile;

  @Option(names = "--project", scope = ScopeType.INHERIT, paramLabel = "NAME",
      defaultValue = "${env:FARM_PROJECT}",
      description = {"Act in this project (env FARM_PROJECT): a farm-wide admin token's",
          "calls then see, define and create there. A project's token acts in its own."})
  private String project;

  @Option(names = {"-o", "--output"}, scope = ScopeType.INHERIT, paramLabel = "FORMAT",
      defaultValue = "table",
      description = "Output: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
  private OutputFormat output;

  @Option(names = "--plaintext", scope = ScopeType.INHERIT,
      description = "Do not encrypt, even to a non-loopback target"
          + " (loopback targets are plaintext unless --ca-cert is given).")
  private boolean plaintext;

  @Option(names = "--ca-cert", scope = ScopeType.INHERIT, paramLabel = "FILE",
      description = "Use TLS and trust the controller's certificate only if this PEM CA signed it.")
  private Path caCertificate;

  @Spec
  private CommandSpec spec;

  private final ClientFactory clientFactory;

  /** The real farmctl, connecting over the network. */
  public FarmCtl() {
    this(FarmClient::connect);
  }

  FarmCtl(ClientFactory clientFactory) {
    this.clientFactory = clientFactory;
  }

  /**
   * gRPC and Netty log transport trouble (a name that does not resolve, a refused connection) as
   * warnings with stack traces on stderr. farmctl reports the same failure as the call's status, in
   * one line, so their logs only repeat it noisily. Held here because JUL keeps loggers weakly.
   */
  private static final List<Logger> QUIETED_LOGGERS =
      List.of(Logger.getLogger("io.grpc"), Logger.getLogger("io.netty"));

  private static final String NETTY_JFR = "io.netty.jfr.enabled";

  public static void main(String[] args) {
    QUIETED_LOGGERS.forEach(logger -> logger.setLevel(Level.OFF));
    // Netty's allocator registers its Flight Recorder events at start unless told not to; nobody
    // records a farmctl run, and the registration generates classes on every one.
    if (System.getProperty(NETTY_JFR) == null) {
      System.setProperty(NETTY_JFR, "false");
    }
    System.exit(commandLineFor(args, FarmClient::connect).execute(args));
  }

  /** farmctl with every command, wired up with its error handling. */
  static CommandLine commandLine(ClientFactory clientFactory) {
    return commandLine(clientFactory, CommandSelection.ALL);
  }

  /** farmctl as main builds it for these arguments: with the commands they need. */
  static CommandLine commandLineFor(String[] args, ClientFactory clientFactory) {
    return commandLine(clientFactory, CommandSelection.forArguments(args));
  }

  /**
   * farmctl with these top-level commands, wired up with its error handling, ready for
   * {@link CommandLine#execute}.
   */
  static CommandLine commandLine(ClientFactory clientFactory, List<Class<?>> commands) {
    CommandLine commandLine = new CommandLine(new FarmCtl(clientFactory));
    for (Class<?> command : commands) {
      commandLine.addSubcommand(new CommandLine(command));
    }
    addListsUnderTheirNouns(commandLine);
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    listExitCodes(commandLine);
    commandLine.setParameterExceptionHandler(FarmCtl::reportUsageError);
    commandLine.setExecutionExceptionHandler(
        (error, failed, parseResult) -> reportFailure(error, failed));
    return commandLine;
  }

  /**
   * `vm list` and `host list` are the same commands as `vms` and `hosts`, under the noun the
   * other VM and host commands use. Added here because an annotation would register each class
   * under its own name only; each name gets its own instance, so they share code, not state.
   */
  private static void addListsUnderTheirNouns(CommandLine farmctl) {
    addUnder(farmctl, "vm", "list", new VmsCommand());
    addUnder(farmctl, "host", "list", new HostsCommand());
  }

  private static void addUnder(CommandLine farmctl, String parent, String name, Object command) {
    CommandLine noun = farmctl.getSubcommands().get(parent);
    if (noun == null) {
      return; // a run of another command: the noun is not registered
    }
    CommandLine sub = new CommandLine(command);
    // Renamed in its spec, not only where it is registered, so its help says "vm list" too.
    sub.getCommandSpec().name(name);
    noun.addSubcommand(sub);
  }

  /** Every command's --help lists the exit codes, which are the same for all of them. */
  private static void listExitCodes(CommandLine command) {
    command.getCommandSpec().usageMessage().exitCodeList(ExitCodes.descriptions());
    command.getSubcommands().values().forEach(FarmCtl::listExitCodes);
  }

  /** The farmctl instance behind any of its (sub)commands. */
  static FarmCtl of(CommandSpec commandSpec) {
    return (FarmCtl) commandSpec.root().userObject();
  }

  /**
   * A client for the options given on the command line; the caller closes it.
   *
   * @throws ParameterException when an option value is unusable, so it exits as a usage error
   */
  FarmClient openClient() {
    try {
      FarmClientOptions.Builder options = FarmClientOptions.builder()
          .target(target)
          .bearerToken(token != null && !token.isEmpty() ? token : readTokenFile())
          .trustCertificate(caCertificate)
          .project(project);
      if (plaintext) {
        options.plaintext(true);
      }
      return clientFactory.open(options.build());
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  private String readTokenFile() {
    if (tokenFile == null) {
      return null;
    }
    try {
      return Files.readString(tokenFile, StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      String why = e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.toString();
      throw new IllegalArgumentException("--token-file " + tokenFile + " cannot be read: " + why,
          e);
    }
  }

  Output output() {
    return new Output(output, spec.commandLine().getOut());
  }

  private static int reportUsageError(ParameterException error, String[] args) {
    CommandLine failed = error.getCommandLine();
    // picocli starts some messages with "Error: "; the "farmctl: " prefix already says it.
    String message = oneLine(error.getMessage()).replaceFirst("^Error: ", "");
    failed.getErr().println("farmctl: " + message
        + " (see '" + failed.getCommandSpec().qualifiedName() + " --help')");
    failed.getErr().flush();
    return ExitCodes.USAGE;
  }

  private static int reportFailure(Exception error, CommandLine failed) {
    String message = error.getMessage() != null
        ? error.getMessage() : error.getClass().getSimpleName();
    failed.getErr().println("farmctl: " + oneLine(message));
    failed.getErr().flush();
    return ExitCodes.of(error);
  }

  /** Server messages may hold line breaks; farmctl promises one line per error. */
  private static String oneLine(String message) {
    return message.strip().replaceAll("\\s*\\R\\s*", "; ");
  }
}

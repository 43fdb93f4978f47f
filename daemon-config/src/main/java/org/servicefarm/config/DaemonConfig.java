package org.servicefarm.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Runs a daemon's command with its configuration layered as flag > environment > config file >
 * default. The command must mix in {@link ConfigOptions}. Configuration errors (an unreadable or
 * malformed file, an unknown key, a value an option cannot take) are told in a line or two and
 * exit with 2, picocli's usage code.
 */
public final class DaemonConfig {
  private static final Logger LOG = Logger.getLogger(DaemonConfig.class.getName());

  private DaemonConfig() {}

  /**
   * @param env the environment to read SERVICEFARM_* from (System.getenv() in a daemon)
   * @param defaultFile read when no --config is given, if it exists
   * @return the exit code
   */
  public static int execute(CommandLine cli, String[] args, Map<String, String> env,
      Path defaultFile) {
    String name = cli.getCommandName();
    LayeredDefaults defaults;
    try {
      Optional<ConfigFile> file = configFile(args, defaultFile);
      if (file.isPresent()) {
        requireKnownKeys(file.get(), cli.getCommandSpec());
      }
      defaults = new LayeredDefaults(env, file);
    } catch (ConfigException e) {
      cli.getErr().println(name + ": " + e.getMessage());
      cli.getErr().flush();
      return CommandLine.ExitCode.USAGE;
    }
    cli.setDefaultValueProvider(defaults);
    // --print-config writes enum values in lower case; this makes them read back.
    cli.setCaseInsensitiveEnumValuesAllowed(true);
    IExecutionStrategy run = cli.getExecutionStrategy();
    cli.setExecutionStrategy(parsed -> {
      if (parsed.hasMatchedOption(ConfigOptions.PRINT_CONFIG)) {
        EffectiveConfig.print(parsed, defaults, cli.getOut());
        return CommandLine.ExitCode.OK;
      }
      return run.execute(parsed);
    });
    IParameterExceptionHandler refuse = cli.getParameterExceptionHandler();
    cli.setParameterExceptionHandler((e, badArgs) -> {
      // picocli names the option and the value; say where a value not on the command line was.
      if (e.getArgSpec() instanceof OptionSpec option && !onCommandLine(option, badArgs)) {
        defaults.found(option).ifPresent(found -> e.getCommandLine().getErr().println(
            name + ": " + option.longestName() + " was set by " + found.origin()));
      }
      return refuse.handleParseException(e, badArgs);
    });
    return cli.execute(args);
  }

  private static Optional<ConfigFile> configFile(String[] args, Path defaultFile)
      throws ConfigException {
    Optional<Path> given = configArgument(args);
    if (given.isPresent()) {
      ConfigFile file = ConfigFile.read(given.get());
      LOG.info("configuration file " + given.get() + " read (--config)");
      return Optional.of(file);
    }
    if (!Files.exists(defaultFile)) {
      LOG.info("no configuration file: " + defaultFile + " does not exist");
      return Optional.empty();
    }
    ConfigFile file = ConfigFile.read(defaultFile);
    LOG.info("configuration file " + defaultFile + " read");
    return Optional.of(file);
  }

  // The file must be read before picocli parses, since it supplies the other options' values;
  // picocli then parses --config again and refuses it without a value.
  static Optional<Path> configArgument(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        break;
      }
      if (args[i].equals(ConfigOptions.CONFIG) && i + 1 < args.length) {
        return Optional.of(Path.of(args[i + 1]));
      }
      if (args[i].startsWith(ConfigOptions.CONFIG + "=")) {
        return Optional.of(Path.of(args[i].substring(ConfigOptions.CONFIG.length() + 1)));
      }
    }
    return Optional.empty();
  }

  private static void requireKnownKeys(ConfigFile file, CommandSpec spec) throws ConfigException {
    for (ConfigFile.Setting setting : file.settings()) {
      boolean known = SettableOptions.of(spec).stream()
          .anyMatch(option -> SettableOptions.key(option).equals(setting.key()));
      if (!known) {
        throw new ConfigException(file.path() + ":" + setting.line() + ": unknown key '"
            + setting.key() + "'" + SettableOptions.nearest(setting.key(), spec)
                .map(nearest -> " (did you mean '" + nearest + "'?)").orElse("")
            + "; keys are " + spec.name() + "'s long option names without the dashes");
      }
    }
  }

  private static boolean onCommandLine(OptionSpec option, String[] args) {
    for (String arg : args) {
      for (String flag : option.names()) {
        if (arg.equals(flag) || arg.startsWith(flag + "=")) {
          return true;
        }
      }
    }
    return false;
  }
}

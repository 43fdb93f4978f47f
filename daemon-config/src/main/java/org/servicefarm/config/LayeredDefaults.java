package org.servicefarm.config;

import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Supplies picocli with the value of every option not given as a flag: the environment
 * ({@code SERVICEFARM_<KEY>}) before the config file, and the option's own default when neither
 * has it. picocli asks only for options missing from the command line, which puts flags first.
 *
 * <p>Variables outside the scheme (SERVICEFARM_DB_PASSWORD, SERVICEFARM_FAILPOINT) are never
 * looked at here: only an option's own name is, and no option is named db-password or failpoint
 * (each daemon's tests check that). An empty variable counts as unset, as systemd's
 * {@code Environment=NAME=} means.
 */
public final class LayeredDefaults implements IDefaultValueProvider {

  /** A value from outside the command line and where it was found ("env SERVICEFARM_X"). */
  public record Found(String value, String origin) {}

  private final Map<String, String> env;
  private final Optional<ConfigFile> file;

  public LayeredDefaults(Map<String, String> env, Optional<ConfigFile> file) {
    this.env = Map.copyOf(env);
    this.file = file;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (arg instanceof OptionSpec option && SettableOptions.isSettable(option)) {
      return found(option).map(Found::value).orElse(null); // null: the option's own default
    }
    return null;
  }

  /** The environment's or the config file's value of an option, if either has one. */
  public Optional<Found> found(OptionSpec option) {
    String variable = SettableOptions.envName(option);
    String fromEnv = env.get(variable);
    if (fromEnv != null && !fromEnv.isEmpty()) {
      return Optional.of(new Found(fromEnv, "env " + variable));
    }
    return file.flatMap(f -> f.get(SettableOptions.key(option))
        .map(s -> new Found(s.value(), f.path() + ":" + s.line())));
  }

  public Optional<ConfigFile> file() {
    return file;
  }
}

package org.servicefarm.config;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The options a config file or the environment may set, and the names they go by there: every
 * long option but help, version, {@code --config} and {@code --print-config}.
 */
public final class SettableOptions {
  static final String ENV_PREFIX = "SERVICEFARM_";

  private SettableOptions() {}

  public static List<OptionSpec> of(CommandSpec spec) {
    return spec.options().stream().filter(SettableOptions::isSettable).toList();
  }

  static boolean isSettable(OptionSpec option) {
    String name = option.longestName();
    return !option.usageHelp() && !option.versionHelp() && name.startsWith("--")
        && !name.equals(ConfigOptions.CONFIG) && !name.equals(ConfigOptions.PRINT_CONFIG);
  }

  /** The config file key: the long name without its dashes ({@code libvirt-uri}). */
  public static String key(OptionSpec option) {
    return option.longestName().substring(2);
  }

  /** The environment variable: {@code SERVICEFARM_LIBVIRT_URI} for {@code libvirt-uri}. */
  public static String envName(OptionSpec option) {
    return ENV_PREFIX + key(option).replace('-', '_').toUpperCase(Locale.ROOT);
  }

  /** The settable key closest to a mistyped one, if it is a plausible typo. */
  static Optional<String> nearest(String unknown, CommandSpec spec) {
    return of(spec).stream().map(SettableOptions::key)
        .min(Comparator.comparingInt(key -> distance(unknown, key)))
        .filter(key -> distance(unknown, key) <= Math.max(2, key.length() / 3));
  }

  // Levenshtein distance, two rows at a time.
  private static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}

package org.servicefarm.config;

import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * Prints what {@code --print-config} shows: every settable option's value in the config file's
 * format, each under a comment that says where the value came from, so the output can be pasted
 * into a config file.
 */
final class EffectiveConfig {
  private EffectiveConfig() {}

  static void print(ParseResult parsed, LayeredDefaults defaults, PrintWriter out) {
    CommandSpec spec = parsed.commandSpec();
    out.println("# " + spec.name() + ": effective configuration (flag > environment > config"
        + " file > default)");
    out.println("# config file: " + defaults.file().map(f -> f.path().toString())
        .orElse("none"));
    for (OptionSpec option : SettableOptions.of(spec)) {
      String key = SettableOptions.key(option);
      out.println();
      out.println("# " + origin(option, parsed, defaults));
      Object value = option.getValue();
      if (value == null || (value instanceof java.util.Collection<?> values && values.isEmpty())) {
        out.println("#" + key + " =");
      } else {
        out.println(key + " = " + Redaction.shown(option, text(value)));
      }
    }
    out.flush();
  }

  private static String origin(OptionSpec option, ParseResult parsed, LayeredDefaults defaults) {
    if (parsed.hasMatchedOption(option)) {
      return "from flag " + option.longestName();
    }
    return defaults.found(option).map(found -> "from " + found.origin())
        .orElse(option.getValue() == null ? "not set" : "default");
  }

  // As typed on a command line: enum constants are accepted in lower case by the daemons, and a
  // repeatable option's values are separated by commas (its split).
  private static String text(Object value) {
    if (value instanceof java.util.Collection<?> values) {
      return values.stream().map(EffectiveConfig::text)
          .collect(java.util.stream.Collectors.joining(","));
    }
    return value instanceof Enum<?> constant
        ? constant.name().toLowerCase(Locale.ROOT) : value.toString();
  }
}

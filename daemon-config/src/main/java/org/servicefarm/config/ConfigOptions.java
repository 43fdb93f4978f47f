package org.servicefarm.config;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The two options every daemon has for its configuration; mixed into each daemon's command. */
public final class ConfigOptions {
  static final String CONFIG = "--config";
  static final String PRINT_CONFIG = "--print-config";

  // Read before picocli parses (DaemonConfig needs the file to supply the other options'
  // values); declared here so --help lists it and picocli checks it takes a value.
  @Option(names = CONFIG, paramLabel = "FILE", description = "config file of key = value lines"
      + " (default: the daemon's file in /etc/servicefarm, when it exists)")
  Path config;

  // help = true, as for --help: it needs no required option, so it can show one is missing.
  @Option(names = PRINT_CONFIG, help = true, description = "print every option's value and where"
      + " it came from, in the config file's format, and exit")
  boolean printConfig;
}

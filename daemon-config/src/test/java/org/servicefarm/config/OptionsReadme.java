package org.servicefarm.config;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Holds a daemon's options and the README's table of them together: each daemon's test checks
 * that every option has a row, with its config key, variable and default. Shared by the daemons'
 * tests through this module's test jar.
 */
public final class OptionsReadme {
  private OptionsReadme() {}

  /** Fails naming the first option of {@code spec} the README section under heading misses. */
  public static void assertListed(CommandSpec spec, String heading) throws IOException {
    List<String> rows = rows(heading);
    for (OptionSpec option : spec.options()) {
      String row = rowOf(rows, option.longestName());
      if (SettableOptions.of(option.command()).contains(option)) {
        assertTrue(row.contains("`" + SettableOptions.key(option) + "`, `"
                + SettableOptions.envName(option) + "`"),
            "README row of " + option.longestName() + " lacks its key and variable: " + row);
        if (option.defaultValue() != null) {
          assertTrue(row.contains("`" + option.defaultValue() + "`"), "README row of "
              + option.longestName() + " lacks its default " + option.defaultValue() + ": " + row);
        }
      }
    }
  }

  /** The table rows of one section of the project's README.md. */
  private static List<String> rows(String heading) throws IOException {
    Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("farm"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("no README.md above " + System.getProperty("user.dir"));
    }
    List<String> lines = Files.readAllLines(dir.resolve("README.md"));
    int start = lines.indexOf(heading);
    if (start < 0) {
      fail("README.md has no section " + heading);
    }
    return lines.subList(start + 1, lines.size()).stream()
        .takeWhile(line -> !line.startsWith("#"))
        .filter(line -> line.startsWith("|"))
        .toList();
  }

  /** The row whose first cell names the option, as `--name` or `--name ARG`. */
  private static String rowOf(List<String> rows, String option) {
    Pattern named = Pattern.compile("^\\| [^|]*`" + Pattern.quote(option) + "[` ]");
    return rows.stream().filter(row -> named.matcher(row).find()).findFirst()
        .orElseGet(() -> fail("README.md does not list " + option));
  }
}

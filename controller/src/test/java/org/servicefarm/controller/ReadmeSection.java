package org.servicefarm.controller;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/** The table rows of one section of the project's README.md. */
final class ReadmeSection {
  private ReadmeSection() {}

  static List<String> rows(String heading) throws IOException {
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
  static String rowOf(List<String> rows, String option) {
    Pattern named = Pattern.compile("^\\| [^|]*`" + Pattern.quote(option) + "[` ]");
    return rows.stream().filter(row -> named.matcher(row).find()).findFirst()
        .orElseGet(() -> fail("README.md does not list " + option));
  }
}

package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A benchmark's figures: printed, and saved as Markdown under e2e/target/benchmarks/. */
public final class BenchmarkTable {
  private final String title;
  private final List<String> header;
  private final List<List<String>> rows = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();

  public BenchmarkTable(String title, String... header) {
    this.title = title;
    this.header = List.of(header);
  }

  public void row(Object... cells) {
    rows.add(Arrays.stream(cells).map(String::valueOf).toList());
  }

  public void note(String note) {
    notes.add(note);
  }

  public static String seconds(Duration d) {
    return String.format("%.2f s", d.toMillis() / 1000.0);
  }

  public static String ratio(Duration ours, Duration raw) {
    return raw.isZero() ? "-" : String.format("%.2f", (double) ours.toMillis() / raw.toMillis());
  }

  public static Duration median(List<Duration> samples) {
    List<Duration> sorted = samples.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }

  String markdown() {
    StringBuilder out = new StringBuilder("## ").append(title).append("\n\n");
    out.append("Measured ").append(Instant.now()).append(" on ")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores.\n\n");
    out.append("| ").append(String.join(" | ", header)).append(" |\n|");
    header.forEach(h -> out.append("---|"));
    out.append('\n');
    rows.forEach(r -> out.append("| ").append(String.join(" | ", r)).append(" |\n"));
    notes.forEach(n -> out.append("\n").append(n).append('\n'));
    return out.toString();
  }

  /** Prints the table and saves it; returns the file. */
  public Path publish(String fileName) throws IOException {
    String text = markdown();
    System.out.println(text);
    Path dir = FarmJars.root().resolve("e2e/target/benchmarks");
    Files.createDirectories(dir);
    Path file = dir.resolve(fileName);
    Files.writeString(file, text);
    return file;
  }
}

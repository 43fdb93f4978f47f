package org.servicefarm.e2e.support;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A scrape in Prometheus' text exposition format (0.0.4), parsed as a scraper would: one sample a
 * line, {@code name{label="value",...} value}, comments and blank lines skipped. Strict: a line
 * it cannot read fails the test, since a real scraper would reject the page too.
 */
public final class PrometheusText {
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;

  private PrometheusText(List<Sample> samples) {
    this.samples = samples;
  }

  public static PrometheusText parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      samples.add(sample(line));
    }
    return new PrometheusText(samples);
  }

  public List<Sample> samples() {
    return samples;
  }

  /** The value of the one sample with this name and these labels (pairs), or 0 if absent. */
  public double value(String name, String... labelPairs) {
    Map<String, String> wanted = pairs(labelPairs);
    List<Sample> found = samples.stream()
        .filter(s -> s.name().equals(name) && s.labels().equals(wanted)).toList();
    if (found.size() > 1) {
      throw new AssertionError("several samples " + name + wanted + ": " + found);
    }
    return found.isEmpty() ? 0 : found.get(0).value();
  }

  /** Whether any sample has this name. */
  public boolean has(String name) {
    return samples.stream().anyMatch(s -> s.name().equals(name));
  }

  /** Samples of the name, keyed by the value of one label. */
  public Map<String, Double> byLabel(String name, String label) {
    Map<String, Double> out = new TreeMap<>();
    samples.stream().filter(s -> s.name().equals(name))
        .forEach(s -> out.put(s.labels().get(label), s.value()));
    return out;
  }

  private static Map<String, String> pairs(String... labelPairs) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i + 1 < labelPairs.length; i += 2) {
      map.put(labelPairs[i], labelPairs[i + 1]);
    }
    return map;
  }

  private static Sample sample(String line) {
    int brace = line.indexOf('{');
    int space = line.indexOf(' ');
    Map<String, String> labels = new LinkedHashMap<>();
    String name;
    int rest;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.substring(0, brace);
      rest = labels(line, brace + 1, labels);
    } else {
      name = line.substring(0, space);
      rest = space;
    }
    String[] tail = line.substring(rest).strip().split(" ");
    return new Sample(name, labels, number(tail[0], line));
  }

  /** Reads {@code a="x",b="y"}} from {@code at}; returns the index after the closing brace. */
  private static int labels(String line, int at, Map<String, String> into) {
    int i = at;
    while (line.charAt(i) != '}') {
      int eq = line.indexOf('=', i);
      String key = line.substring(i, eq);
      if (line.charAt(eq + 1) != '"') {
        throw new AssertionError("label value not quoted: " + line);
      }
      StringBuilder value = new StringBuilder();
      int j = eq + 2;
      for (; line.charAt(j) != '"'; j++) {
        char c = line.charAt(j);
        if (c == '\\') {
          char next = line.charAt(++j);
          value.append(next == 'n' ? '\n' : next);
        } else {
          value.append(c);
        }
      }
      into.put(key, value.toString());
      i = j + 1;
      if (line.charAt(i) == ',') {
        i++;
      }
    }
    return i + 1;
  }

  private static double number(String text, String line) {
    switch (text) {
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      case "NaN":
        return Double.NaN;
      default:
        try {
          return Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw new AssertionError("not a sample value in: " + line, e);
        }
    }
  }
}

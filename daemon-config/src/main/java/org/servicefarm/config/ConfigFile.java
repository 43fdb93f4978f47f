package org.servicefarm.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A daemon's config file: one {@code key = value} a line, where the key is a long option name
 * without its dashes; blank lines and lines starting with {@code #} are skipped. A {@code #} after
 * a value is part of the value: values such as JDBC URLs may hold one, and a value the option
 * cannot take is refused loudly anyway.
 */
public final class ConfigFile {

  /** One {@code key = value} line. */
  public record Setting(String key, String value, int line) {}

  private final Path path;
  private final Map<String, Setting> settings;

  private ConfigFile(Path path, Map<String, Setting> settings) {
    this.path = path;
    this.settings = Collections.unmodifiableMap(settings);
  }

  public static ConfigFile read(Path path) throws ConfigException {
    List<String> lines;
    try {
      lines = Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException("cannot read config file " + path + ": no such file");
    } catch (AccessDeniedException e) {
      throw new ConfigException("cannot read config file " + path + ": permission denied");
    } catch (CharacterCodingException e) {
      throw new ConfigException("cannot read config file " + path + ": not UTF-8 text");
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + path + ": " + e.getMessage());
    }
    return parse(path, lines);
  }

  static ConfigFile parse(Path path, List<String> lines) throws ConfigException {
    Map<String, Setting> settings = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      int number = i + 1;
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int equals = line.indexOf('=');
      String key = equals < 0 ? "" : line.substring(0, equals).strip();
      if (key.isEmpty()) {
        throw new ConfigException(path + ":" + number + ": expected key = value, got '" + line
            + "'");
      }
      String value = line.substring(equals + 1).strip();
      if (value.isEmpty()) {
        throw new ConfigException(path + ":" + number + ": '" + key + "' has no value; remove"
            + " the line to use the default");
      }
      Setting earlier = settings.putIfAbsent(key, new Setting(key, value, number));
      if (earlier != null) {
        throw new ConfigException(path + ":" + number + ": '" + key + "' is given again (first"
            + " on line " + earlier.line() + ")");
      }
    }
    return new ConfigFile(path, settings);
  }

  public Path path() {
    return path;
  }

  public Optional<Setting> get(String key) {
    return Optional.ofNullable(settings.get(key));
  }

  public Collection<Setting> settings() {
    return settings.values();
  }
}

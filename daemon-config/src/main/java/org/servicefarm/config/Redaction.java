package org.servicefarm.config;

import java.nio.file.Path;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Hides secrets in printed configuration: the whole value of an option whose name says it holds
 * one (a password, token, secret or key given as text), and the password inside a URL such as a
 * JDBC URL's {@code ?password=}. A file path is printed whatever its name: it is not the secret.
 */
final class Redaction {
  static final String REDACTED = "<redacted>";
  private static final Pattern SECRET_NAME =
      Pattern.compile("(^|-)(password|passwd|token|secret|key)(-|$)");
  private static final Pattern URL_PASSWORD_PARAMETER =
      Pattern.compile("(?i)([?&;]password=)[^&;]*");
  private static final Pattern URL_USER_INFO = Pattern.compile("(://[^:/@]+:)[^@/]*@");

  private Redaction() {}

  static String shown(OptionSpec option, String value) {
    // A repeatable option of paths (List<Path>) is paths too: its element type says so.
    Class<?> type = option.isMultiValue() && option.auxiliaryTypes().length > 0
        ? option.auxiliaryTypes()[0] : option.type();
    boolean path = Path.class.isAssignableFrom(type) || java.io.File.class.isAssignableFrom(type);
    if (!path && SECRET_NAME.matcher(SettableOptions.key(option)).find()) {
      return REDACTED;
    }
    String hidden = URL_PASSWORD_PARAMETER.matcher(value).replaceAll("$1" + REDACTED);
    return URL_USER_INFO.matcher(hidden).replaceAll("$1" + REDACTED + "@");
  }
}

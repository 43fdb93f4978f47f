package org.servicefarm.controller.audit;

/** Text from callers made safe to store and print: no control characters, bounded length. */
final class AuditText {
  static final int TARGET_LIMIT = 300;
  static final int DETAIL_LIMIT = 500;
  static final int NAME_LIMIT = 200;

  private AuditText() {}

  static String bounded(String text, int limit) {
    if (text == null) {
      return "";
    }
    StringBuilder out = new StringBuilder(Math.min(text.length(), limit));
    text.codePoints().limit(limit).forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    // PostgreSQL's length() counts code points, as the limit above does.
    return out.toString();
  }
}

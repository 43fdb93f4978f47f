package org.servicefarm.client.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.io.PrintWriter;

/** Prints a command's result as the user chose: a table, or the API message as JSON. */
final class Output {

  // Fields at their default (0, false, "") are printed too, so scripts need no special cases.
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().alwaysPrintFieldsWithNoPresence();

  private final OutputFormat format;
  private final PrintWriter out;

  Output(OutputFormat format, PrintWriter out) {
    this.format = format;
    this.out = out;
  }

  /**
   * @param message the result as the API message, for -o json
   * @param table the same result for people, for -o table
   */
  void print(MessageOrBuilder message, Table table) {
    if (format == OutputFormat.json) {
      out.println(toJson(message));
    } else {
      table.print(out);
    }
    out.flush();
  }

  boolean isJson() {
    return format == OutputFormat.json;
  }

  private static String toJson(MessageOrBuilder message) {
    try {
      return JSON.print(message);
    } catch (InvalidProtocolBufferException e) {
      // Only Any fields without a type registry fail here, and the API has none.
      throw new IllegalStateException("cannot print " + message.getClass().getSimpleName()
          + " as JSON: " + e.getMessage(), e);
    }
  }
}

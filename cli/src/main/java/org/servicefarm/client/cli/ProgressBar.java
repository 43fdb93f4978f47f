package org.servicefarm.client.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.servicefarm.api.v1.OperationUpdate;

/**
 * A one-line progress bar on a terminal: each update redraws the line in place ("\r"), and
 * {@link #finish} clears it so the answer printed after it stands alone.
 */
final class ProgressBar {
  static final int BAR_WIDTH = 30;

  private final PrintWriter err;
  /** How much of the line is covered now: the longest line drawn, as shorter ones pad to it. */
  private int covered;

  ProgressBar(PrintWriter err) {
    this.err = err;
  }

  void draw(OperationUpdate update) {
    String line = line(update);
    // Pad over what a longer earlier line left on screen.
    err.print("\r" + line + " ".repeat(Math.max(0, covered - line.length())));
    err.flush();
    covered = Math.max(covered, line.length());
  }

  void finish() {
    if (covered > 0) {
      err.print("\r" + " ".repeat(covered) + "\r");
      err.flush();
    }
  }

  /** "[#########.....................]  30% TRANSFERRING fetching the image to host h1: ..." */
  static String line(OperationUpdate update) {
    int percent = Math.max(0, Math.min(100, update.getProgressPercent()));
    int filled = percent * BAR_WIDTH / 100;
    String phase = update.getPhase().name().replace("OPERATION_PHASE_", "");
    String message = update.getMessage().isEmpty() ? "" : " " + update.getMessage();
    return String.format(Locale.ROOT, "[%s%s] %3d%% %s%s", "#".repeat(filled),
        ".".repeat(BAR_WIDTH - filled), percent, phase, message);
  }
}

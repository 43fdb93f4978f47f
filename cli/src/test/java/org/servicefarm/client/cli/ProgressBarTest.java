package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;

/** What farmctl request draws on stderr while the farm works. */
class ProgressBarTest {

  private static OperationUpdate update(OperationPhase phase, int percent, String message) {
    return OperationUpdate.newBuilder().setPhase(phase).setProgressPercent(percent)
        .setMessage(message).build();
  }

  @Test
  void aLineShowsTheBarThePercentageThePhaseAndWhatIsHappening() {
    assertEquals("[#########.....................]  30% TRANSFERRING fetching the image",
        ProgressBar.line(update(OperationPhase.OPERATION_PHASE_TRANSFERRING, 30,
            "fetching the image")));
    assertEquals("[##############################] 100% READY",
        ProgressBar.line(update(OperationPhase.OPERATION_PHASE_READY, 100, "")));
  }

  @Test
  void eachUpdateRedrawsTheLineAndFinishingClearsIt() {
    StringWriter err = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(err));
    bar.draw(update(OperationPhase.OPERATION_PHASE_PLACING, 5, "choosing a host"));
    bar.draw(update(OperationPhase.OPERATION_PHASE_BOOTING, 85, ""));
    bar.finish();
    String[] frames = err.toString().split("\r", -1);
    // "", the first line, the second padded over the first, the blank, and the cursor home.
    assertEquals(5, frames.length);
    assertEquals(frames[1].length(), frames[2].length(), "the shorter line pads the longer");
    assertEquals(" ".repeat(frames[2].length()), frames[3]);
  }
}

package org.servicefarm.controller.ha;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.Status;
import java.nio.channels.ClosedChannelException;
import org.junit.jupiter.api.Test;

class ForwardedCallTest {

  @Test
  void aLeaderConnectionClosedUnderTheCallReachesTheCallerAsUnavailableSoItRetries() {
    Status closed = Status.UNKNOWN.withDescription("channel closed")
        .withCause(new ClosedChannelException());
    assertEquals(Status.Code.UNAVAILABLE, ForwardedCall.relayed(closed).getCode());
    assertEquals(Status.Code.UNAVAILABLE,
        ForwardedCall.relayed(Status.UNKNOWN.withDescription("channel closed")).getCode());
  }

  @Test
  void theLeadersOwnAnswersPassUnchanged() {
    Status unknown = Status.UNKNOWN.withDescription("the leader failed oddly");
    assertSame(unknown, ForwardedCall.relayed(unknown));
    Status notFound = Status.NOT_FOUND.withDescription("no VM with id x");
    assertSame(notFound, ForwardedCall.relayed(notFound));
  }
}

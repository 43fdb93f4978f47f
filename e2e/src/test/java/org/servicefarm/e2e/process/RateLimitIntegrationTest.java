package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.RateLimitedException;
import org.servicefarm.e2e.support.ProcessFarm;

/** A token that sends faster than --rate-limit is slowed down; other tokens are not. */
class RateLimitIntegrationTest {

  @Test
  void aTokenOverItsLimitIsRefusedWhileAnotherTokenIsServed() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController(List.of("--rate-limit", "5"), Map.of());
      String busy = farm.client().tokens().create("busy-client", "client").getSecret();
      String calm = farm.client().tokens().create("calm-client", "client").getSecret();
      AtomicInteger served = new AtomicInteger();
      RateLimitedException refused = null;
      try (FarmClient client = client(farm, busy)) {
        // The burst is twice the rate: 10 calls pass at once, then about 5 a second.
        for (int i = 0; i < 40 && refused == null; i++) {
          try {
            client.listServices();
            served.incrementAndGet();
          } catch (RateLimitedException e) {
            refused = e;
          }
        }
      }
      assertTrue(refused != null, "40 calls at once from one token were all served");
      assertTrue(refused.getMessage().contains("busy-client")
          && refused.getMessage().contains("5 requests/s"), refused.getMessage());
      assertFalse(refused.getMessage().contains(busy), "the secret is never echoed");
      try (FarmClient other = client(farm, calm)) {
        other.listServices(); // throws if the busy token's limit leaked onto this one
      }
      System.out.printf("rate limit: 5 requests/s per token, %d calls served before the first"
          + " refusal, another token served%n", served.get());
    }
  }

  private static FarmClient client(ProcessFarm farm, String token) {
    return FarmClient.connect(FarmClientOptions.builder().target(farm.target())
        .bearerToken(token).callDeadline(Duration.ofSeconds(10)).maxAttempts(1).build());
  }
}

package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;

class UnchangedInventoriesTest {
  private static final DomainStatus A = DomainStatus.newBuilder().setVmId("a").setGeneration(1)
      .setPower(PowerState.POWER_STATE_RUNNING).build();
  private static final DomainStatus B = DomainStatus.newBuilder().setVmId("b").setGeneration(2)
      .setPower(PowerState.POWER_STATE_RUNNING).build();
  private final UnchangedInventories reports = new UnchangedInventories();

  @Test
  void theDigestIgnoresOrderButNotContent() {
    assertEquals(UnchangedInventories.digest(List.of(A, B)), UnchangedInventories.digest(List.of(B, A)));
    assertNotEquals(UnchangedInventories.digest(List.of(A, B)),
        UnchangedInventories.digest(List.of(A, B.toBuilder().setGeneration(3).build())));
  }

  @Test
  void theSameDomainsAfterASettledReportAreKnown() {
    String digest = UnchangedInventories.digest(List.of(A));
    reports.settled("h1", digest, reports.stamp("h1"));
    assertTrue(reports.known("h1", digest));
    assertFalse(reports.known("h1", UnchangedInventories.digest(List.of(A, B))), "a new domain");
    assertFalse(reports.known("h2", digest), "another host");
  }

  @Test
  void aChangeToTheHostsVmsEndsIt() {
    String digest = UnchangedInventories.digest(List.of(A));
    reports.settled("h1", digest, reports.stamp("h1"));
    reports.changed("h1");
    assertFalse(reports.known("h1", digest));
  }

  @Test
  void aChangeNotedWhileAReportReadsTheTableKeepsTheHostUnsettled() {
    String digest = UnchangedInventories.digest(List.of(A));
    UnchangedInventories.Stamp before = reports.stamp("h1");
    reports.changed("h1"); // lands while the report squares itself with the table
    reports.settled("h1", digest, before);
    assertFalse(reports.known("h1", digest));
    reports.settled("h1", digest, reports.stamp("h1"));
    reports.changedAll();
    assertFalse(reports.known("h1", digest), "a change of unknown host unsettles every host");
  }
}

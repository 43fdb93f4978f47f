package org.servicefarm.controller.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What a caller of one project, or of the whole farm, sees and where its new VMs go. */
class ProjectScopeTest {
  private static final ProjectScope TEAM_A = ProjectScope.of("team-a");

  @Test
  void aProjectSeesItsOwnAndSharedDefinitionsOnly() {
    assertTrue(TEAM_A.sees("team-a"));
    assertFalse(TEAM_A.sees("team-b"));
    assertFalse(TEAM_A.sees(null), "farm-wide rows (a host's events) are not a project's");
    assertTrue(TEAM_A.seesDefinition("team-b", true));
    assertFalse(TEAM_A.seesDefinition("team-b", false));
  }

  @Test
  void theWholeFarmSeesEverything() {
    assertTrue(ProjectScope.FARM.farmWide());
    assertTrue(ProjectScope.FARM.sees("team-b"));
    assertTrue(ProjectScope.FARM.sees(null));
    assertEquals(ProjectScope.FARM, ProjectScope.of(null));
  }

  @Test
  void aSharedDefinitionsVmsBelongToTheProjectThatAsked() {
    assertEquals("team-a", TEAM_A.projectFor("default"));
    assertEquals("default", ProjectScope.FARM.projectFor("default"));
    assertEquals("team-b", ProjectScope.FARM.projectFor("team-b"));
    assertEquals("default", ProjectScope.FARM.projectOrDefault());
    assertEquals("team-a", TEAM_A.projectOrDefault());
  }
}

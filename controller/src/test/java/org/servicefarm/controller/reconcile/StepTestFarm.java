package org.servicefarm.controller.reconcile;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a step executor's test starts: one migrated database for the test class
 * ({@link StepFarm}), the agents answered by {@link ScriptedAgents}, and before each test a new
 * host whose agent is connected, with a definition of its own.
 */
abstract class StepTestFarm {
  @TempDir
  static Path keys;
  static StepFarm farm;

  final ScriptedAgents agents = new ScriptedAgents();
  ReconcileSteps steps;
  String host;
  StepFarm.Definition definition;

  @BeforeAll
  static void database() throws IOException {
    farm = StepFarm.open(keys);
  }

  @AfterAll
  static void close() {
    farm.close();
  }

  @BeforeEach
  void connectedHost() {
    steps = farm.steps(agents);
    host = farm.host();
    definition = farm.definition(false);
    agents.connect(host);
  }
}

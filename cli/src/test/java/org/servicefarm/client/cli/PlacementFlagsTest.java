package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.LabelHostRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.SetHostOvercommitRequest;
import org.servicefarm.client.FakeFarmServer;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine;

/** farmctl's placement flags: constraints and spread on a definition, host labels and ratios. */
class PlacementFlagsTest {
  private FakeFarmServer farm;

  private record Run(int exitCode, String out, String err) {}

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
  }

  @AfterEach
  void stopFarm() {
    farm.close();
  }

  private Run farmctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine commandLine =
        FarmCtl.commandLineFor(args, options -> new FarmClient(farm.channel(), options));
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  @Test
  void serviceDefineSendsConstraintsAndAHardSpreadAndTheListingShowsThem() {
    Run run = farmctl("service", "define", "web", "--image", "web-v2", "--port", "80",
        "--constraint", "zone=a", "--constraint", "disk=ssd", "--spread-by", "rack",
        "--spread-hard", "--max-skew", "2");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals(Map.of("zone", "a", "disk", "ssd"), sent.getConstraintsMap());
    assertEquals("rack", sent.getSpreadBy());
    assertTrue(sent.getSpreadHard());
    assertEquals(2, sent.getSpreadMaxSkew());
    assertTrue(run.out().contains("disk=ssd,zone=a,spread rack hard/2"), run.out());
  }

  @Test
  void aSpreadIsSoftWithSkewOneUnlessTold() {
    Run run = farmctl("service", "define", "web", "--image", "web-v2", "--port", "80",
        "--spread-by", "rack");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertFalse(sent.getSpreadHard());
    assertEquals(1, sent.getSpreadMaxSkew());
  }

  @Test
  void malformedPlacementFlagsAreUsageErrorsNamingTheValue() {
    Run notAPair = farmctl("service", "define", "web", "--image", "web-v2", "--port", "80",
        "--constraint", "zone");
    assertEquals(2, notAPair.exitCode());
    assertTrue(notAPair.err().contains("'zone' is not KEY=VALUE"), notAPair.err());

    Run hardWithoutSpread = farmctl("service", "define", "web", "--image", "web-v2", "--port",
        "80", "--spread-hard");
    assertEquals(2, hardWithoutSpread.exitCode());
    assertTrue(hardWithoutSpread.err().contains("need --spread-by"), hardWithoutSpread.err());
    assertTrue(farm.admin.definitions.isEmpty(), "nothing was sent");
  }

  @Test
  void hostLabelSetsAndRemovesLabels() {
    Run run = farmctl("host", "label", "sim-1", "zone=a", "rack=r1", "old-");

    assertEquals(0, run.exitCode(), run.err());
    LabelHostRequest sent = farm.admin.labelRequests.get(0);
    assertEquals("sim-1", sent.getHostId());
    assertEquals(Map.of("zone", "a", "rack", "r1"), sent.getLabelsMap());
    assertEquals(List.of("old"), sent.getRemoveList());
    assertTrue(run.out().contains("rack=r1,zone=a"), run.out());
  }

  @Test
  void hostOvercommitSendsTheRatiosOrAReset() {
    assertEquals(0, farmctl("host", "overcommit", "sim-1", "--cpu", "8", "--memory", "1.5")
        .exitCode());
    assertEquals(0, farmctl("host", "overcommit", "sim-1", "--reset").exitCode());
    Run neither = farmctl("host", "overcommit", "sim-1");

    List<SetHostOvercommitRequest> sent = farm.admin.overcommitRequests;
    assertEquals(List.of(8.0, 1.5, false), List.of(sent.get(0).getCpu(), sent.get(0).getMemory(),
        sent.get(0).getReset()));
    assertTrue(sent.get(1).getReset());
    assertEquals(2, neither.exitCode());
    assertTrue(neither.err().contains("give --cpu and/or --memory, or --reset alone"),
        neither.err());
  }
}

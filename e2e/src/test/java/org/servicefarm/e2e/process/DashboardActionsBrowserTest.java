package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonPrimitive;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.HeadlessChromium;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * An operator runs the farm from the dashboard: headless Chromium on a farm of real processes
 * (controller, one agent on libvirt's test driver) clicks each action, and the farm, read
 * through the API, changes; a refused action shows the farm's own words, and forcing it after
 * confirming does what farmctl's --force does. No page logs a console error (the farm's
 * deliberate refusals of actions aside, which the page shows).
 */
class DashboardActionsBrowserTest {
  private static final String HOST = "act-host";
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static ProcessFarm farm;
  private static FarmClient client;
  private static HeadlessChromium browser;

  @BeforeAll
  static void start() throws Exception {
    farm = new ProcessFarm("test:///default");
    farm.startController();
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
    client = farm.client();
    browser = HeadlessChromium.startOrSkip(farm.dir().resolve("logs"), 1280, 900);
    DashboardPages.signIn(browser, farm);
  }

  @AfterAll
  static void stop() {
    if (browser != null) {
      browser.close();
    }
    if (farm != null) {
      farm.close();
    }
  }

  @AfterEach
  void noConsoleErrors() {
    assertEquals(List.of(), DashboardPages.unexpectedConsoleErrors(browser),
        "the pages logged console errors");
  }

  @Test
  void vmActionsFromItsPageChangeTheFarmAndARefusalOffersForce() throws Exception {
    define("act-web");
    ServiceAccess served = client.requestService("act-web"); // its lease is live for 60 s
    String id = served.vmId();
    String refusal = serverMessage(() -> client.suspendVm(id, false));
    assertTrue(refusal.contains("lease"), refusal);

    // The test driver boots nothing: the console log a real guest writes is put where its
    // agent keeps it, with more than the page shows, so the page shows its end.
    Path log = farm.dir().resolve("agent-" + HOST).resolve("console").resolve(id + ".log");
    Files.createDirectories(log.getParent());
    Files.writeString(log, "early boot line\n".repeat(2000) + "servicefarm: guest ready\n");

    browser.navigate(farm.httpBase() + "/vm/" + id);
    browser.awaitTrue("the VM page with its lease, events and console", "document.querySelector("
        + "'#leases tr[data-id=\"" + served.lease().id() + "\"]') !== null && document"
        + ".getElementById('events').innerText.includes('ACTIVE') && document"
        + ".getElementById('console').textContent.endsWith('servicefarm: guest ready\\n')",
        PATIENCE);
    assertEquals(16384, Integer.parseInt(browser.evaluate(
        "new TextEncoder().encode(document.getElementById('console').textContent).length")),
        "the end of the log, 16 KiB of it");
    assertTrue(browser.evaluate("document.getElementById('facts').innerText")
        .contains(served.endpoint()));

    browser.click("#actions button[data-action=suspend]");
    awaitNotice("Refused: " + refusal);
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(id).getState(), "a refusal changes nothing");
    browser.click("#notice button[data-action=force]");
    confirm();
    awaitVm(id, VmState.VM_STATE_SLEEPING);
    browser.awaitTrue("the lease to show why it ended", "document.getElementById('leases')"
        + ".innerText.toLowerCase().includes('suspend')", PATIENCE);

    browser.click("#actions button[data-action=resume]");
    awaitVm(id, VmState.VM_STATE_ACTIVE);
    awaitButton("archive");
    browser.click("#actions button[data-action=archive]");
    confirm();
    awaitVm(id, VmState.VM_STATE_ARCHIVED);
    awaitButton("restore");
    browser.click("#actions button[data-action=restore]");
    awaitVm(id, VmState.VM_STATE_ACTIVE);

    awaitButton("delete");
    browser.click("#actions button[data-action=delete]");
    browser.click("#confirm-no");
    awaitNotice("Delete VM " + id + ": cancelled");
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(id).getState(), "cancelled: still there");
    browser.click("#actions button[data-action=delete]");
    confirm();
    awaitVm(id, VmState.VM_STATE_DELETED);
    browser.awaitTrue("the page to show DELETED", "document.getElementById('facts').innerText"
        + ".includes('DELETED')", PATIENCE);
  }

  @Test
  void hostDrainAndUncordonFromTheFarmPage() throws Exception {
    browser.navigate(farm.httpBase() + "/");
    String row = "#hosts tr[data-id=\"" + HOST + "\"]";
    browser.awaitTrue("the host's row", "document.querySelector('" + row
        + " button[data-action=drain]') !== null", PATIENCE);
    browser.click(row + " button[data-action=drain]");
    confirm();
    farm.awaitTrue("the host to drain", PATIENCE, () -> hostStatus() == HostStatus.HOST_STATUS_DRAINING);
    browser.awaitTrue("the row to offer uncordon", "document.querySelector('" + row
        + " button[data-action=uncordon]') !== null", PATIENCE);
    browser.click(row + " button[data-action=uncordon]");
    farm.awaitTrue("the host to be up", PATIENCE, () -> hostStatus() == HostStatus.HOST_STATUS_UP);
    awaitNotice("host " + HOST + " is UP");
  }

  @Test
  void aServiceIsDefinedFromTheFormAndDeletedWithForceOnceRefused() throws Exception {
    browser.navigate(farm.httpBase() + "/");
    // The form is in the page before its deferred script runs; a submit before then would be the
    // browser's own (a page load), so wait for the script's first render of the hosts.
    browser.awaitTrue("the page's script", "document.querySelector('#hosts tr') !== null",
        PATIENCE);
    fillForm("form-bad", "busybox", "some-image");
    String refusal = serverMessage(() -> client.defineService(ServiceDefinition.newBuilder()
        .setName("form-bad").addPackages("busybox").setImage("some-image").setPort(80)
        .setCommand("busybox httpd -f -p 80").setVcpus(1).setMemoryMb(256).setMaxInstances(1)
        .build()));
    awaitNotice("Refused: " + refusal);

    fillForm("form-web", "busybox", "");
    awaitNotice("service form-web is defined");
    ServiceDefinition defined = client.listServiceDefinitions().stream()
        .filter(d -> d.getName().equals("form-web")).findFirst().orElseThrow();
    assertEquals(List.of("busybox"), defined.getPackagesList());
    assertEquals(80, defined.getPort());
    assertEquals("busybox httpd -f -p 80", defined.getCommand());
    assertEquals(256, defined.getMemoryMb());

    String vm = client.requestService("form-web").vmId();
    String inUse = serverMessage(() -> client.deleteService("form-web", false));
    String row = "#services tr[data-id=\"form-web\"]";
    browser.awaitTrue("the service's row", "document.querySelector('" + row + "') !== null",
        PATIENCE);
    browser.click(row + " button[data-action=delete]");
    confirm();
    awaitNotice("Refused: " + inUse);
    browser.click("#notice button[data-action=force]");
    confirm();
    farm.awaitTrue("the definition to be gone", PATIENCE, () -> client
        .listServiceDefinitions().stream().noneMatch(d -> d.getName().equals("form-web")));
    awaitVm(vm, VmState.VM_STATE_DELETED);
  }

  @Test
  void theHostPageShowsItsVmsAndLoadAsTheApiDoes() throws Exception {
    define("host-web");
    String vm = client.requestService("host-web").vmId();
    browser.navigate(farm.httpBase() + "/host/" + HOST);
    browser.awaitTrue("the host's VM and a plotted load sample", "document.querySelector("
        + "'#vms tr[data-id=\"" + vm + "\"]') !== null && window.farmPlots"
        + " && window.farmPlots['plot-cpu'] && window.farmPlots['plot-cpu'].data[0].length > 0",
        PATIENCE);
    DashboardPages.assertPlotMatchesApi(browser, farm, "plot-cpu", "/api/host/" + HOST,
        "history", "cpuPercent");
    DashboardPages.assertPlotMatchesApi(browser, farm, "plot-memory", "/api/host/" + HOST,
        "history", "memoryUsedMb");
  }

  @Test
  void plotsShowTheFiguresTheApiGives() throws Exception {
    define("plot-web");
    String vm = client.requestService("plot-web").vmId();             // built
    client.requestService("plot-web");                                // warm
    client.suspendVm(vm, true);
    client.requestService("plot-web");                                // woke
    client.archiveVm(vm, true);
    client.requestService("plot-web");                                // restored

    browser.navigate(farm.httpBase() + "/");
    browser.awaitTrue("the plots with their data", "window.farmPlots"
        + " && window.farmPlots['plot-ready'] && window.farmPlots['plot-states']"
        + " && window.farmPlots['plot-states'].names.includes('ACTIVE')" // sampled after them
        + " && window.farmPlots['plot-cpu'] && window.farmPlots['plot-cpu'].data[0].length > 0",
        PATIENCE);
    com.google.gson.JsonObject ready = DashboardPages.api(farm, "/api/history")
        .getAsJsonObject("readyTimes").getAsJsonObject("paths");
    for (String path : List.of("woke", "restored")) {
      assertEquals(1, ready.getAsJsonObject(path).get("count").getAsInt(), path + ": " + ready);
    }
    for (String path : List.of("warm", "built")) {
      assertTrue(ready.getAsJsonObject(path).get("count").getAsInt() >= 1, path + ": " + ready);
    }
    DashboardPages.assertReadyPlotMatchesApi(browser, farm);
    String summary = browser.evaluate("document.getElementById('ready-summary').textContent");
    assertTrue(summary.contains("woke: 1 (") && summary.contains("restored: 1 ("), summary);
    DashboardPages.assertPlotMatchesApi(browser, farm, "plot-states", "/api/history",
        "vmStates", null);
    DashboardPages.assertPlotMatchesApi(browser, farm, "plot-cpu", "/api/history", "hosts",
        "cpuPercent");
    DashboardPages.assertPlotMatchesApi(browser, farm, "plot-memory", "/api/history", "hosts",
        "memoryUsedMb");
    Path saved = Path.of("target", "dashboard-plots.png"); // for people to look at
    Files.write(saved, browser.screenshot());
    System.out.println("dashboard with plots: " + saved.toAbsolutePath());
  }

  private static void define(String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  private static void fillForm(String name, String packages, String image) throws Exception {
    browser.evaluate("(() => { const f = document.getElementById('define-form');"
        + " document.getElementById('define').open = true;"
        + " f.elements.name.value = " + new JsonPrimitive(name) + ";"
        + " f.elements.packages.value = " + new JsonPrimitive(packages) + ";"
        + " f.elements.image.value = " + new JsonPrimitive(image) + ";"
        + " f.elements.port.value = '80'; f.elements.command.value = 'busybox httpd -f -p 80';"
        + " f.requestSubmit(); return 1; })()");
  }

  private static String serverMessage(Runnable refused) {
    try {
      refused.run();
    } catch (FarmException e) {
      assertFalse(e.serverMessage().isEmpty(), e.toString());
      return e.serverMessage();
    }
    throw new AssertionError("the farm did not refuse");
  }

  private static void confirm() throws Exception {
    browser.awaitTrue("the confirmation dialog", "document.getElementById('confirm').open",
        PATIENCE);
    browser.click("#confirm-yes");
  }

  private static void awaitNotice(String text) throws Exception {
    browser.awaitTrue("the notice '" + text + "'", "document.querySelector('#notice"
        + " .notice-text') !== null && document.querySelector('#notice .notice-text')"
        + ".textContent === " + new JsonPrimitive(text), PATIENCE);
  }

  private static void awaitButton(String action) throws Exception {
    browser.awaitTrue("the " + action + " button", "document.querySelector('#actions"
        + " button[data-action=" + action + "]') !== null", PATIENCE);
  }

  private static void awaitVm(String id, VmState state) {
    farm.awaitTrue("VM " + id + " to be " + state, PATIENCE,
        () -> client.getVm(id).getState() == state);
  }

  private static HostStatus hostStatus() {
    return client.listHosts().stream().filter(h -> h.getId().equals(HOST)).findFirst()
        .orElseThrow().getStatus();
  }
}

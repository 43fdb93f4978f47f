package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonPrimitive;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.HeadlessChromium;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * The dashboard as an operator sees it: a farm of real processes (controller, one agent on
 * libvirt's test driver), and headless Chromium that signs in through the form, reads the
 * rendered page, watches it change without a reload, and photographs it
 * (target/dashboard.png, for people to look at).
 */
class DashboardBrowserEndToEndTest {
  private static final int WIDTH = 1280;
  private static final int HEIGHT = 900;
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static ProcessFarm farm;

  @BeforeAll
  static void startFarm() throws Exception {
    farm = new ProcessFarm("test:///default");
    farm.startController();
    farm.startAgent("browser-host");
    farm.awaitConnected(List.of("browser-host"));
  }

  @AfterAll
  static void stopFarm() {
    if (farm != null) {
      farm.close();
    }
  }

  @Test
  void anAdminSignsInAndWatchesTheFarmChange() throws Exception {
    farm.client().defineService(ServiceDefinition.newBuilder().setName("browser-web")
        .addPackages("busybox").setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1)
        .setMemoryMb(256).build());
    ServiceAccess served = farm.client().requestService("browser-web");
    String token = Files.readString(farm.adminTokenFile()).strip();
    String vmRow = "document.querySelector('#vms tr[data-id=\"" + served.vmId() + "\"]')";

    try (HeadlessChromium browser =
        HeadlessChromium.startOrSkip(farm.dir().resolve("logs"), WIDTH, HEIGHT)) {
      browser.navigate(farm.httpBase() + "/");
      browser.awaitTrue("the sign-in form (the page sends a stranger there)",
          "location.pathname === '/login' && document.querySelector('input[name=token]') !== null",
          PATIENCE);
      // Typed into the form as an admin would; the token never appears in a URL.
      browser.evaluate("(() => { document.querySelector('input[name=token]').value = "
          + new JsonPrimitive(token) + "; document.querySelector('form').submit(); return 1; })()");
      browser.awaitTrue("the dashboard with the VM's row", "location.pathname === '/' && "
          + vmRow + " !== null", PATIENCE);

      String host = browser.evaluate(
          "document.querySelector('#hosts tr[data-id=\"browser-host\"]').innerText");
      assertTrue(host.contains("browser-host") && host.contains("UP"), host);
      assertTrue(host.contains("1 / 8") && host.contains("256 / 8192 MB"),
          "one vCPU and 256 MB of the host's 8 and 8192 are used: " + host);
      String vm = browser.evaluate(vmRow + ".innerText");
      assertTrue(vm.contains("browser-web") && vm.contains("ACTIVE")
          && vm.contains(served.endpoint()), vm);
      String service = browser.evaluate(
          "document.querySelector('#services tr[data-id=\"browser-web\"]').innerText");
      assertTrue(service.contains("busybox"), service);
      browser.awaitTrue("the event stream to be live",
          "document.getElementById('connection').textContent === 'live'", PATIENCE);

      // A mark a reload would wipe: the change must arrive in this same document.
      browser.evaluate("window.sameDocument = true");
      farm.client().suspendVm(served.vmId(), true);
      browser.awaitTrue("the VM's row to say SLEEPING", vmRow + ".innerText.includes('SLEEPING')",
          PATIENCE);
      assertEquals("true", browser.evaluate("window.sameDocument === true"),
          "the page changed without reloading");
      String events = browser.evaluate("document.getElementById('events').innerText");
      assertTrue(events.contains("SLEEPING"), events);

      checkScreenshot(browser.screenshot());
      assertEquals(List.of(), browser.consoleErrors(),
          "the page logged console errors (a missing icon is a 404 on every load)");
    }
  }

  private static void checkScreenshot(byte[] png) throws Exception {
    Path saved = Path.of("target", "dashboard.png");
    Files.createDirectories(saved.getParent());
    Files.write(saved, png);
    BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
    assertTrue(image != null, "the screenshot is not a PNG: " + saved.toAbsolutePath());
    assertEquals(WIDTH, image.getWidth());
    assertEquals(HEIGHT, image.getHeight());
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < HEIGHT; y += 3) {
      for (int x = 0; x < WIDTH; x += 3) {
        colours.add(image.getRGB(x, y));
      }
    }
    assertTrue(colours.size() > 20, "the screenshot looks blank (" + colours.size()
        + " colours): " + saved.toAbsolutePath());
    System.out.println("dashboard screenshot: " + saved.toAbsolutePath());
  }
}

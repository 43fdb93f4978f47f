package org.servicefarm.e2e.support;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** What tests of real QEMU guests need: libvirtd present, and HTTP into a guest. */
public final class RealGuests {
  private RealGuests() {}

  /**
   * Skips the calling test, loudly, when libvirtd does not answer; in CI (CI=true) a missing
   * libvirtd fails instead, because CI must run the real-guest tests.
   */
  public static void requireLibvirtd() throws IOException, InterruptedException {
    boolean reachable = run("virsh", "-q", "-c", "qemu:///system", "version") == 0;
    String why = "libvirtd is not reachable at qemu:///system: real QEMU guest tests SKIPPED "
        + "(./farm test starts it when run as root)";
    if (!reachable && "true".equals(System.getenv("CI"))) {
      throw new AssertionError(why.replace("SKIPPED", "cannot run, and CI must run them"));
    }
    if (!reachable) {
      System.err.println("WARNING: " + why);
    }
    Assumptions.assumeTrue(reachable, why);
  }

  /**
   * Skips the calling test, loudly, unless it runs as root (it mounts a file system, or runs a
   * libvirtd of its own as another user); in CI it fails instead, as {@link #requireLibvirtd}.
   */
  public static void requireRoot(String why) {
    boolean root = "root".equals(System.getProperty("user.name"));
    String reason = "not running as root, which " + why + " needs: SKIPPED (./farm test runs"
        + " as root)";
    if (!root && "true".equals(System.getenv("CI"))) {
      throw new AssertionError(reason.replace("SKIPPED", "cannot run, and CI must run it"));
    }
    if (!root) {
      System.err.println("WARNING: " + reason);
    }
    Assumptions.assumeTrue(root, reason);
  }

  /** GETs the front page, retrying while the guest's server comes up. */
  public static String httpGet(String endpoint, Duration patience) throws InterruptedException {
    return httpGet(endpoint, "/", patience);
  }

  public static String httpGet(String endpoint, String path, Duration patience) throws InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + endpoint + path))
        // Short attempts: QEMU's user networking accepts a connection for a guest port nothing
        // listens on yet and then sends nothing, so a long timeout would only measure itself.
        .timeout(Duration.ofMillis(500)).build();
    long deadline = System.nanoTime() + patience.toNanos();
    String last = "no attempt";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 200) {
          return response.body();
        }
        last = "HTTP " + response.statusCode();
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(250);
    }
    throw new AssertionError("GET http://" + endpoint + path + " failed for " + patience.toSeconds()
        + " s; last: " + last);
  }

  /** Whether libvirt knows a domain of this name. */
  public static boolean domainExists(String name) throws IOException, InterruptedException {
    return run("virsh", "-q", "-c", "qemu:///system", "dominfo", name) == 0;
  }

  public static int run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }
}

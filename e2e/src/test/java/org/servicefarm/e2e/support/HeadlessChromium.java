package org.servicefarm.e2e.support;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;

/**
 * Chromium without a window, driven over the Chrome DevTools Protocol on a WebSocket (Java's own
 * client, no driver to install): one page, navigated, read with JavaScript, photographed. The
 * browser gets a fresh profile directory and is killed, with its helpers, on close.
 */
public final class HeadlessChromium implements AutoCloseable {
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(15);
  private final Process process;
  private final Path profile;
  private final WebSocket socket;
  private final String session;
  private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  /** What the page's console showed as errors: exceptions, console.error, failed loads. */
  private final List<String> consoleErrors = new java.util.concurrent.CopyOnWriteArrayList<>();

  private HeadlessChromium(Process process, Path profile, URI browser, int width, int height)
      throws IOException, InterruptedException {
    this.process = process;
    this.profile = profile;
    this.socket = HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(browser, new Replies()).join();
    String target = call(null, "Target.createTarget", json("url", "about:blank"))
        .get("targetId").getAsString();
    JsonObject attach = json("targetId", target);
    attach.addProperty("flatten", true);
    this.session = call(null, "Target.attachToTarget", attach).get("sessionId").getAsString();
    JsonObject metrics = new JsonObject();
    metrics.addProperty("width", width);
    metrics.addProperty("height", height);
    metrics.addProperty("deviceScaleFactor", 1);
    metrics.addProperty("mobile", false);
    call(session, "Emulation.setDeviceMetricsOverride", metrics);
    // Console errors arrive as events from here on (Log: failed loads such as a missing icon).
    call(session, "Runtime.enable", new JsonObject());
    call(session, "Log.enable", new JsonObject());
  }

  /** Every error the pages' consoles showed so far, oldest first. */
  public List<String> consoleErrors() {
    return List.copyOf(consoleErrors);
  }

  /** The console errors so far, oldest first, forgotten here (the next call starts afresh). */
  public List<String> takeConsoleErrors() {
    List<String> taken = List.copyOf(consoleErrors);
    consoleErrors.removeAll(taken);
    return taken;
  }

  /** Clicks the first element the CSS selector finds; fails when there is none. */
  public void click(String selector) throws IOException, InterruptedException {
    String found = evaluate("(() => { const e = document.querySelector(" + new com.google.gson
        .JsonPrimitive(selector) + "); if (!e) { return false; } e.click(); return true; })()");
    if (!"true".equals(found)) {
      throw new AssertionError("nothing on the page matches " + selector + "; it shows:\n"
          + evaluate("document.body && document.body.innerText"));
    }
  }

  private void consoleEvent(String method, JsonObject params) {
    switch (method) {
      case "Runtime.exceptionThrown" -> consoleErrors.add("exception: "
          + params.getAsJsonObject("exceptionDetails"));
      case "Runtime.consoleAPICalled" -> {
        String type = params.get("type").getAsString();
        if (type.equals("error") || type.equals("assert")) {
          consoleErrors.add("console." + type + ": " + params.get("args"));
        }
      }
      case "Log.entryAdded" -> {
        JsonObject entry = params.getAsJsonObject("entry");
        if ("error".equals(entry.get("level").getAsString())) {
          consoleErrors.add(entry.get("text").getAsString()
              + (entry.has("url") ? " (" + entry.get("url").getAsString() + ")" : ""));
        }
      }
      default -> { }
    }
  }

  /**
   * Starts Chromium, or skips the test when it is not installed; in CI ({@code CI=true}) a
   * missing browser fails the test instead, since CI must run it.
   */
  public static HeadlessChromium startOrSkip(Path logs, int width, int height) throws Exception {
    Optional<Path> binary = find();
    if (binary.isEmpty()) {
      String why = "chromium is not installed: the dashboard's browser test is SKIPPED"
          + " (./farm test installs it; Debian: apt-get install chromium)";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(why.replace("SKIPPED", "cannot run, and CI must run it"));
      }
      System.err.println("WARNING: " + why);
      Assumptions.abort(why);
    }
    Files.createDirectories(logs);
    Path profile = Files.createTempDirectory("servicefarm-chromium");
    Process process = new ProcessBuilder(binary.get().toString(), "--headless", "--no-sandbox",
        "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
        "--user-data-dir=" + profile, "about:blank")
        .redirectErrorStream(true)
        .redirectOutput(logs.resolve("chromium.log").toFile())
        .start();
    try {
      return new HeadlessChromium(process, profile, devToolsAddress(process, profile), width,
          height);
    } catch (IOException | RuntimeException | InterruptedException | AssertionError e) {
      kill(process);
      FarmLeftovers.deleteTree(profile);
      throw e;
    }
  }

  private static Optional<Path> find() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
        Path candidate = Path.of(dir, name);
        if (Files.isExecutable(candidate)) {
          return Optional.of(candidate);
        }
      }
    }
    return Optional.empty();
  }

  // Chromium writes the port it chose and the browser's path to DevToolsActivePort once it listens.
  private static URI devToolsAddress(Process process, Path profile)
      throws IOException, InterruptedException {
    Path file = profile.resolve("DevToolsActivePort");
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("chromium exited with " + process.exitValue() + " at start");
      }
      if (Files.exists(file)) {
        List<String> lines = Files.readAllLines(file);
        if (lines.size() >= 2) {
          return URI.create("ws://127.0.0.1:" + lines.get(0).strip() + lines.get(1).strip());
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("chromium did not open its DevTools port within 20 s");
  }

  public void navigate(String url) throws IOException, InterruptedException {
    call(session, "Page.navigate", json("url", url));
  }

  /** Evaluates a JavaScript expression in the page and answers its value as a string. */
  public String evaluate(String expression) throws IOException, InterruptedException {
    JsonObject params = json("expression", "String(" + expression + ")");
    params.addProperty("returnByValue", true);
    JsonObject reply = call(session, "Runtime.evaluate", params);
    if (reply.has("exceptionDetails")) {
      throw new AssertionError("the page threw on " + expression + ": "
          + reply.get("exceptionDetails"));
    }
    return reply.getAsJsonObject("result").get("value").getAsString();
  }

  /** A call the browser answered with an error (e.g. the page navigated away meanwhile). */
  static final class ProtocolError extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolError(String message) {
      super(message);
    }
  }

  /** Polls an expression until it is "true", also across the page navigating meanwhile. */
  public void awaitTrue(String what, String expression, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!holds(expression)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for "
            + what + "; the page shows:\n" + evaluate("document.body && document.body.innerText"));
      }
      Thread.sleep(100);
    }
  }

  private boolean holds(String expression) throws IOException, InterruptedException {
    try {
      return "true".equals(evaluate(expression));
    } catch (ProtocolError navigating) {
      // The document it ran in went away (a form posted, a redirect): ask the next one.
      return false;
    }
  }

  /** The page as a PNG, the size of the viewport. */
  public byte[] screenshot() throws IOException, InterruptedException {
    JsonObject reply = call(session, "Page.captureScreenshot", json("format", "png"));
    return Base64.getDecoder().decode(reply.get("data").getAsString());
  }

  private JsonObject call(String sessionId, String method, JsonObject params)
      throws IOException, InterruptedException {
    int id = ids.incrementAndGet();
    JsonObject message = new JsonObject();
    message.addProperty("id", id);
    message.addProperty("method", method);
    message.add("params", params);
    if (sessionId != null) {
      message.addProperty("sessionId", sessionId);
    }
    CompletableFuture<JsonObject> reply = new CompletableFuture<>();
    pending.put(id, reply);
    synchronized (socket) {
      socket.sendText(message.toString(), true).join();
    }
    try {
      JsonObject answer = reply.get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      if (answer.has("error")) {
        throw new ProtocolError(method + " failed: " + answer.get("error"));
      }
      return answer.getAsJsonObject("result");
    } catch (ExecutionException e) {
      throw new IOException(method + ": the DevTools connection failed", e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError(method + " had no answer within " + CALL_TIMEOUT.toSeconds() + " s");
    } finally {
      pending.remove(id);
    }
  }

  private static JsonObject json(String name, String value) {
    JsonObject o = new JsonObject();
    o.addProperty(name, value);
    return o;
  }

  /** Collects each message from its parts and completes the call it answers, or notes a console error. */
  private final class Replies implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        JsonObject message = JsonParser.parseString(text.toString()).getAsJsonObject();
        text.setLength(0);
        JsonElement id = message.get("id");
        if (id != null && pending.containsKey(id.getAsInt())) {
          pending.get(id.getAsInt()).complete(message);
        } else if (id == null && message.has("method") && message.has("params")) {
          consoleEvent(message.get("method").getAsString(), message.getAsJsonObject("params"));
        }
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      pending.values().forEach(p -> p.completeExceptionally(error));
    }
  }

  private static void kill(Process process) {
    // /usr/bin/chromium is a launcher script: its browser, zygote and renderers are descendants.
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    socket.abort();
    kill(process);
    FarmLeftovers.deleteTree(profile);
  }
}

package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.servicefarm.e2e.support.HeadlessChromium;
import org.servicefarm.e2e.support.ProcessFarm;

/** What the dashboard's browser tests share: signing in, the API as JSON, plots against it. */
final class DashboardPages {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private DashboardPages() {}

  /** Signs the browser in through the form with the farm's admin token. */
  static void signIn(HeadlessChromium browser, ProcessFarm farm) throws Exception {
    String token = Files.readString(farm.adminTokenFile()).strip();
    browser.navigate(farm.httpBase() + "/login");
    browser.awaitTrue("the sign-in form", "document.querySelector('input[name=token]') !== null",
        PATIENCE);
    browser.evaluate("(() => { document.querySelector('input[name=token]').value = "
        + new JsonPrimitive(token) + "; document.querySelector('form').submit(); return 1; })()");
    browser.awaitTrue("the farm's page", "location.pathname === '/'"
        + " && document.getElementById('hosts') !== null", PATIENCE);
  }

  /**
   * The console errors since the last call but those of actions the farm refused on purpose:
   * the browser logs each non-2xx answer to a fetch, and the page shows the farm's words for it.
   */
  static List<String> unexpectedConsoleErrors(HeadlessChromium browser) {
    return browser.takeConsoleErrors().stream().filter(e -> !e.contains("/api/actions/")).toList();
  }

  /** GETs an admin route as JSON with the farm's admin token. */
  static JsonObject api(ProcessFarm farm, String path) throws Exception {
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(
            URI.create(farm.httpBase() + path))
        .header("Authorization", "Bearer " + Files.readString(farm.adminTokenFile()).strip())
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), path + ": " + response.body());
    return JsonParser.parseString(response.body()).getAsJsonObject();
  }

  /**
   * Every point the plot draws that the API also has (the same time) has the API's value, and
   * each series has at least one. The API's columns are {@code api[key]} (one object with t and
   * a column per series when {@code column} is null, or with t and {@code column} when it has
   * t), else {@code api[key][series]}.
   */
  static void assertPlotMatchesApi(HeadlessChromium browser, ProcessFarm farm, String plotId,
      String apiPath, String key, String column) throws Exception {
    JsonObject plot = plot(browser, plotId);
    JsonObject api = api(farm, apiPath).getAsJsonObject(key);
    JsonArray names = plot.getAsJsonArray("names");
    JsonArray data = plot.getAsJsonArray("data");
    assertTrue(names.size() > 0, plotId + " draws no series: " + plot);
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i).getAsString();
      JsonObject columns = column == null || api.has("t") ? api : api.getAsJsonObject(name);
      JsonArray times = columns.getAsJsonArray("t");
      JsonArray values = columns.getAsJsonArray(column == null ? name : column);
      Map<Long, Double> byTime = new HashMap<>();
      for (int j = 0; j < times.size(); j++) {
        byTime.put(times.get(j).getAsLong(), values.get(j).getAsDouble());
      }
      JsonArray xs = data.get(0).getAsJsonArray();
      JsonArray ys = data.get(i + 1).getAsJsonArray();
      int matched = 0;
      for (int j = 0; j < xs.size(); j++) {
        JsonElement y = ys.get(j);
        Double expected = byTime.get(xs.get(j).getAsLong());
        if (y.isJsonNull() || expected == null) {
          continue;
        }
        assertEquals(expected, y.getAsDouble(), 1e-9, plotId + " " + name + " at t="
            + xs.get(j) + " differs from " + apiPath);
        matched++;
      }
      assertTrue(matched > 0, plotId + " " + name + " has no point the API has: plot " + plot
          + ", API " + columns);
    }
  }

  /** The distribution plot draws, per path, the API's bucket counts, labelled by its bounds. */
  static void assertReadyPlotMatchesApi(HeadlessChromium browser, ProcessFarm farm)
      throws Exception {
    JsonObject plot = plot(browser, "plot-ready");
    JsonObject ready = api(farm, "/api/history").getAsJsonObject("readyTimes");
    JsonArray bounds = ready.getAsJsonArray("bucketSeconds");
    assertEquals(bounds, plot.getAsJsonArray("bucketSeconds"), "the buckets' bounds");
    JsonArray xs = plot.getAsJsonArray("data").get(0).getAsJsonArray();
    assertEquals(bounds.size() + 1, xs.size(), "a point a bucket, and one for longer times");
    JsonArray names = plot.getAsJsonArray("names");
    assertEquals(ready.getAsJsonObject("paths").keySet().size(), names.size(), plot.toString());
    for (int i = 0; i < names.size(); i++) {
      String path = names.get(i).getAsString();
      assertEquals(ready.getAsJsonObject("paths").getAsJsonObject(path).getAsJsonArray("buckets"),
          plot.getAsJsonArray("data").get(i + 1).getAsJsonArray(), "path " + path);
    }
  }

  private static JsonObject plot(HeadlessChromium browser, String plotId) throws Exception {
    String plot = "window.farmPlots[" + new JsonPrimitive(plotId) + "]";
    return JsonParser.parseString(browser.evaluate("JSON.stringify({names: " + plot + ".names,"
        + " data: " + plot + ".data, bucketSeconds: " + plot + ".bucketSeconds})"))
        .getAsJsonObject();
  }
}

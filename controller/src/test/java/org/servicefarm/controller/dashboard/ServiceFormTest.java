package org.servicefarm.controller.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;

/** The dashboard's define form becomes the definition farmctl service define would send. */
class ServiceFormTest {
  private static JsonObject form(String json) {
    return JsonParser.parseString(json).getAsJsonObject();
  }

  @Test
  void absentFieldsTakeFarmctlsDefaults() {
    ServiceDefinition d = ServiceForm.definition(form(
        "{\"name\": \"web\", \"packages\": \"busybox, curl\", \"port\": \"80\"}"));
    assertEquals("web", d.getName());
    assertEquals(List.of("busybox", "curl"), d.getPackagesList());
    assertEquals(80, d.getPort());
    assertEquals(1, d.getVcpus());
    assertEquals(256, d.getMemoryMb());
    assertEquals(1, d.getMaxInstances());
    assertEquals(0, d.getSleepAfterSeconds());
  }

  @Test
  void everyFieldOfTheFormReachesTheDefinition() {
    ServiceDefinition d = ServiceForm.definition(form("{\"name\": \"cache\", \"image\": \"img\","
        + " \"port\": \"6379\", \"vcpus\": \"2\", \"memoryMb\": \"512\", \"command\": \"redis\","
        + " \"bundled\": \"admin:8080, metrics:9100\", \"sleepAfterSeconds\": \"300\","
        + " \"archiveAfterSeconds\": \"3600\", \"deleteAfterSeconds\": \"86400\","
        + " \"minActive\": \"1\", \"maxLeasesPerVm\": \"20\", \"maxInstances\": \"5\","
        + " \"stateless\": true, \"priority\": \"-10\", \"preemptible\": true}"));
    assertEquals("img", d.getImage());
    assertEquals(2, d.getVcpus());
    assertEquals(512, d.getMemoryMb());
    assertEquals("redis", d.getCommand());
    assertEquals(2, d.getBundledCount());
    assertEquals("metrics", d.getBundled(1).getName());
    assertEquals(9100, d.getBundled(1).getPort());
    assertEquals(300, d.getSleepAfterSeconds());
    assertEquals(3600, d.getArchiveAfterSeconds());
    assertEquals(86400, d.getDeleteAfterSeconds());
    assertEquals(1, d.getMinActive());
    assertEquals(20, d.getMaxLeasesPerVm());
    assertEquals(5, d.getMaxInstances());
    assertTrue(d.getStateless());
    assertEquals(-10, d.getPriority());
    assertTrue(d.getPreemptible());
  }

  @Test
  void whatIsNotAFormIsRefusedNamingTheField() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> ServiceForm.definition(form("{\"name\": \"x\", \"ports\": \"80\"}")));
    assertTrue(unknown.getMessage().contains("'ports'"), unknown.getMessage());
    IllegalArgumentException notANumber = assertThrows(IllegalArgumentException.class,
        () -> ServiceForm.definition(form("{\"name\": \"x\", \"port\": \"eighty\"}")));
    assertTrue(notANumber.getMessage().contains("'port'")
        && notANumber.getMessage().contains("eighty"), notANumber.getMessage());
    IllegalArgumentException bundle = assertThrows(IllegalArgumentException.class,
        () -> ServiceForm.definition(form("{\"name\": \"x\", \"bundled\": \"admin\"}")));
    assertTrue(bundle.getMessage().contains("'admin'"), bundle.getMessage());
  }
}

package org.servicefarm.controller.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LabelSyntax;
import org.servicefarm.controller.model.PlacementPolicy;

/** A definition's placement rules and host labels as DefineService and LabelHost check them. */
class PlacementValidationTest {

  private static String refusal(ServiceDefinition d) {
    return assertThrows(FarmException.InvalidInput.class, () -> PlacementAdmin.policyOf(d))
        .getMessage();
  }

  @Test
  void aDefinitionsRulesAreReadWithTheirDefaults() {
    PlacementPolicy policy = PlacementAdmin.policyOf(ServiceDefinition.newBuilder()
        .putConstraints("zone", "a").setSpreadBy("rack").build());
    assertEquals(new PlacementPolicy(Map.of("zone", "a"), "rack", false, 1), policy);
    assertEquals(PlacementPolicy.NONE,
        PlacementAdmin.policyOf(ServiceDefinition.getDefaultInstance()));
  }

  @Test
  void badRulesAreRefusedNamingTheFieldAndValue() {
    assertTrue(refusal(ServiceDefinition.newBuilder().putConstraints("Zone", "a").build())
        .contains("definition.constraints: label key 'Zone'"));
    assertTrue(refusal(ServiceDefinition.newBuilder().putConstraints("zone", "a b").build())
        .contains("value 'a b' of label zone"));
    assertTrue(refusal(ServiceDefinition.newBuilder().setSpreadBy("rack").setSpreadMaxSkew(-1)
        .build()).contains("definition.spread_max_skew"));
    assertTrue(refusal(ServiceDefinition.newBuilder().setSpreadHard(true).build())
        .contains("need definition.spread_by"));
    assertTrue(refusal(ServiceDefinition.newBuilder().setSpreadBy("=").build())
        .contains("definition.spread_by: label key '='"));
  }

  @Test
  void tooManyLabelsAreRefused() {
    Map<String, String> many = new HashMap<>();
    for (int i = 0; i <= LabelSyntax.MAX_LABELS; i++) {
      many.put("k" + i, "v");
    }
    String message = assertThrows(FarmException.InvalidInput.class,
        () -> LabelSyntax.labels("labels", many)).getMessage();
    assertTrue(message.contains("33 labels, more than the 32 allowed"), message);
  }
}

package org.servicefarm.controller.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The access policy, method by method: who may call, written as a person would check it. */
class MethodRolesTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "grpc.health.v1.Health/Check, open",
    "grpc.health.v1.Health/Watch, open",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo, open",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo, open",
    "servicefarm.v1.ServiceBroker/RequestService, client admin gateway",
    "servicefarm.v1.ServiceBroker/ListServices, client admin",
    "servicefarm.v1.ServiceBroker/GetVm, client admin",
    "servicefarm.v1.ServiceBroker/RenewLease, client admin gateway",
    "servicefarm.v1.ServiceBroker/ReleaseLease, client admin gateway",
    "servicefarm.v1.GatewayRoutes/WatchRoutes, gateway admin",
    "servicefarm.v1.ServiceBroker/WatchOperation, client admin",
    "servicefarm.v1.FarmAdmin/DefineService, admin",
    "servicefarm.v1.FarmAdmin/DeleteService, admin",
    "servicefarm.v1.FarmAdmin/DeleteVm, admin",
    "servicefarm.v1.FarmAdmin/DrainHost, admin",
    "servicefarm.v1.TokenAdmin/CreateToken, admin",
    "servicefarm.v1.TokenAdmin/RevokeToken, admin",
    "servicefarm.v1.ImageStore/FetchBlob, admin certified_agent",
    "servicefarm.v1.ImageStore/StatBlob, admin certified_agent",
    "servicefarm.v1.ImageStore/PutBlob, admin certified_agent",
    "servicefarm.v1.AgentControl/Connect, agent",
    "servicefarm.v1.Unheard/Anything, nobody",
    "servicefarm.v1.ImageStore/DeleteBlob, nobody",
  })
  void eachMethodIsOpenToExactlyItsRoles(String method, String expected) {
    var access = MethodRoles.of(method);
    switch (expected) {
      case "nobody" -> assertTrue(access.isEmpty(), method + " is refused to everyone");
      case "open" -> assertTrue(access.orElseThrow().open(), method + " is open");
      default -> {
        Set<Role> roles = Set.of(expected.split(" ")).stream()
            .map(label -> Role.valueOf(label.toUpperCase(java.util.Locale.ROOT)))
            .collect(Collectors.toSet());
        for (Role role : EnumSet.allOf(Role.class)) {
          assertEquals(roles.contains(role), access.orElseThrow().allows(role),
              method + " for role " + role.label());
        }
      }
    }
  }
}

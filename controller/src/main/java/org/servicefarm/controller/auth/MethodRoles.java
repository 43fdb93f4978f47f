package org.servicefarm.controller.auth;

import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which roles may call which method: the farm's whole access policy in one table. A method is
 * looked up by its full name first, then by its service; a method in neither is refused, so a new
 * service is closed until someone writes it down here.
 */
public final class MethodRoles {

  /** What a lookup answers: open to anyone, or the roles that may call. */
  public record Access(boolean open, Set<Role> roles) {
    static Access anyone() {
      return new Access(true, Set.of());
    }

    static Access only(Role first, Role... rest) {
      return new Access(false, Set.copyOf(EnumSet.of(first, rest)));
    }

    public boolean allows(Role role) {
      return open || roles.contains(role);
    }
  }

  // Health and reflection say nothing a caller could abuse and probes must reach them unauthenticated.
  private static final Map<String, Access> BY_SERVICE = Map.of(
      "grpc.health.v1.Health", Access.anyone(),
      "grpc.reflection.v1.ServerReflection", Access.anyone(),
      "grpc.reflection.v1alpha.ServerReflection", Access.anyone(),
      "servicefarm.v1.ServiceBroker", Access.only(Role.CLIENT, Role.ADMIN),
      "servicefarm.v1.FarmAdmin", Access.only(Role.ADMIN),
      "servicefarm.v1.TokenAdmin", Access.only(Role.ADMIN),
      "servicefarm.v1.AuditLog", Access.only(Role.ADMIN),
      "servicefarm.v1.ProjectAdmin", Access.only(Role.ADMIN),
      "servicefarm.v1.GatewayRoutes", Access.only(Role.GATEWAY, Role.ADMIN),
      "servicefarm.v1.AgentControl", Access.only(Role.AGENT));

  // The image store holds every image and every VM's archive: only an agent known by its
  // certificate, or an admin token (which an agent may hold in plaintext mode), reaches it.
  private static final Map<String, Access> BY_METHOD = Map.of(
      "servicefarm.v1.ImageStore/FetchBlob", Access.only(Role.ADMIN, Role.CERTIFIED_AGENT),
      "servicefarm.v1.ImageStore/StatBlob", Access.only(Role.ADMIN, Role.CERTIFIED_AGENT),
      "servicefarm.v1.ImageStore/PutBlob", Access.only(Role.ADMIN, Role.CERTIFIED_AGENT),
      // A client reads its own project's usage against its quota.
      "servicefarm.v1.ProjectAdmin/GetProjectUsage", Access.only(Role.CLIENT, Role.ADMIN),
      // A gateway asks for VMs as a client does and holds their leases; nothing more.
      "servicefarm.v1.ServiceBroker/RequestService",
      Access.only(Role.CLIENT, Role.ADMIN, Role.GATEWAY),
      "servicefarm.v1.ServiceBroker/RenewLease", Access.only(Role.CLIENT, Role.ADMIN, Role.GATEWAY),
      "servicefarm.v1.ServiceBroker/ReleaseLease",
      Access.only(Role.CLIENT, Role.ADMIN, Role.GATEWAY));

  private MethodRoles() {}

  /** Who may call the method ("package.Service/Method"); empty when nobody may. */
  public static Optional<Access> of(String fullMethodName) {
    Access exact = BY_METHOD.get(fullMethodName);
    if (exact != null) {
      return Optional.of(exact);
    }
    int slash = fullMethodName.indexOf('/');
    String service = slash < 0 ? fullMethodName : fullMethodName.substring(0, slash);
    return Optional.ofNullable(BY_SERVICE.get(service));
  }
}

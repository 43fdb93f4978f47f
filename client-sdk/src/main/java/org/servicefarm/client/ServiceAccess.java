package org.servicefarm.client;

import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.VmState;

/**
 * Where to reach the service the farm handed out.
 *
 * @param vmId the VM offering the service
 * @param service the service name the access is for
 * @param host the address clients connect to (a farm host, forwarding to the VM)
 * @param port the port on that host
 * @param state the VM's state when the farm answered
 * @param created true when this request made the farm build the VM
 * @param lease the hold this request got on the VM (null from a farm that grants none); renew it
 *     or the VM may go to sleep once it expires, release it when done
 * @param gatewayAddress the service's stable "host:port" on the farm's gateways, which reaches it
 *     whatever its VM's state (empty from a farm without gateway ports)
 */
public record ServiceAccess(
    String vmId, String service, String host, int port, VmState state, boolean created,
    Lease lease, String gatewayAddress) {

  /** Access with a lease and no gateway address. */
  public ServiceAccess(
      String vmId, String service, String host, int port, VmState state, boolean created,
      Lease lease) {
    this(vmId, service, host, port, state, created, lease, "");
  }

  /** Access without a lease. */
  public ServiceAccess(
      String vmId, String service, String host, int port, VmState state, boolean created) {
    this(vmId, service, host, port, state, created, null);
  }

  /** "host:port", with IPv6 hosts in brackets, ready for a socket or a URL authority. */
  public String endpoint() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** The same answer as the API message, for printing it as the API would. */
  public RequestServiceResponse toProto() {
    RequestServiceResponse.Builder response = RequestServiceResponse.newBuilder()
        .setVmId(vmId)
        .setAccess(Access.newBuilder().setService(service).setHost(host).setPort(port))
        .setState(state)
        .setCreated(created);
    if (lease != null) {
      response.setLease(lease.toProto());
    }
    if (!gatewayAddress.isEmpty()) {
      int colon = gatewayAddress.lastIndexOf(':');
      response.setGatewayAddress(gatewayAddress)
          .setGatewayPort(Integer.parseInt(gatewayAddress.substring(colon + 1)));
    }
    return response.build();
  }

  /**
   * @param requested the service name asked for, used when the server left the access's name empty
   */
  static ServiceAccess fromProto(RequestServiceResponse response, String requested) {
    Access access = response.getAccess();
    String service = access.getService().isEmpty() ? requested : access.getService();
    return new ServiceAccess(response.getVmId(), service, access.getHost(), access.getPort(),
        response.getState(), response.getCreated(),
        response.hasLease() ? Lease.fromProto(response.getLease()) : null,
        response.getGatewayAddress());
  }
}

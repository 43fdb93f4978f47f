package org.servicefarm.client;

import java.time.Duration;
import org.servicefarm.api.v1.GetVmRequest;
import org.servicefarm.api.v1.ListServicesRequest;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerBlockingStub;
import org.servicefarm.api.v1.Vm;

/** What {@link FarmClient} reads from ServiceBroker besides requests: offered services, a VM. */
final class BrokerReadCalls {
  private final ServiceBrokerBlockingStub broker;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  BrokerReadCalls(ServiceBrokerBlockingStub broker, UnaryCaller caller, Duration callDeadline) {
    this.broker = broker;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  ListServicesResponse listServices() {
    return caller.blocking(
        new CallPlan(ServiceBrokerGrpc.getListServicesMethod(), "", true, callDeadline),
        deadline -> broker.withDeadline(deadline)
            .listServices(ListServicesRequest.getDefaultInstance()));
  }

  Vm getVm(String vmId) {
    GetVmRequest request = GetVmRequest.newBuilder().setVmId(vmId).build();
    return caller.blocking(new CallPlan(ServiceBrokerGrpc.getGetVmMethod(), vmId, true,
        callDeadline), deadline -> broker.withDeadline(deadline).getVm(request));
  }
}

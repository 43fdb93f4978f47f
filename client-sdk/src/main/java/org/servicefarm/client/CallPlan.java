package org.servicefarm.client;

import io.grpc.MethodDescriptor;
import java.time.Duration;

/**
 * What {@link UnaryCaller} needs to know about one call besides the call itself.
 *
 * @param method the RPC, so errors can say which call failed and NOT_FOUND on RequestService can
 *     become {@link ServiceNotFoundException}
 * @param subject what the call is about (a service name, a VM id), for error messages; "" if none
 * @param idempotent whether repeating the call is harmless, which alone permits retrying it
 * @param timeout the whole call's budget, retries and backoff pauses included
 */
record CallPlan(
    MethodDescriptor<?, ?> method, String subject, boolean idempotent, Duration timeout) {

  /** The RPC's short name, "RequestService" rather than "servicefarm.v1.ServiceBroker/...". */
  String methodName() {
    String bare = method.getBareMethodName();
    return bare != null ? bare : method.getFullMethodName();
  }
}

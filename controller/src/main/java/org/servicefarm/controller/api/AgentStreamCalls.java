package org.servicefarm.controller.api;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.concurrent.Executor;
import org.servicefarm.api.v1.AgentControlGrpc;

/**
 * Agents' streams are called on the transport's thread, without a hop to the server's executor
 * per message: {@link AgentControlService} hands what may block to its own pool, in order, and
 * handles the quiet majority (Alive, load reports) in place. Each hop cost more than the
 * message. Every other call keeps the server's executor.
 */
public final class AgentStreamCalls implements ServerCallExecutorSupplier {
  private static final String AGENT_STREAM =
      AgentControlGrpc.getConnectMethod().getFullMethodName();
  private static final Executor IN_PLACE = Runnable::run;

  @Override
  public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
    return AGENT_STREAM.equals(call.getMethodDescriptor().getFullMethodName()) ? IN_PLACE : null;
  }
}

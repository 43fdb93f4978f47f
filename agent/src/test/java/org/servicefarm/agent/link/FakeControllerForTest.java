package org.servicefarm.agent.link;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;
import org.servicefarm.api.v1.Registered;

/**
 * Stands in for the controller's AgentControl service in tests: records what the agent sends,
 * answers Register with Registered, and lets a test push commands down the latest stream.
 */
final class FakeControllerForTest extends AgentControlGrpc.AgentControlImplBase {

  final BlockingQueue<Register> registrations = new LinkedBlockingQueue<>();
  final BlockingQueue<LoadReport> loadReports = new LinkedBlockingQueue<>();
  final BlockingQueue<CommandResult> results = new LinkedBlockingQueue<>();
  final CountDownLatch agentHalfClosed = new CountDownLatch(1);
  /** Alive messages, in order with the load reports: each adds a marker to {@link #quiet}. */
  final BlockingQueue<String> quiet = new LinkedBlockingQueue<>();
  /** Whether Registered says this controller takes delta reports (the previous release: no). */
  volatile boolean deltaReports;

  private final int reportIntervalSeconds;
  private volatile StreamObserver<ControllerMessage> agent;

  FakeControllerForTest(int reportIntervalSeconds) {
    this.reportIntervalSeconds = reportIntervalSeconds;
  }

  @Override
  public StreamObserver<AgentMessage> connect(StreamObserver<ControllerMessage> responses) {
    return new StreamObserver<>() {
      @Override
      public void onNext(AgentMessage message) {
        switch (message.getKindCase()) {
          case REGISTER -> {
            agent = responses;
            write(responses, ControllerMessage.newBuilder().setRegistered(
                Registered.newBuilder().setReportIntervalSeconds(reportIntervalSeconds)
                    .setDeltaReports(deltaReports)).build());
            registrations.add(message.getRegister());
          }
          case LOAD -> loadReports.add(message.getLoad());
          case ALIVE -> quiet.add("alive");
          case RESULT -> results.add(message.getResult());
          case KIND_NOT_SET -> throw new AssertionError("agent sent an empty message");
        }
      }

      @Override
      public void onError(Throwable t) {
        // The agent went away; the test asserts on what arrived before.
      }

      @Override
      public void onCompleted() {
        agentHalfClosed.countDown();
        responses.onCompleted();
      }
    };
  }

  void send(Command command) {
    StreamObserver<ControllerMessage> stream = agent;
    if (stream == null) {
      throw new AssertionError("no agent has registered yet");
    }
    write(stream, ControllerMessage.newBuilder().setCommand(command).build());
  }

  private static void write(StreamObserver<ControllerMessage> stream, ControllerMessage message) {
    synchronized (stream) {
      stream.onNext(message);
    }
  }
}

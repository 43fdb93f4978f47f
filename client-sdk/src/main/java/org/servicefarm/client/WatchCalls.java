package org.servicefarm.client;

import io.grpc.Channel;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.WatchOperationRequest;

/**
 * The calls that follow something over time for {@link FarmClient}: a request's operation, and
 * the farm's events. Kept apart so FarmClient stays a list of one-line calls.
 */
final class WatchCalls {
  private final Channel channel;
  private final FarmClientOptions options;
  private final UnaryCaller caller;
  private final StatusMapper statusMapper;

  WatchCalls(Channel channel, FarmClientOptions options, UnaryCaller caller,
      StatusMapper statusMapper) {
    this.channel = channel;
    this.options = options;
    this.caller = caller;
    this.statusMapper = statusMapper;
  }

  /**
   * Sends the request with no_wait, follows its operation, and answers as RequestService would:
   * the access, or the exception its failure maps to.
   */
  ServiceAccess requestWithProgress(RequestServiceRequest request, CallPlan plan,
      Consumer<OperationUpdate> progress) {
    RequestServiceRequest noWait = request.toBuilder().setNoWait(true).build();
    String operationId = caller.blocking(plan, deadline -> ServiceBrokerGrpc
        .newBlockingStub(channel).withDeadline(deadline).requestService(noWait))
        .getOperationId();
    OperationUpdate last = watchOperation(operationId, progress, plan);
    if (last.getPhase() == OperationPhase.OPERATION_PHASE_READY) {
      return ServiceAccess.fromProto(last.getResult(), request.getService());
    }
    Status failed = Status.fromCodeValue(last.getErrorCode()).withDescription(last.getError());
    throw statusMapper.map(failed.asRuntimeException(), plan, 1);
  }

  /** Follows the operation until it is done; returns its last update. */
  OperationUpdate watchOperation(String operationId, Consumer<OperationUpdate> onUpdate) {
    return watchOperation(operationId, onUpdate, new CallPlan(
        ServiceBrokerGrpc.getWatchOperationMethod(), operationId, false,
        options.requestServiceDeadline()));
  }

  private OperationUpdate watchOperation(String operationId, Consumer<OperationUpdate> onUpdate,
      CallPlan plan) {
    // The farm gives up on a request after its own wait; this deadline only guards against a
    // farm that went silent.
    Deadline deadline = Deadline.after(plan.timeout().toMillis(), TimeUnit.MILLISECONDS);
    WatchOperationRequest request =
        WatchOperationRequest.newBuilder().setOperationId(operationId).build();
    CallPlan watchPlan = new CallPlan(ServiceBrokerGrpc.getWatchOperationMethod(), operationId,
        false, plan.timeout());
    try {
      Iterator<OperationUpdate> updates = ServiceBrokerGrpc.newBlockingStub(channel)
          .withDeadline(deadline).watchOperation(request);
      OperationUpdate last = null;
      while (updates.hasNext()) {
        last = updates.next();
        onUpdate.accept(last);
        if (last.getDone()) {
          return last;
        }
      }
      throw new FarmException(Status.Code.INTERNAL, "", "WatchOperation of " + operationId
          + " ended before the operation was done", null);
    } catch (StatusRuntimeException e) {
      throw statusMapper.map(e, watchPlan, 1);
    }
  }

  List<Event> listEvents(EventFilter filter) {
    CallPlan plan = new CallPlan(FarmAdminGrpc.getListEventsMethod(), "", true,
        options.callDeadline());
    return caller.blocking(plan, deadline -> FarmAdminGrpc.newBlockingStub(channel)
        .withDeadline(deadline).listEvents(filter.toListRequest()).getEventsList());
  }

  /**
   * Streams matching events to {@code onEvent}, one at a time on a gRPC thread: the next one is
   * asked for when the consumer returns, so a slow consumer slows the stream, not the farm.
   */
  Subscription watchEvents(EventFilter filter, Consumer<Event> onEvent) {
    Subscription subscription = new Subscription();
    CallPlan plan = new CallPlan(FarmAdminGrpc.getWatchEventsMethod(), "", false,
        options.callDeadline());
    FarmAdminGrpc.newStub(channel).watchEvents(filter.toWatchRequest(),
        new ClientResponseObserver<org.servicefarm.api.v1.WatchEventsRequest, Event>() {
          @Override
          public void beforeStart(
              ClientCallStreamObserver<org.servicefarm.api.v1.WatchEventsRequest> call) {
            subscription.attach(call);
          }

          @Override
          public void onNext(Event event) {
            onEvent.accept(event);
          }

          @Override
          public void onError(Throwable t) {
            if (Status.fromThrowable(t).getCode() == Status.Code.CANCELLED
                && subscription.done().isDone()) {
              return; // cancelled by us
            }
            subscription.failed(statusMapper.map(t, plan, 1));
          }

          @Override
          public void onCompleted() {
            subscription.finished();
          }
        });
    return subscription;
  }
}

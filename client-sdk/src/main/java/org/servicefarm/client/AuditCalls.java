package org.servicefarm.client;

import java.time.Duration;
import java.util.List;
import org.servicefarm.api.v1.AuditLogGrpc;
import org.servicefarm.api.v1.AuditLogGrpc.AuditLogBlockingStub;
import org.servicefarm.api.v1.AuditRecord;
import org.servicefarm.api.v1.ListAuditRecordsRequest;

/**
 * Reading the audit trail (admin tokens only), from {@link FarmClient#audit()}: who changed the
 * farm, and who was refused. Reads are retried like every other read.
 */
public final class AuditCalls {
  private final AuditLogBlockingStub stub;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  AuditCalls(AuditLogBlockingStub stub, UnaryCaller caller, Duration callDeadline) {
    this.stub = stub;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  /**
   * Records oldest first: the newest {@code limit} when {@code afterId} is 0, otherwise those
   * after it.
   *
   * @param callerName only this caller's records (a token's name or an agent's host id); null for all
   * @param target only records naming this target; null for all
   * @param limit 1 to 1000
   */
  public List<AuditRecord> list(String callerName, String target, long afterId, int limit) {
    ListAuditRecordsRequest request = ListAuditRecordsRequest.newBuilder()
        .setCaller(callerName == null ? "" : callerName).setTarget(target == null ? "" : target)
        .setAfterId(afterId).setLimit(limit).build();
    return caller.blocking(
        new CallPlan(AuditLogGrpc.getListAuditRecordsMethod(), target == null ? "" : target, true,
            callDeadline),
        deadline -> stub.withDeadline(deadline).listAuditRecords(request).getRecordsList());
  }
}

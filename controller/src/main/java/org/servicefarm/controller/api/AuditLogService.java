package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.AuditLogGrpc;
import org.servicefarm.api.v1.AuditRecord;
import org.servicefarm.api.v1.ListAuditRecordsRequest;
import org.servicefarm.api.v1.ListAuditRecordsResponse;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.Database;

/** AuditLog: reading the audit trail (admins only, see MethodRoles). */
public final class AuditLogService extends AuditLogGrpc.AuditLogImplBase {
  static final int DEFAULT_LIMIT = 100;
  static final int MAX_LIMIT = 1000;

  private final Database db;
  private final AuditRepository records;

  public AuditLogService(Database db, AuditRepository records) {
    this.db = db;
    this.records = records;
  }

  @Override
  public void listAuditRecords(ListAuditRecordsRequest request,
      StreamObserver<ListAuditRecordsResponse> out) {
    int limit = request.getLimit() == 0 ? DEFAULT_LIMIT : request.getLimit();
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new FarmException.InvalidInput("limit " + request.getLimit() + " is out of range;"
          + " give 1 to " + MAX_LIMIT + ", or 0 for " + DEFAULT_LIMIT);
    }
    if (request.getAfterId() < 0) {
      throw new FarmException.InvalidInput("after_id " + request.getAfterId() + " is negative");
    }
    ListAuditRecordsResponse.Builder response = ListAuditRecordsResponse.newBuilder();
    records.page(db, blankToNull(request.getCaller()), blankToNull(request.getTarget()),
            request.getAfterId(), limit)
        .forEach(r -> response.addRecords(toProto(r)));
    out.onNext(response.build());
    out.onCompleted();
  }

  static AuditRecord toProto(org.servicefarm.controller.model.AuditRecord r) {
    return AuditRecord.newBuilder().setId(r.id()).setAt(ProtoMapping.timestamp(r.at()))
        .setCallerKind(r.callerKind()).setTokenId(r.tokenId() == null ? "" : r.tokenId().toString())
        .setCaller(r.caller()).setPeer(r.peer()).setMethod(r.method()).setTarget(r.target())
        .setOutcome(r.outcome()).setDetail(r.detail()).setCallCount(r.callCount()).build();
  }

  private static String blankToNull(String value) {
    return value.isBlank() ? null : value;
  }
}

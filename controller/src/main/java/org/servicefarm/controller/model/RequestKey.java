package org.servicefarm.controller.model;

/**
 * Who sent a request and the idempotency key it carried. A key belongs to its caller: the same
 * key from another caller is another request, so a repeat can only ever answer what the same
 * caller was answered before (never another caller's lease, operation or service name).
 *
 * @param caller who sent the request ({@code token:<id>}, or {@code anonymous} without
 *     authentication), 1 to 64 characters
 * @param idempotencyKey the key the caller sent; null when it sent none
 * @param project the project the caller acts in; null for a farm-wide caller
 */
public record RequestKey(String caller, String idempotencyKey, String project) {

  public RequestKey {
    if (caller == null || caller.isEmpty() || caller.length() > 64) {
      throw new IllegalArgumentException("a request's caller must be 1 to 64 characters");
    }
  }

  /** A farm-wide caller's request. */
  public RequestKey(String caller, String idempotencyKey) {
    this(caller, idempotencyKey, null);
  }

  public ProjectScope scope() {
    return ProjectScope.of(project);
  }

  /** Whether the request carried a key (and so can be repeated). */
  public boolean keyed() {
    return idempotencyKey != null;
  }

  /** A request of this caller without a key. */
  public RequestKey unkeyed() {
    return new RequestKey(caller, null, project);
  }
}

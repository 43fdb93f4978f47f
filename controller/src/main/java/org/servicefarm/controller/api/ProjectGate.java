package org.servicefarm.controller.api;

import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectOwnership;
import org.servicefarm.controller.model.ProjectScope;

/**
 * Checks, before a call touches a VM, lease, operation or definition by id or name, that it is in
 * the caller's project ({@link Caller#scope()}). Something of another project is answered exactly
 * as something that does not exist, so ids and names of other projects say nothing.
 */
final class ProjectGate {
  private final Database db;
  private final ProjectOwnership owners;

  ProjectGate(Database db, ProjectOwnership owners) {
    this.db = db;
    this.owners = owners;
  }

  /**
   * Refuses a caller whose token is bound to a project: the action concerns the whole farm.
   *
   * @throws FarmException.PermissionDenied naming what needs a farm-wide token
   */
  static void requireFarmWide(String action) {
    String bound = Caller.tokenProject();
    if (bound != null) {
      throw new FarmException.PermissionDenied(action + " needs a farm-wide admin token; this"
          + " token is bound to project '" + bound + "'");
    }
  }

  void requireVm(UUID vmId) {
    ProjectScope scope = Caller.scope();
    if (!scope.farmWide() && !visible(db.inTransaction(tx -> owners.ofVm(tx, vmId)), scope)) {
      throw new FarmException.NotFound("no VM with id " + vmId);
    }
  }

  void requireLease(UUID leaseId) {
    ProjectScope scope = Caller.scope();
    if (!scope.farmWide()
        && !visible(db.inTransaction(tx -> owners.ofLease(tx, leaseId)), scope)) {
      throw new FarmException.NotFound("no lease with id " + leaseId);
    }
  }

  void requireOperation(UUID operationId) {
    ProjectScope scope = Caller.scope();
    if (!scope.farmWide()
        && !visible(db.inTransaction(tx -> owners.ofOperation(tx, operationId)), scope)) {
      throw new FarmException.NotFound("no operation with id " + operationId
          + " of this caller (operation ids come from RequestService with no_wait)");
    }
  }

  /**
   * Refuses a change of a definition outside the caller's project: NOT_FOUND when it cannot see
   * it, PERMISSION_DENIED for a shared definition of another project (which it sees).
   */
  void requireOwnDefinition(String name) {
    ProjectScope scope = Caller.scope();
    if (scope.farmWide()) {
      return;
    }
    Optional<ProjectOwnership.DefinitionOwner> owner =
        db.inTransaction(tx -> owners.ofDefinition(tx, name));
    if (owner.isEmpty() || !scope.seesDefinition(owner.get().project(), owner.get().shared())) {
      throw new FarmException.NotFound("no service definition named '" + name + "'");
    }
    if (!scope.sees(owner.get().project())) {
      throw new FarmException.PermissionDenied("definition '" + name + "' is shared by the whole"
          + " farm; only a farm-wide admin token changes it");
    }
  }

  /** The project a definition is filed under, and whether it is shared. */
  record Owner(String project, boolean shared) {}

  /**
   * Where a definition being defined goes: the project the caller named (a farm-wide caller
   * only), else the caller's project, else the project that has it already, else
   * {@code default}. Only a farm-wide token shares a definition with every project.
   */
  Owner ownerOfNewDefinition(String name, String named, boolean shared) {
    ProjectScope scope = Caller.scope();
    if (shared) {
      requireFarmWide("a shared definition");
    }
    if (!named.isEmpty()) {
      org.servicefarm.controller.projects.ProjectRegistry.validName("definition.project", named);
      if (!scope.sees(named) || !db.inTransaction(tx -> owners.projectExists(tx, named))) {
        throw new FarmException.NotFound("no project '" + named + "'");
      }
      return new Owner(named, shared);
    }
    if (!scope.farmWide()) {
      return new Owner(scope.project(), shared);
    }
    String existing = db.inTransaction(tx -> owners.ofDefinition(tx, name))
        .map(ProjectOwnership.DefinitionOwner::project).orElse(ProjectScope.DEFAULT);
    return new Owner(existing, shared);
  }

  private static boolean visible(Optional<String> project, ProjectScope scope) {
    return project.isPresent() && scope.sees(project.get());
  }
}

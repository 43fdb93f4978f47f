package org.servicefarm.controller.projects;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.model.ProjectRecord.Quota;
import org.servicefarm.controller.model.ProjectRecord.Usage;
import org.servicefarm.controller.model.ProjectScope;

/** Creates, lists, deletes projects and sets their quotas; reads what each holds. */
public final class ProjectRegistry {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

  /** A project with what it holds now. */
  public record ProjectView(ProjectRecord project, Usage usage) {}

  private final Database db;
  private final ProjectRepository projects;

  public ProjectRegistry(Database db, ProjectRepository projects) {
    this.db = db;
    this.projects = projects;
  }

  /** The name, checked: 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit. */
  public static String validName(String field, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      String shown = name == null ? "" : name.length() > 70 ? name.substring(0, 64) + "..." : name;
      throw new FarmException.InvalidInput(field + ": '" + shown + "' is not a project name"
          + " (1 to 63 of a-z, 0-9 and '-', starting with a letter or digit)");
    }
    return name;
  }

  public boolean exists(String name) {
    return db.inTransaction(tx -> projects.find(tx, name)).isPresent();
  }

  /**
   * @throws FarmException.Conflict when a project has (or had) the name
   */
  public ProjectView create(String name, Quota quota) {
    validName("name", name);
    ProjectRecord created = db.inTransaction(tx -> {
      Optional<ProjectRecord> row = projects.insert(tx, name, quota);
      if (row.isEmpty()) {
        throw new FarmException.Conflict(projects.wasDeleted(tx, name)
            ? "project '" + name + "' was deleted; its history keeps the name, choose another"
            : "project '" + name + "' exists");
      }
      return row.get();
    });
    return new ProjectView(created, Usage.NONE);
  }

  /** The projects in scope: every one for the whole farm, else the caller's own. */
  public List<ProjectView> list(ProjectScope scope) {
    return db.inTransaction(tx -> {
      List<ProjectView> views = new java.util.ArrayList<>();
      for (ProjectRecord p : projects.list(tx)) {
        if (scope.sees(p.name())) {
          views.add(new ProjectView(p, projects.usage(tx, p.name())));
        }
      }
      return views;
    });
  }

  /** The project with its usage; NotFound also when it is outside the scope. */
  public ProjectView get(ProjectScope scope, String name) {
    validName("name", name);
    return db.inTransaction(tx -> projects.find(tx, name).filter(p -> scope.sees(p.name()))
        .map(p -> new ProjectView(p, usageOf(tx, name)))
        .orElseThrow(() -> notFound(name)));
  }

  /**
   * Replaces each limit given (a negative one: removes it), keeping the others.
   *
   * @throws FarmException.NotFound when there is no such project
   */
  public ProjectView setQuota(String name, Quota given) {
    validName("name", name);
    return db.inTransaction(tx -> {
      ProjectRecord p = projects.find(tx, name).orElseThrow(() -> notFound(name));
      Quota old = p.quota();
      Quota merged = new Quota(
          merge(given.vcpus(), old.vcpus()),
          merge(given.memoryMb(), old.memoryMb()),
          merge(given.vms(), old.vms()),
          merge(given.storedBytes(), old.storedBytes()));
      projects.setQuota(tx, name, merged);
      return new ProjectView(new ProjectRecord(name, p.createdAt(), merged), usageOf(tx, name));
    });
  }

  /**
   * Deletes an empty project.
   *
   * @throws FarmException.Conflict for {@code default} and for a project that still holds things
   */
  public ProjectView delete(String name) {
    validName("name", name);
    if (name.equals(ProjectScope.DEFAULT)) {
      throw new FarmException.Conflict("project 'default' cannot be deleted: it holds what"
          + " farm-wide callers create");
    }
    return db.inTransaction(tx -> {
      ProjectRecord p = projects.find(tx, name).orElseThrow(() -> notFound(name));
      ProjectRepository.Holdings held = projects.holdings(tx, name);
      if (!held.none()) {
        throw new FarmException.Conflict("project '" + name + "' still has " + held.definitions()
            + " definition(s), " + held.vms() + " VM(s) not deleted and " + held.tokens()
            + " live token(s); delete and revoke them first");
      }
      projects.markDeleted(tx, name);
      return new ProjectView(p, Usage.NONE);
    });
  }

  private Usage usageOf(Database.Tx tx, String name) {
    try {
      return projects.usage(tx, name);
    } catch (java.sql.SQLException e) {
      throw org.servicefarm.controller.db.DatabaseException.from(e);
    }
  }

  private static <T extends Number> T merge(T given, T old) {
    if (given == null) {
      return old;
    }
    return given.longValue() < 0 ? null : given;
  }

  private static FarmException.NotFound notFound(String name) {
    return new FarmException.NotFound("no project '" + name + "'");
  }
}

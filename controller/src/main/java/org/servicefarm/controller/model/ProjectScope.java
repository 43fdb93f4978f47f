package org.servicefarm.controller.model;

/**
 * Which project a call acts in: one project (a project's token, or a farm-wide caller that named
 * one), or the whole farm ({@link #FARM}: a farm-wide admin token, or no authentication). Every
 * read and write a caller makes is filtered by it; something outside it is answered as if it did
 * not exist, so one project never learns another's names.
 *
 * @param project the project's name; null for the whole farm
 */
public record ProjectScope(String project) {
  /** The project a farm's existing data moved into, and where farm-wide callers' things go. */
  public static final String DEFAULT = "default";
  public static final ProjectScope FARM = new ProjectScope(null);

  public static ProjectScope of(String project) {
    return project == null ? FARM : new ProjectScope(project);
  }

  public boolean farmWide() {
    return project == null;
  }

  /** Whether something of {@code owner} (a project's name; null: farm-wide) is in scope. */
  public boolean sees(String owner) {
    return project == null || project.equals(owner);
  }

  /** Whether a definition of {@code owner} is visible: in scope, or shared with every project. */
  public boolean seesDefinition(String owner, boolean shared) {
    return shared || sees(owner);
  }

  /**
   * The project a new VM of a definition owned by {@code owner} belongs to: the caller's own, so
   * each project requesting a shared definition gets VMs of its own; the owner's for a farm-wide
   * caller.
   */
  public String projectFor(String owner) {
    return project != null ? project : owner;
  }

  /** The project to file a new definition, image or token under when the caller named none. */
  public String projectOrDefault() {
    return project != null ? project : DEFAULT;
  }

  @Override
  public String toString() {
    return project == null ? "the whole farm" : "project '" + project + "'";
  }
}

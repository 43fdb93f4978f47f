package org.servicefarm.controller.projects;

import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ReservationRepository;
import org.servicefarm.controller.model.FarmException;

/**
 * Capacity reserved per project: set by a farm-wide admin, read with the project. Placement keeps
 * the unused part for the project (see placement's ReservationCheck); a change takes effect at
 * the next placement.
 */
public final class ProjectReservations {
  private final Database db;
  private final ReservationRepository reservations = new ReservationRepository();

  public ProjectReservations(Database db) {
    this.db = db;
  }

  /**
   * Replaces the project's reservation (zeros remove it).
   *
   * @throws FarmException.NotFound when there is no such project
   */
  public void set(String project, int vcpus, long memoryMb) {
    ProjectRegistry.validName("name", project);
    if (!db.inTransaction(tx -> reservations.set(tx, project, vcpus, memoryMb))) {
      throw new FarmException.NotFound("no project '" + project + "'");
    }
  }

  /** The project's reservation and its use; empty when the project is gone. */
  public java.util.Optional<ReservationRepository.Reserved> of(String project) {
    return db.inTransaction(tx -> reservations.find(tx, project));
  }
}

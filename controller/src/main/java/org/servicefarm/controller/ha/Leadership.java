package org.servicefarm.controller.ha;

import java.util.Optional;

/** Whether this controller leads the farm now, and where the leader is when it does not. */
public interface Leadership {

  /** The leader as the database last named it. */
  record Leader(long epoch, String holder, String address) {}

  /** Whether this controller holds leadership now. */
  boolean isLeader();

  /** This controller's epoch while it leads; 0 when it does not. */
  long epoch();

  /** The current leader, if any controller has ever led. */
  Optional<Leader> leader();

  /** This controller's name in the leadership table (host, process id and a random suffix). */
  String self();
}

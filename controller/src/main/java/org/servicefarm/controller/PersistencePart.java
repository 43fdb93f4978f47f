package org.servicefarm.controller;

import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.ManifestRepository;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.TokenRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.ha.LeaderFence;
import org.servicefarm.controller.ha.Leadership;

/**
 * The controller's part that holds the database: the pool, the leader's fenced view of it (what
 * only the leader may change goes through the fence, see ha.LeaderFence), and one repository per
 * table group.
 */
final class PersistencePart {
  final Database db;
  final FencedDatabase leaderDb;
  final EventRepository events = new EventRepository();
  final VmRepository vms = new VmRepository(events);
  final CatalogRepository catalog = new CatalogRepository();
  final ImageRepository images = new ImageRepository();
  final ManifestRepository manifests = new ManifestRepository();
  final HostRepository hosts = new HostRepository();
  final LeaseRepository leases = new LeaseRepository();
  final OperationRepository operations = new OperationRepository();
  final AuditRepository audit = new AuditRepository();
  final TokenRepository tokens = new TokenRepository();
  final VmListings listings = new VmListings(vms, leases);
  final RequestRoutes routes = new RequestRoutes();

  PersistencePart(Database db, Leadership leadership) {
    this.db = db;
    this.leaderDb = db.fenced(new LeaderFence(leadership));
  }
}

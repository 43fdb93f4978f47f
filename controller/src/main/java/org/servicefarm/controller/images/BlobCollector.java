package org.servicefarm.controller.images;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.db.Database;

/**
 * Removes the image store's blobs that no row refers to ({@link BlobReferences}) once they are
 * older than the grace. Young blobs stay whatever refers to them: a blob is stored before the row
 * that refers to it is written (a build's layer before its image is READY, an archive before the
 * VM is ARCHIVED), and the grace covers that gap. An old blob is asked about again, alone, right
 * before it is removed, so a reference written while the collector runs (a definition that takes
 * an old image up again) keeps it. No lock is held: the reads are short transactions of their
 * own, and a request never waits for the collector.
 *
 * <p>Backups refer to blobs too, from outside the database: a backup older than the grace may
 * name blobs collected since (restore says which, see docs/operations.md).
 */
public final class BlobCollector {
  private static final Logger LOG = Logger.getLogger(BlobCollector.class.getName());

  /** One pass: what went (or would go), what stays, by kind. */
  public record Report(boolean dryRun, List<BlobStorage.StoredBlob> collected, long freedBytes,
      long keptBlobs, long keptBytes, long youngBlobs, Map<String, Long> keptBytesByKind) {}

  private final Database db;
  private final BlobReferences references;
  private final BlobStorage blobs;
  private final Duration grace;
  private final Supplier<Instant> clock;
  private final java.util.concurrent.atomic.AtomicReference<Map<String, Long>> lastBytesByKind =
      new java.util.concurrent.atomic.AtomicReference<>(Map.of());

  public BlobCollector(Database db, BlobReferences references, BlobStorage blobs,
      Duration grace) {
    this(db, references, blobs, grace, Instant::now);
  }

  BlobCollector(Database db, BlobReferences references, BlobStorage blobs, Duration grace,
      Supplier<Instant> clock) {
    this.db = db;
    this.references = references;
    this.blobs = blobs;
    this.grace = grace;
    this.clock = clock;
  }

  public Duration grace() {
    return grace;
  }

  public Report collect(boolean dryRun) {
    // References first, then the listing: a blob stored in between is young, so it stays.
    Map<String, String> referenced = db.inTransaction(references::all);
    Instant cutoff = clock.get().minus(grace);
    List<BlobStorage.StoredBlob> collected = new ArrayList<>();
    Map<String, Long> byKind = new TreeMap<>();
    long freed = 0;
    long kept = 0;
    long keptBytes = 0;
    long young = 0;
    for (BlobStorage.StoredBlob blob : blobs.list()) {
      String kind = referenced.get(blob.sha256());
      if (kind == null && blob.storedAt().isBefore(cutoff)
          && (dryRun || remove(blob))) {
        collected.add(blob);
        freed += blob.sizeBytes();
        continue;
      }
      if (kind == null && blob.storedAt().isBefore(cutoff)) {
        kind = "referenced_meanwhile";
      } else if (kind == null) {
        young++;
        kind = "unreferenced_young";
      }
      kept++;
      keptBytes += blob.sizeBytes();
      byKind.merge(kind, blob.sizeBytes(), Long::sum);
    }
    if (!dryRun && !collected.isEmpty()) {
      LOG.info("collected " + collected.size() + " unreferenced blobs (" + freed + " bytes) from"
          + " the image store; " + kept + " blobs (" + keptBytes + " bytes) stay");
    }
    lastBytesByKind.set(Map.copyOf(byKind));
    return new Report(dryRun, List.copyOf(collected), freed, kept, keptBytes, young,
        Map.copyOf(byKind));
  }

  /** The store's bytes by what refers to them, as the last pass (dry or not) counted them. */
  public Map<String, Long> lastBytesByKind() {
    return lastBytesByKind.get();
  }

  /** Removes the blob unless something refers to it by now; whether it was removed. */
  private boolean remove(BlobStorage.StoredBlob blob) {
    if (db.inTransaction(tx -> references.isReferenced(tx, blob.sha256()))) {
      return false;
    }
    return blobs.delete(blob.sha256());
  }
}

package org.servicefarm.controller.images;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.db.Database;

/**
 * Removes the image store's blobs that no row refers to ({@link BlobReferences}) once they are
 * older than the grace. Young blobs stay whatever refers to them: a blob is stored before the row
 * that refers to it is written (a build's layer before its image is READY, an archive before the
 * VM is ARCHIVED), and the grace covers that gap. An old blob is asked about again right before
 * it is removed (with at most 63 others, in one statement), so a reference written while the collector runs (a definition that takes
 * an old image up again) keeps it. No lock is held: the reads are short transactions of their
 * own, and a request never waits for the collector.
 *
 * <p>Backups refer to blobs too, from outside the database: a backup older than the grace may
 * name blobs collected since (restore says which, see docs/operations.md).
 */
public final class BlobCollector {
  private static final Logger LOG = Logger.getLogger(BlobCollector.class.getName());
  /** Old unreferenced blobs asked about again in one statement before they are removed. */
  private static final int RECHECK_BATCH = 64;

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
    List<BlobStorage.StoredBlob> candidates = new ArrayList<>();
    Tally tally = new Tally();
    for (BlobStorage.StoredBlob blob : blobs.list()) {
      String kind = referenced.get(blob.sha256());
      if (kind == null && blob.storedAt().isBefore(cutoff)) {
        candidates.add(blob);
      } else {
        tally.keep(blob, kind == null ? "unreferenced_young" : kind);
      }
    }
    List<BlobStorage.StoredBlob> collected = new ArrayList<>();
    for (int from = 0; from < candidates.size(); from += RECHECK_BATCH) {
      List<BlobStorage.StoredBlob> batch =
          candidates.subList(from, Math.min(candidates.size(), from + RECHECK_BATCH));
      // Asked again right before removal, a batch at a time: the window in which a new
      // reference could slip past is one batch's file deletions, a few milliseconds.
      Set<String> referencedNow = dryRun ? Set.of() : db.inTransaction(tx ->
          references.referencedAmong(tx, batch.stream().map(BlobStorage.StoredBlob::sha256)
              .toList()));
      for (BlobStorage.StoredBlob blob : batch) {
        if (!referencedNow.contains(blob.sha256()) && (dryRun || blobs.delete(blob.sha256()))) {
          collected.add(blob);
        } else {
          tally.keep(blob, "referenced_meanwhile");
        }
      }
    }
    long freed = collected.stream().mapToLong(BlobStorage.StoredBlob::sizeBytes).sum();
    if (!dryRun && !collected.isEmpty()) {
      LOG.info("collected " + collected.size() + " unreferenced blobs (" + freed + " bytes) from"
          + " the image store; " + tally.kept + " blobs (" + tally.keptBytes + " bytes) stay");
    }
    lastBytesByKind.set(Map.copyOf(tally.byKind));
    return new Report(dryRun, List.copyOf(collected), freed, tally.kept, tally.keptBytes,
        tally.young, Map.copyOf(tally.byKind));
  }

  /** What a pass keeps, by kind. */
  private static final class Tally {
    final Map<String, Long> byKind = new TreeMap<>();
    long kept;
    long keptBytes;
    long young;

    void keep(BlobStorage.StoredBlob blob, String kind) {
      kept++;
      keptBytes += blob.sizeBytes();
      if (kind.equals("unreferenced_young")) {
        young++;
      }
      byKind.merge(kind, blob.sizeBytes(), Long::sum);
    }
  }

  /** The store's bytes by what refers to them, as the last pass (dry or not) counted them. */
  public Map<String, Long> lastBytesByKind() {
    return lastBytesByKind.get();
  }
}

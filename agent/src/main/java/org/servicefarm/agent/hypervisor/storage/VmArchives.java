package org.servicefarm.agent.hypervisor.storage;

import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;
import org.servicefarm.agent.images.HostDiskSpace;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.BlobTransfers;
import org.servicefarm.agent.images.ImageException;
import org.servicefarm.agent.images.QemuReadable;

/**
 * Archived VMs live in the controller's image store, so any host can restore them: an archive is
 * one gzip-compressed blob, and its reference is the blob's digest ({@code sha256:<hex>}). This
 * class does the host's side: compress and upload, download and decompress, and remember each
 * uploaded reference until the VM is restored or deleted, so a repeated archive command whose
 * domain is already gone still answers the same reference.
 *
 * <p>Per VM it keeps a directory {@code <state-dir>/archives/<vmId>/}: {@code ref} (the
 * reference), {@code upload.gz} (while uploading), {@code <sha256>.gz} (a download, resumable)
 * and {@code restored} (the decompressed archive until it is used).
 */
public final class VmArchives {

  private static final int BUFFER_BYTES = 1 << 16;
  private static final String REF_FILE = "ref";

  private final Path root;
  private final BlobTransfers transfers;

  public VmArchives(Path stateDir, BlobTransfers transfers) {
    this.root = stateDir.toAbsolutePath().normalize().resolve("archives");
    this.transfers = transfers;
  }

  /** Compresses the file (a VM's overlay) and uploads it; returns the archive reference. */
  public String upload(String vmId, Path payload) throws ImageException, IOException {
    try (InputStream in = Files.newInputStream(payload)) {
      return upload(vmId, in);
    }
  }

  /** Compresses the bytes (a simulated VM's metadata) and uploads them; returns the reference. */
  public String upload(String vmId, String payload) throws ImageException, IOException {
    return upload(vmId, new ByteArrayInputStream(payload.getBytes(StandardCharsets.UTF_8)));
  }

  /** The reference an earlier archive of the VM uploaded, if it is not restored or deleted. */
  public Optional<String> uploadedRef(String vmId) throws IOException {
    Path ref = vmDir(vmId).resolve(REF_FILE);
    return Files.isRegularFile(ref) ? Optional.of(Files.readString(ref).trim()) : Optional.empty();
  }

  /**
   * Downloads the archive (resuming a download an earlier attempt began), verifies its digest and
   * decompresses it, stopping at {@code maxBytes}: an archive may come from any host, and one that
   * unpacks to more than its VM's disk can hold (a gzip bomb) is refused before it fills this
   * host's disk. The caller moves or deletes the returned file.
   */
  public Path download(String vmId, BlobDigest archive, long maxBytes)
      throws ImageException, IOException {
    Path dir = vmDir(vmId);
    Path compressed = dir.resolve(archive.hex() + ".gz");
    try {
      archiveDirectory(vmId);
      transfers.download(archive, 0, compressed,
          "archive " + archive.archiveRef() + " of vm " + vmId);
    } catch (IOException e) {
      if (!HostDiskSpace.isNoSpace(e)) {
        throw e; // a partial download stays, and the next attempt resumes it
      }
      // Kept, it would hold this host's disk full, and the restore may go to another host.
      long written = Files.exists(compressed) ? Files.size(compressed) : 0;
      Files.deleteIfExists(compressed);
      throw new IOException(HostDiskSpace.describeWriteFailure(compressed, written, e), e);
    }
    Path restored = dir.resolve("restored");
    long unpacked;
    try (InputStream in = new GZIPInputStream(Files.newInputStream(compressed), BUFFER_BYTES);
        OutputStream out = Files.newOutputStream(restored)) {
      unpacked = copyAtMost(in, out, maxBytes);
    } catch (ZipException e) {
      Files.deleteIfExists(restored);
      throw new ImageException("archive " + archive.archiveRef() + " of vm " + vmId
          + " is not gzip data: " + e.getMessage(), e);
    } catch (IOException e) {
      long written = Files.exists(restored) ? Files.size(restored) : 0;
      Files.deleteIfExists(restored);
      Files.deleteIfExists(compressed); // fetched again by the next attempt, here or elsewhere
      throw new IOException(HostDiskSpace.describeWriteFailure(restored, written, e), e);
    }
    Files.delete(compressed);
    if (unpacked > maxBytes) {
      Files.delete(restored);
      throw new ImageException("archive " + archive.archiveRef() + " of vm " + vmId
          + " unpacks to more than " + maxBytes + " bytes, more than the VM's disk needs:"
          + " refused");
    }
    return restored;
  }

  /** Copies up to {@code limit} bytes and one more, so a return beyond the limit says so. */
  private static long copyAtMost(InputStream in, OutputStream out, long limit) throws IOException {
    byte[] buffer = new byte[BUFFER_BYTES];
    long copied = 0;
    for (int n; copied <= limit && (n = in.read(buffer, 0,
        (int) Math.min(buffer.length, limit + 1 - copied))) >= 0; ) {
      out.write(buffer, 0, n);
      copied += n;
    }
    return copied;
  }

  /** Forgets the VM's archive and removes whatever of it is still on this host. */
  public void forget(String vmId) throws IOException {
    Path dir = vmDir(vmId);
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  private String upload(String vmId, InputStream payload) throws ImageException, IOException {
    Path dir = vmDir(vmId);
    Path compressed = dir.resolve("upload.gz");
    // Java writes no timestamp into the gzip header, so compressing the same overlay again (a
    // repeated archive) gives the same digest and the store already holds it.
    try {
      // Inside the try: on a full disk even the directory cannot be made, and the error must
      // still name the file and the room left.
      archiveDirectory(vmId);
      try (OutputStream out = new GZIPOutputStream(new BufferedOutputStream(
          Files.newOutputStream(compressed), BUFFER_BYTES), BUFFER_BYTES)) {
        payload.transferTo(out);
      }
    } catch (IOException e) {
      // A full disk, most often: no half-written archive stays, and the error says how full.
      long written = Files.exists(compressed) ? Files.size(compressed) : 0;
      Files.deleteIfExists(compressed);
      throw new IOException(HostDiskSpace.describeWriteFailure(compressed, written, e), e);
    }
    BlobDigest digest = transfers.upload(compressed, "archive of vm " + vmId);
    Path ref = dir.resolve(REF_FILE);
    Path partialRef = dir.resolve(REF_FILE + ".partial");
    Files.writeString(partialRef, digest.archiveRef() + "\n");
    Files.move(partialRef, ref,
        StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Files.delete(compressed);
    return digest.archiveRef();
  }

  /** The VM's archive directory, created if missing; archives are the agent's alone. */
  private Path archiveDirectory(String vmId) throws IOException {
    Path dir = Files.createDirectories(vmDir(vmId));
    QemuReadable.agentOnly(root);
    QemuReadable.agentOnly(dir);
    return dir;
  }

  private Path vmDir(String vmId) {
    return root.resolve(vmId);
  }
}

package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.LinkOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorException.Kind;
import org.servicefarm.agent.images.HostDiskSpace;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.images.ImageException;
import org.servicefarm.agent.images.QemuReadable;
import org.servicefarm.agent.images.TransferProgress;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.diskimage.DiskImageHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VM disks for QEMU: each VM's disk is a qcow2 overlay ({@code <state-dir>/disks/<vmId>.qcow2})
 * on the image's base in the {@link ImageCache}, so a VM costs only the blocks it writes and a
 * base image is fetched once per host. Images with their own kernel and initrd have those cached
 * the same way.
 */
public final class QemuDiskStore implements DiskStore {

  private static final Logger log = LoggerFactory.getLogger(QemuDiskStore.class);

  private static final Set<String> BASE_FORMATS = Set.of("qcow2", "raw");

  private final Path disksDir;
  private final Path consoleDir;
  private final ImageCache cache;
  private final QemuImg qemuImg;

  public QemuDiskStore(Path stateDir, ImageCache cache, QemuImg qemuImg) throws IOException {
    Path state = stateDir.toAbsolutePath().normalize();
    QemuReadable.directory(state);
    this.disksDir = QemuReadable.directory(state.resolve("disks"));
    this.consoleDir = QemuReadable.directory(state.resolve("console"));
    Optional<Path> closed = QemuReadable.untraversableAncestor(state);
    if (closed.isPresent()) {
      // Not fatal: QEMU may be configured to run as root. Otherwise every VM start fails with
      // libvirt's "Permission denied", and this line says why.
      log.warn("{} is not traversable by other users, so QEMU running as its own user cannot"
          + " reach the disks under {}: chmod o+x {} or choose another --state-dir",
          closed.get(), state, closed.get());
    }
    this.cache = cache;
    this.qemuImg = qemuImg;
  }

  @Override
  public Path diskPath(String vmId) {
    return disksDir.resolve(vmId + ".qcow2");
  }

  @Override
  public Path consoleLogPath(String vmId) {
    return consoleDir.resolve(vmId + ".log");
  }

  @Override
  public PreparedDisk prepare(String vmId, ImageRef image) throws HypervisorException {
    return prepare(vmId, image, TransferProgress.NONE);
  }

  @Override
  public PreparedDisk prepare(String vmId, ImageRef image, TransferProgress progress)
      throws HypervisorException {
    Path disk = diskPath(vmId);
    refuseToReplace(disk);
    PreparedDisk prepared = cacheBlobs(image, disk, progress);
    requireSafeBase(prepared, image);
    Path partial = disksDir.resolve("." + vmId + ".qcow2.partial");
    try {
      Files.deleteIfExists(partial);
      qemuImg.createOverlay(prepared.leases().get(0).path(), image.getFormat(), partial);
      moveWithoutReplacing(partial, disk);
      QemuReadable.file(disk);
      return prepared;
    } catch (IOException | HypervisorException e) {
      prepared.close();
      deleteQuietly(partial);
      if (HostDiskSpace.isNoSpace(e)) {
        throw new HypervisorException(Kind.NO_SPACE, "creating the overlay " + disk + ": "
            + HostDiskSpace.describeWriteFailure(partial, 0, new IOException(e.getMessage()))
            + "; the partial overlay was deleted", e);
      }
      if (e instanceof HypervisorException refused) {
        throw refused;
      }
      throw new HypervisorException(Kind.HYPERVISOR,
          "creating the overlay " + disk + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Optional<PreparedDisk> existing(String vmId, ImageRef image, TransferProgress progress)
      throws HypervisorException {
    Path disk = diskPath(vmId);
    if (!Files.isRegularFile(disk)) {
      return Optional.empty();
    }
    // An install cut between linking its new overlay into place and removing the other name.
    deleteQuietly(disksDir.resolve("." + vmId + ".qcow2.partial"));
    // The overlay names its base by the cache's path for the digest: caching the base again (a
    // no-op when it is there) is all it takes to make the disk bootable.
    return Optional.of(cacheBlobs(image, disk, progress));
  }

  @Override
  public PreparedDisk adopt(String vmId, ImageRef image, Path restoredDisk)
      throws HypervisorException {
    return adopt(vmId, image, restoredDisk, TransferProgress.NONE);
  }

  @Override
  public PreparedDisk adopt(String vmId, ImageRef image, Path restoredDisk,
      TransferProgress progress) throws HypervisorException {
    Path disk = diskPath(vmId);
    refuseToReplace(disk);
    PreparedDisk prepared = cacheBlobs(image, disk, progress);
    try {
      requireSafeBase(prepared, image);
      requireSafeOverlay(restoredDisk, header(prepared.leases().get(0).path(), "the image")
          .virtualSizeBytes());
    } catch (HypervisorException e) {
      prepared.close();
      throw e;
    }
    try {
      qemuImg.rebaseUnsafe(restoredDisk, prepared.leases().get(0).path(), image.getFormat());
      moveWithoutReplacing(restoredDisk, disk);
      QemuReadable.file(disk);
      return prepared;
    } catch (IOException | HypervisorException e) {
      prepared.close();
      if (e instanceof HypervisorException refused) {
        throw refused;
      }
      throw new HypervisorException(Kind.HYPERVISOR, "pointing the restored overlay at "
          + prepared.leases().get(0).path() + ": " + e.getMessage(), e);
    }
  }

  private static void refuseToReplace(Path disk) throws HypervisorException {
    if (Files.exists(disk, LinkOption.NOFOLLOW_LINKS)) {
      throw new HypervisorException(Kind.INVALID, "the VM's disk " + disk + " exists already;"
          + " a new disk would replace what the VM wrote (delete or archive the VM first)");
    }
  }

  /**
   * Moves {@code from} to {@code to} only if nothing is there: a hard link fails on an existing
   * name, where a rename would silently replace it (and with it a VM's disk).
   */
  private static void moveWithoutReplacing(Path from, Path to)
      throws IOException, HypervisorException {
    try {
      Files.createLink(to, from);
    } catch (FileAlreadyExistsException e) {
      throw new HypervisorException(Kind.INVALID, "the VM's disk " + to + " appeared while it"
          + " was being made; it is kept, and the new one dropped", e);
    }
    Files.delete(from);
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      log.warn("could not remove {}: {}", file, e.toString());
    }
  }

  @Override
  public void remove(String vmId) throws IOException {
    Files.deleteIfExists(diskPath(vmId));
    Files.deleteIfExists(disksDir.resolve("." + vmId + ".qcow2.partial"));
    Files.deleteIfExists(consoleLogPath(vmId));
  }

  @Override
  public List<String> cachedImages() throws IOException {
    return cache.cachedDigests();
  }

  @Override
  public boolean cacheOverBound() throws IOException {
    return cache.overBound();
  }

  @Override
  public void trimCache(Set<String> inUse) throws IOException {
    cache.trim(inUse);
  }

  /**
   * Leases the image's base (first), kernel and initrd from the cache, fetching what is missing.
   * Progress counts the blobs together: the bytes of blobs done plus the current one's.
   */
  private PreparedDisk cacheBlobs(ImageRef image, Path disk, TransferProgress progress)
      throws HypervisorException {
    String name = image.getName().isEmpty() ? image.getImageId() : image.getName();
    BlobDigest base = digest(image.getSha256(), "sha256", name);
    if (!BASE_FORMATS.contains(image.getFormat())) {
      throw new HypervisorException(Kind.INVALID, "image " + name + " has format '"
          + image.getFormat() + "'; QEMU hosts take " + BASE_FORMATS);
    }
    Optional<BlobDigest> baseLayer =
        optionalDigest(image.getBaseLayerSha256(), "base_layer_sha256", name);
    if (baseLayer.isPresent() && !"qcow2".equals(image.getFormat())) {
      throw new HypervisorException(Kind.INVALID, "image " + name + " is a service layer in"
          + " format '" + image.getFormat() + "'; layers are qcow2");
    }
    Optional<BlobDigest> kernel = optionalDigest(image.getKernelSha256(), "kernel_sha256", name);
    Optional<BlobDigest> initrd = optionalDigest(image.getInitrdSha256(), "initrd_sha256", name);
    if (kernel.isEmpty() && initrd.isPresent()) {
      throw new HypervisorException(Kind.INVALID,
          "image " + name + " has an initrd but no kernel to boot with it");
    }
    List<ImageCache.Lease> leases = new ArrayList<>();
    long[] bytesOfEarlierBlobs = {0};
    TransferProgress together = (done, total) -> progress.transferred(
        bytesOfEarlierBlobs[0] + done, total <= 0 ? 0 : bytesOfEarlierBlobs[0] + total);
    try {
      leases.add(cache.ensure(base, image.getSizeBytes(), "image " + name + " (disk)", together));
      bytesOfEarlierBlobs[0] += Files.size(leases.get(0).path());
      Optional<Path> kernelPath = Optional.empty();
      Optional<Path> initrdPath = Optional.empty();
      if (kernel.isPresent()) {
        leases.add(cache.ensure(kernel.get(), 0, "image " + name + " (kernel)", together));
        kernelPath = Optional.of(leases.get(leases.size() - 1).path());
        bytesOfEarlierBlobs[0] += Files.size(kernelPath.get());
      }
      if (initrd.isPresent()) {
        leases.add(cache.ensure(initrd.get(), 0, "image " + name + " (initrd)", together));
        initrdPath = Optional.of(leases.get(leases.size() - 1).path());
        bytesOfEarlierBlobs[0] += Files.size(initrdPath.get());
      }
      if (baseLayer.isPresent()) {
        // Last, so a host that caches the base (most do, once any service ran there) fetches
        // only the service layer; the layer names the base by the digest the cache files it by.
        leases.add(cache.ensure(baseLayer.get(), image.getBaseLayerSizeBytes(),
            "image " + name + " (base layer)", together));
      }
      List<String> blobs = leases.stream().map(lease -> lease.digest().hex()).toList();
      return new PreparedDisk(disk, kernelPath, initrdPath, blobs, leases);
    } catch (ImageException e) {
      leases.forEach(ImageCache.Lease::close);
      throw new HypervisorException(Kind.IMAGE, e.getMessage(), e);
    } catch (IOException e) {
      leases.forEach(ImageCache.Lease::close);
      throw new HypervisorException(HostDiskSpace.isNoSpace(e) ? Kind.NO_SPACE : Kind.HYPERVISOR,
          "caching image " + name + " on this host: " + e.getMessage(), e);
    }
  }

  private static BlobDigest digest(String value, String field, String image)
      throws HypervisorException {
    if (!BlobDigest.isDigest(value)) {
      throw new HypervisorException(Kind.INVALID, "image " + image + " has " + field + " '"
          + value + "', not a sha256 digest; QEMU hosts fetch images by digest");
    }
    return new BlobDigest(value);
  }

  private static Optional<BlobDigest> optionalDigest(String value, String field, String image)
      throws HypervisorException {
    return value.isEmpty() ? Optional.empty() : Optional.of(digest(value, field, image));
  }

  @Override
  public long diskBytes(ImageRef image, TransferProgress progress) throws HypervisorException {
    try (PreparedDisk base = cacheBlobs(image, disksDir.resolve("unused"), progress)) {
      return header(base.leases().get(0).path(), "the image").virtualSizeBytes();
    }
  }

  /**
   * An image from the store was inspected when it entered it; this host checks again before
   * qemu-img follows its header, since the store may hold images from before that check.
   */
  private static void requireSafeBase(PreparedDisk prepared, ImageRef image)
      throws HypervisorException {
    List<String> problems;
    if (image.getBaseLayerSha256().isEmpty()) {
      problems = header(prepared.leases().get(0).path(), "the image")
          .problemsAsBase(image.getFormat());
    } else {
      ImageCache.Lease base = prepared.leases().get(prepared.leases().size() - 1);
      List<String> found = new ArrayList<>(header(prepared.leases().get(0).path(),
          "the service layer").problemsAsLayer(image.getBaseLayerSha256()));
      header(base.path(), "the base layer").problemsAsBase("qcow2")
          .forEach(problem -> found.add("base layer: " + problem));
      problems = found;
    }
    if (!problems.isEmpty()) {
      prepared.close();
      throw new HypervisorException(Kind.IMAGE, "image " + image.getName() + " is refused on"
          + " this host: " + String.join("; ", problems));
    }
  }

  /**
   * An archive may come from another host, a hostile one included: it must be a qcow2 overlay
   * that names no file QEMU would open beside it and declares no disk larger than the VM's. The
   * backing file it names is the archiving host's and is replaced (rebase -u) unread.
   */
  private static void requireSafeOverlay(Path restoredDisk, long diskBytes)
      throws HypervisorException {
    List<String> problems = header(restoredDisk, "the restored disk").problemsAsOverlay(diskBytes);
    if (!problems.isEmpty()) {
      throw new HypervisorException(Kind.IMAGE, "the archive is refused: "
          + String.join("; ", problems));
    }
  }

  private static DiskImageHeader header(Path file, String what) throws HypervisorException {
    try {
      return DiskImageHeader.read(file);
    } catch (IOException e) {
      throw new HypervisorException(Kind.HYPERVISOR, "reading the header of " + what + " "
          + file + ": " + e, e);
    }
  }
}

package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.servicefarm.controller.db.ImageRepository.BuiltImage;
import org.servicefarm.controller.db.ImageRepository.Composition;

/**
 * The steps of one image build, in a directory of its own: compose a root file system with
 * mmdebstrap, add the guest's init, make an ext4 file system of it, convert that to a compressed
 * qcow2, and put disk, kernel and initrd into the blob store. Knows nothing of the database.
 */
final class ImageBuild {
  private static final long MIB = 1L << 20;
  // ext4 needs room for its own metadata, and a guest needs room to write (its overlay grows
  // into the disk's virtual size); an empty ext4 costs nothing in the qcow2.
  private static final long MIN_DISK_BYTES = 1L << 30;
  private static final long DISK_HEADROOM_BYTES = 512 * MIB;

  /** How long each step took, for the log and for benchmarks. */
  record Result(BuiltImage built, ImageConstructor.BuildPhases phases) {}

  private final Path dir;
  private final ToolRunner tools;
  private final ComposeCommand compose;
  private final Duration toolTimeout;
  private final Instant deadline;
  private final BlobStorage blobs;
  private final BuildAccount account;

  /**
   * @param dir the build's own directory, created empty by the caller
   * @param log where the tools' output goes; outside {@code dir}, so it outlives the build
   * @param account how the steps that need root over the image's files get it
   */
  ImageBuild(Path dir, Path log, ComposeCommand compose, Duration toolTimeout, Instant deadline,
      BlobStorage blobs, BuildAccount account) {
    this.dir = dir;
    this.tools = new ToolRunner(dir, log);
    this.compose = compose;
    this.toolTimeout = toolTimeout;
    this.deadline = deadline;
    this.blobs = blobs;
    this.account = account;
  }

  Result run(Composition composition)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Path rootfs = dir.resolve("rootfs");
    Instant start = Instant.now();
    tools.run("compose", account.privileged(compose.argv(composition.packages(), rootfs)),
        timeLeft());
    new GuestInit(composition.definition(), composition.command()).writeInto(rootfs);
    Path kernel = newestBootFile(rootfs, "vmlinuz-");
    Path initrd = newestBootFile(rootfs, "initrd.img-");

    Instant composed = Instant.now();
    Path raw = dir.resolve("disk.raw");
    try (RandomAccessFile file = new RandomAccessFile(raw.toFile(), "rw")) {
      file.setLength(diskBytes(rootfs)); // sparse: only what mkfs writes takes space
    }
    // With the compose's id mapping, so the image's owners are the ones the packages gave.
    tools.run("filesystem", account.privileged(List.of("mkfs.ext4", "-q", "-F", "-L", "sfroot",
        "-d", rootfs.toString(), raw.toString())), timeLeft());

    Instant filesystem = Instant.now();
    Path qcow2 = dir.resolve("base.qcow2");
    tools.run("convert", List.of("qemu-img", "convert", "-c", "-O", "qcow2", raw.toString(),
        qcow2.toString()), timeLeft());

    Instant converted = Instant.now();
    BlobStore.BlobInfo disk = blobs.adopt(qcow2);
    BlobStore.BlobInfo kernelBlob = blobs.adopt(kernel);
    BlobStore.BlobInfo initrdBlob = blobs.adopt(initrd);
    Instant stored = Instant.now();

    return new Result(
        new BuiltImage(disk.sha256(), disk.sizeBytes(), kernelBlob.sha256(), initrdBlob.sha256(),
            GuestInit.KERNEL_CMDLINE),
        new ImageConstructor.BuildPhases(Duration.between(start, composed),
            Duration.between(composed, filesystem), Duration.between(filesystem, converted),
            Duration.between(converted, stored)));
  }

  /** Each tool gets its own bound, and all of them together the build's. */
  private Duration timeLeft() throws ToolRunner.ToolFailure {
    Duration left = Duration.between(Instant.now(), deadline);
    if (left.isNegative() || left.isZero()) {
      throw new ToolRunner.ToolFailure("the build ran past its deadline (" + deadline + ")");
    }
    return left.compareTo(toolTimeout) < 0 ? left : toolTimeout;
  }

  /** The kernel or initrd the packages installed; the newest version when there are several. */
  private static Path newestBootFile(Path rootfs, String prefix)
      throws ToolRunner.ToolFailure, IOException {
    List<Path> found = new ArrayList<>();
    // Resolved inside the image: a /boot or kernel that links elsewhere must not bring a file of
    // the controller's host into the image store.
    GuestRoot guest = new GuestRoot(rootfs);
    Path boot = guest.resolve("/boot");
    if (Files.isDirectory(boot, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> files = Files.newDirectoryStream(boot, prefix + "*")) {
        for (Path f : files) {
          Path file = guest.resolve("/boot/" + f.getFileName());
          if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && Files.size(file) > 0) {
            found.add(file);
          }
        }
      }
    }
    if (found.isEmpty()) {
      throw new ToolRunner.ToolFailure("compose: the root file system has no /boot/" + prefix
          + "* (is linux-image-cloud-amd64 installable from the mirror?)");
    }
    // A fresh root file system has one kernel; should an upgrade during composing leave two,
    // the one installed last is the one its packages were built for.
    Path newest = found.get(0);
    for (Path f : found) {
      if (Files.getLastModifiedTime(f).compareTo(Files.getLastModifiedTime(newest)) > 0) {
        newest = f;
      }
    }
    return newest;
  }

  /**
   * The file system's size: the files' size plus headroom, at least 1 GiB, in whole MiB. A
   * directory the controller may not read (a package's own, 0700, composed without root) is left
   * out of the sum; the headroom covers what such directories hold.
   */
  private static long diskBytes(Path rootfs) throws IOException {
    long[] used = {0};
    Files.walkFileTree(rootfs, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
        if (attrs.isRegularFile()) {
          used[0] += attrs.size();
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
        if (e instanceof AccessDeniedException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }
    });
    long wanted = used[0] + used[0] / 4 + DISK_HEADROOM_BYTES;
    return Math.max(MIN_DISK_BYTES, (wanted + MIB - 1) / MIB * MIB);
  }
}

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
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Composes a base layer into a directory of the layer cache: mmdebstrap of minbase, busybox and
 * the kernel (packages from the package cache, downloads left there), the farm's init, a tar of
 * the tree (with apt's lists, for service layers to install into), then without the lists an
 * ext4 file system ({@code disk.raw}) and its compressed qcow2. Knows nothing of the database or
 * the blob store.
 */
final class BaseLayerBuild {
  private static final long GIB = 1L << 30;
  // The file system leaves room for the packages of every service layer written over it and for
  // what a guest writes; unused space costs nothing in the qcow2 (mkfs zeroes its tables, which
  // convert leaves unallocated, so no guest spends its first minutes zeroing them instead).
  private static final long MIN_DISK_BYTES = 4 * GIB;

  private final Path work;
  private final ToolRunner tools;
  private final ComposeCommand compose;
  private final BuildAccount account;
  private final Path packageCache;
  private final Steps steps;

  /** Bounds each tool by its own timeout and the whole build by its deadline. */
  interface Steps {
    Duration timeLeft() throws ToolRunner.ToolFailure;
  }

  /**
   * @param work the build's own directory, empty; the tree is composed there
   * @param log where the tools' output goes
   */
  BaseLayerBuild(Path work, Path log, ComposeCommand compose, BuildAccount account,
      Path packageCache, Steps steps) {
    this.work = work;
    this.tools = new ToolRunner(work, log);
    this.compose = compose;
    this.account = account;
    this.packageCache = packageCache;
    this.steps = steps;
  }

  /** Composes the base into {@code target} (created here) and returns it, complete. */
  BaseLayer run(String key, Path target)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Path rootfs = work.resolve("rootfs");
    Files.createDirectories(target);
    tools.run("base-compose", account.privileged(compose.baseArgv(rootfs, packageCache)),
        steps.timeLeft());
    new GuestInit("", "").writeBaseInto(rootfs);
    BaseLayer.recordInstalledPackages(new GuestRoot(rootfs).resolve("/var/lib/dpkg/status"),
        target);
    Path kernel = newestBootFile(rootfs, "vmlinuz-");
    Path initrd = newestBootFile(rootfs, "initrd.img-");
    Files.copy(kernel, target.resolve(BaseLayer.KERNEL), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(initrd, target.resolve(BaseLayer.INITRD), StandardCopyOption.REPLACE_EXISTING);

    // The tree keeps apt's lists; the image does not (a guest never runs apt from them). The
    // kernel's modules and /boot stay out of the tree: service layers never change them.
    Path tree = target.resolve(BaseLayer.TREE);
    tools.run("base-tree", account.privileged(List.of("sh", "-c",
        "set -e; tar --numeric-owner -C \"$1\" -cf \"$2\" --exclude=./dev/* --exclude=./proc/*"
            + " --exclude=./sys/* --exclude=./boot --exclude=./usr/lib/modules"
            + " --exclude=./lib/modules .; find \"$1/var/lib/apt/lists\" -mindepth 1 -delete",
        "base-tree", rootfs.toString(), tree.toString())), steps.timeLeft());

    Path raw = target.resolve(BaseLayer.RAW);
    try (RandomAccessFile file = new RandomAccessFile(raw.toFile(), "rw")) {
      file.setLength(diskBytes(rootfs)); // sparse: only what mkfs writes takes space
    }
    tools.run("base-filesystem", account.privileged(List.of("mkfs.ext4", "-q", "-F", "-L",
        "sfroot", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", "-d",
        rootfs.toString(), raw.toString())), steps.timeLeft());
    Path disk = target.resolve(BaseLayer.DISK);
    tools.run("base-convert", List.of("qemu-img", "convert", "-c", "-O", "qcow2", raw.toString(),
        disk.toString()), steps.timeLeft());
    BaseLayer layer = new BaseLayer(key, target, Sha256.ofFile(disk), Files.size(disk),
        Sha256.ofFile(tree), Files.size(tree), Sha256.ofFile(target.resolve(BaseLayer.KERNEL)),
        Sha256.ofFile(target.resolve(BaseLayer.INITRD)));
    layer.writeProperties();
    return layer;
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
   * The file system's size: twice the files' size plus 1 GiB, at least 4 GiB, in whole GiB. A
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
    long wanted = 2 * used[0] + GIB;
    return Math.max(MIN_DISK_BYTES, (wanted + GIB - 1) / GIB * GIB);
  }
}

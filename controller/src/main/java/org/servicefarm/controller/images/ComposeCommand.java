package org.servicefarm.controller.images;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;

/**
 * The mmdebstrap command that composes a root file system from Debian packages, as an argument
 * list (no shell ever sees a package name).
 *
 * <p>Mode: root, said explicitly rather than left to mmdebstrap's choice; a controller that is
 * not root runs it as root of a user namespace ({@link BuildAccount}), where mmdebstrap's root
 * mode falls back to bind mounts. Not mmdebstrap's own unshare mode: the root it runs as there is
 * one of the account's subordinate ids, which can neither create the root file system in the
 * controller's private build directory nor be read back by the steps after it (the init,
 * mkfs.ext4 -d, which would also record the wrong owners).
 *
 * <p>Mirrors: with none given, mmdebstrap uses http://deb.debian.org/debian and, for a stable
 * suite, adds its updates and security archives; it does not read the host's apt sources. A
 * mirror may be a URI, a one-line "deb ..." entry, or the path of a sources file (deb822 files
 * such as /etc/apt/sources.list.d/debian.sources work), which is copied into the image.
 *
 * @param suite the Debian release, e.g. bookworm
 * @param mirrors where packages come from; empty for mmdebstrap's default (see above)
 */
public record ComposeCommand(String suite, List<String> mirrors) {
  /** Every composed image boots its own kernel and runs its init with busybox. */
  public static final List<String> BASE_PACKAGES = List.of("busybox", "linux-image-cloud-amd64");
  /** The base's initramfs-tools configuration, as mmdebstrap's hooks name it. */
  private static final String INITRAMFS = "\"$1\"/etc/initramfs-tools";
  /**
   * The lines of the initramfs hook a base gets, each quoted for the shell: a guest's disk and
   * network are virtio, so its initramfs carries and loads those modules and no others
   * ({@code MODULES=list}). With Debian's default ({@code most}) the kernel's installation made
   * an initramfs of 15 MB, twice, which took 15 s of the base's minute; this one is 5 MB.
   */
  private static final String INITRAMFS_HOOK = String.join(" ",
      "'#!/bin/sh'",
      "'[ \"$1\" = prereqs ] && exit 0'",
      "'. /usr/share/initramfs-tools/hook-functions'",
      "'for m in virtio_pci virtio_blk virtio_net virtio_console; do force_load $m; done'");
  private static final Pattern PACKAGE = Pattern.compile("[a-z0-9][a-z0-9+.-]{0,127}");
  private static final Pattern SAFE_PATH = Pattern.compile("/[A-Za-z0-9/._-]*");
  // Documentation, manuals and translations are never read in a guest; leaving them out saves
  // space and time in every later step.
  private static final List<String> EXCLUDED = List.of(
      "/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*");

  public ComposeCommand {
    mirrors = List.copyOf(mirrors);
  }

  /** Debian 12 from mmdebstrap's default mirrors. */
  public static ComposeCommand bookworm() {
    return new ComposeCommand("bookworm", List.of());
  }

  /** The packages, each checked to be a Debian package name, since each becomes an argument. */
  static List<String> checkedPackages(List<String> packages) {
    for (String p : packages) {
      if (!PACKAGE.matcher(p).matches()) {
        throw new FarmException.InvalidInput("package '" + BlobStore.shorten(p)
            + "' is not a Debian package name");
      }
    }
    return List.copyOf(new TreeSet<>(packages));
  }

  /** The argv that composes {@code packages} (plus the base packages) into {@code rootfs}. */
  public List<String> argv(List<String> packages, Path rootfs) {
    TreeSet<String> include = new TreeSet<>(BASE_PACKAGES);
    for (String p : packages) {
      // Validated at DefineService already; checked again because a name here becomes an argument.
      if (!PACKAGE.matcher(p).matches()) {
        throw new FarmException.InvalidInput("package '" + BlobStore.shorten(p)
            + "' is not a Debian package name");
      }
      include.add(p);
    }
    List<String> argv = new ArrayList<>(List.of(
        "mmdebstrap", "--mode=root", "--variant=minbase", "--include=" + String.join(",", include),
        "--aptopt=Acquire::Retries \"3\""));
    for (String pattern : EXCLUDED) {
      argv.add("--dpkgopt=path-exclude=" + pattern);
    }
    argv.add(suite);
    argv.add(rootfs.toString());
    argv.addAll(mirrors);
    return argv;
  }

  /**
   * The argv that composes the base layer (minbase and the base packages) into {@code rootfs},
   * taking packages from {@code packageCache} and leaving the ones it downloaded there (the
   * hooks mmdebstrap's manual gives for a persistent cache), and keeping apt's package lists in
   * the tree so a service layer can install on it without downloading them again.
   */
  public List<String> baseArgv(Path rootfs, Path packageCache) {
    String cache = packageCache.toAbsolutePath().toString();
    if (!SAFE_PATH.matcher(cache).matches()) {
      throw new FarmException.InvalidInput("package cache directory '" + cache + "' must be an"
          + " absolute path of letters, digits, '/', '.', '_' and '-' (mmdebstrap's hooks read it"
          + " as words)");
    }
    List<String> argv = new ArrayList<>(List.of(
        "mmdebstrap", "--mode=root", "--variant=minbase",
        "--include=" + String.join(",", new TreeSet<>(BASE_PACKAGES)),
        "--aptopt=Acquire::Retries \"3\"",
        "--skip=download/empty", "--skip=essential/unlink", "--skip=cleanup/apt/lists",
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        "--setup-hook=sync-in " + cache + " /var/cache/apt/archives/",
        // Before the kernel is installed: its initramfs holds only what a farm guest needs.
        "--essential-hook=mkdir -p " + INITRAMFS + "/conf.d " + INITRAMFS + "/hooks",
        "--essential-hook=echo MODULES=list > " + INITRAMFS + "/conf.d/servicefarm.conf",
        "--essential-hook=printf '%s\\n' " + INITRAMFS_HOOK + " > " + INITRAMFS
            + "/hooks/servicefarm && chmod 755 " + INITRAMFS + "/hooks/servicefarm",
        "--customize-hook=sync-out /var/cache/apt/archives " + cache));
    for (String pattern : EXCLUDED) {
      argv.add("--dpkgopt=path-exclude=" + pattern);
    }
    argv.add(suite);
    argv.add(rootfs.toString());
    argv.addAll(mirrors);
    return argv;
  }
}

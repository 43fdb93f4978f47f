package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.servicefarm.controller.db.ImageRepository.Composition;

/**
 * Builds a service layer on a base layer without composing the base again: the base's tree is
 * unpacked, the definition's packages are installed into it with apt (packages from the package
 * cache, downloads added to it), the command and name are written, and what changed is written
 * with debugfs into a copy of the base's file system ({@link LayerChanges}). The layer is a qcow2
 * of only the clusters that differ from the base ({@link LayerDelta}), whose backing file is the
 * base layer named by its digest: on a host, both live in the image cache under their digests,
 * so the name resolves beside the layer.
 */
final class ServiceLayerBuild {
  /**
   * Runs in the build's mount and PID namespaces: unpacks the base's tree, lists it, installs the
   * packages with what a maintainer script needs (/dev's common nodes, /proc, a resolver) and
   * with services kept from starting (policy-rc.d), and adds the packages it downloaded to the
   * cache. Cached packages are offered to apt as links into a bind mount of the cache, so
   * concurrent builds never share apt's archive directory (and its lock).
   */
  private static final String INSTALL = """
      set -eu
      tree=$1 root=$2 cache=$3 before=$4 format=$5
      shift 5
      mkdir "$root"
      # The kernel's modules and /boot are the base's alone (a layer boots the base's kernel and
      # initrd): left out, they cost no time here and stay out of the comparison.
      tar --numeric-owner -xpf "$tree" -C "$root" --exclude=./usr/lib/modules \
        --exclude=./lib/modules --exclude=./boot
      find "$root" -xdev -printf "$format" > "$before"
      mkdir -p "$root/dev" "$root/proc" "$root/var/cache/apt/archives/partial" \\
        "$root/var/cache/apt/farm-packages"
      for d in null zero full random urandom tty; do
        : > "$root/dev/$d"
        mount --bind "/dev/$d" "$root/dev/$d"
      done
      mount -t proc proc "$root/proc"
      mount --bind "$cache" "$root/var/cache/apt/farm-packages"
      for f in "$cache"/*.deb; do
        [ -e "$f" ] || continue
        ln -s "/var/cache/apt/farm-packages/${f##*/}" "$root/var/cache/apt/archives/${f##*/}"
      done
      if [ -e "$root/etc/resolv.conf" ] || [ -L "$root/etc/resolv.conf" ]; then
        mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.servicefarm-saved"
      fi
      cat /etc/resolv.conf > "$root/etc/resolv.conf"
      printf '#!/bin/sh\\nexit 101\\n' > "$root/usr/sbin/policy-rc.d"
      chmod 0755 "$root/usr/sbin/policy-rc.d"
      export DEBIAN_FRONTEND=noninteractive
      apt() {
        chroot "$root" apt-get -o APT::Sandbox::User=root -o Acquire::Retries=3 "$@"
      }
      if ! apt install -y --no-install-recommends "$@"; then
        echo "install with the base's package lists failed; updating them and trying again" >&2
        apt update
        apt install -y --no-install-recommends "$@"
      fi
      rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
      if [ -e "$root/etc/resolv.conf.servicefarm-saved" ] \\
          || [ -L "$root/etc/resolv.conf.servicefarm-saved" ]; then
        mv "$root/etc/resolv.conf.servicefarm-saved" "$root/etc/resolv.conf"
      fi
      for f in "$root"/var/cache/apt/archives/*.deb; do
        [ -f "$f" ] && [ ! -L "$f" ] || continue
        cp "$f" "$cache/.${f##*/}.$$" && mv -f "$cache/.${f##*/}.$$" "$cache/${f##*/}"
      done
      """;

  /**
   * Runs in the build's mount and PID namespaces: unpacks the base's tree, lists it, and unpacks
   * an OCI image's file system over it from inside the tree (chroot), so that any link in the
   * image or the base resolves inside the tree, as the guest will resolve it. The base's
   * directory links (merged /usr's /bin, /lib) are kept, so an image's /bin/x lands in /usr/bin.
   */
  private static final String UNPACK_OCI = """
      set -eu
      tree=$1 root=$2 before=$3 format=$4 layers=$5
      mkdir "$root"
      tar --numeric-owner -xpf "$tree" -C "$root" --exclude=./usr/lib/modules \
        --exclude=./lib/modules --exclude=./boot
      find "$root" -xdev -printf "$format" > "$before"
      chroot "$root" tar --numeric-owner --keep-directory-symlink -xpf - -C / < "$layers"
      """;

  private static final int ZERO_RUNS_PER_CALL = 500;

  /** How long each step took: install (apt), write (debugfs, fsck), delta (compare, convert). */
  record Result(BlobStore.BlobInfo layer, Path layerFile, Duration install, Duration write,
      Duration delta) {}

  private final Path work;
  private final ToolRunner tools;
  private final BuildAccount account;
  private final Path packageCache;
  private final BaseLayerBuild.Steps steps;

  ServiceLayerBuild(Path work, Path log, BuildAccount account, Path packageCache,
      BaseLayerBuild.Steps steps) {
    this.work = work;
    this.tools = new ToolRunner(work, log);
    this.account = account;
    this.packageCache = packageCache;
    this.steps = steps;
  }

  /** Builds the layer file ({@code <work>/layer.qcow2}); the caller stores it. */
  Result run(BaseLayer base, Composition composition)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Instant start = Instant.now();
    String script = base.installedPackages().containsAll(composition.packages())
        ? onlyTheCommand(composition)
        : installed(base, composition);
    return written(base, script, start);
  }

  /**
   * Builds the layer of an OCI image: its file system ({@code layersTar}, its layers applied by
   * {@link OciLayers}) unpacked over the base's tree, then the farm's init, the command and the
   * name written over whatever the image put there.
   */
  Result runOci(BaseLayer base, String definition, String command, Path layersTar)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Instant start = Instant.now();
    Path rootfs = work.resolve("rootfs");
    Path before = work.resolve("before.list");
    Path after = work.resolve("after.list");
    tools.run("unpack", account.isolated(List.of("sh", "-c", UNPACK_OCI, "unpack",
        base.tree().toString(), rootfs.toString(), before.toString(), TreeListing.FIND_FORMAT,
        layersTar.toAbsolutePath().toString())), steps.timeLeft());
    new GuestInit(definition, command).writeInto(rootfs);
    tools.run("list", account.privileged(List.of("sh", "-c",
        "find \"$1\" -xdev -printf \"$2\" > \"$3\"", "list", rootfs.toString(),
        TreeListing.FIND_FORMAT, after.toString())), steps.timeLeft());
    String script = LayerChanges.debugfsScript(TreeListing.parse(Files.readAllBytes(before)),
        TreeListing.parse(Files.readAllBytes(after)), rootfs.toString());
    return written(base, script, start);
  }

  /** Writes the changes into a copy of the base's file system, then its delta as the layer. */
  private Result written(BaseLayer base, String script, Instant start)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Instant installed = Instant.now();
    Path scriptFile = work.resolve("layer.debugfs");
    Files.writeString(scriptFile, script, StandardCharsets.ISO_8859_1);
    Path raw = work.resolve("disk.raw");
    tools.run("copy-base", List.of("cp", "--sparse=always", base.raw().toString(),
        raw.toString()), steps.timeLeft());
    tools.run("write", account.privileged(List.of("debugfs", "-w", "-f", scriptFile.toString(),
        raw.toString())), steps.timeLeft());
    requireNoDebugfsErrors(work.resolve("write.stderr"));
    // debugfs keeps the file system consistent; fsck makes sure of it (status 1: it fixed some).
    tools.run("check", List.of("sh", "-c", "e2fsck -f -y \"$1\" || [ $? -eq 1 ]", "check",
        raw.toString()), steps.timeLeft());

    Instant written = Instant.now();
    Path layer = delta(base, raw);
    Instant done = Instant.now();
    return new Result(new BlobStore.BlobInfo(Sha256.ofFile(layer), Files.size(layer)), layer,
        Duration.between(start, installed), Duration.between(installed, written),
        Duration.between(written, done));
  }

  /**
   * The changes of installing the packages into the base's tree with apt, and writing the
   * command and name, as a debugfs script.
   */
  private String installed(BaseLayer base, Composition composition)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Path rootfs = work.resolve("rootfs");
    Path before = work.resolve("before.list");
    Path after = work.resolve("after.list");
    List<String> install = new ArrayList<>(List.of("sh", "-c", INSTALL, "install",
        base.tree().toString(), rootfs.toString(), packageCache.toAbsolutePath().toString(),
        before.toString(), TreeListing.FIND_FORMAT));
    install.addAll(ComposeCommand.checkedPackages(composition.packages()));
    tools.run("install", account.isolated(install), steps.timeLeft());
    new GuestInit(composition.definition(), composition.command()).writeServiceInto(rootfs);
    tools.run("list", account.privileged(List.of("sh", "-c",
        "find \"$1\" -xdev -printf \"$2\" > \"$3\"", "list", rootfs.toString(),
        TreeListing.FIND_FORMAT, after.toString())), steps.timeLeft());
    return LayerChanges.debugfsScript(TreeListing.parse(Files.readAllBytes(before)),
        TreeListing.parse(Files.readAllBytes(after)), rootfs.toString());
  }

  /**
   * When the base has every package already (busybox, say), the layer is the command and the
   * name alone: no tree is unpacked and apt never runs. The two files go into the base's
   * {@code /etc/servicefarm}, which is root's, 0755.
   */
  private String onlyTheCommand(Composition composition)
      throws ToolRunner.ToolFailure, IOException {
    Path files = Files.createDirectories(work.resolve("service-files"));
    new GuestInit(composition.definition(), composition.command()).writeServiceInto(files);
    long now = Instant.now().getEpochSecond();
    String dir = GuestInit.COMMAND_PATH.substring(1, GuestInit.COMMAND_PATH.lastIndexOf('/'));
    TreeListing.Entry etc = new TreeListing.Entry('d', 0755, 0, 0, 4096, "0", "0", 1, 2, dir,
        "");
    java.util.Map<String, TreeListing.Entry> before = java.util.Map.of(dir, etc);
    java.util.Map<String, TreeListing.Entry> after = new java.util.LinkedHashMap<>(before);
    long inode = 2;
    for (String path : List.of(GuestInit.COMMAND_PATH, GuestInit.SERVICE_PATH)) {
      Path file = new GuestRoot(files).resolve(path);
      after.put(path.substring(1), new TreeListing.Entry('f', 0644, 0, 0, Files.size(file),
          Long.toString(now), Long.toString(now), inode++, 1, path.substring(1), ""));
    }
    return LayerChanges.debugfsScript(before, after, files.toString());
  }

  private Path delta(BaseLayer base, Path raw)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Path baseMap = work.resolve("base.map");
    Path serviceMap = work.resolve("service.map");
    tools.runCapturing("map-base", List.of("qemu-img", "map", "-f", "raw", "--output=json",
        base.raw().toString()), steps.timeLeft(), baseMap);
    tools.runCapturing("map-service", List.of("qemu-img", "map", "-f", "raw", "--output=json",
        raw.toString()), steps.timeLeft(), serviceMap);
    Path deltaRaw = work.resolve("delta.raw");
    LayerDelta.Result delta = LayerDelta.write(base.raw(), LayerDelta.dataExtents(baseMap), raw,
        LayerDelta.dataExtents(serviceMap), deltaRaw);
    Files.delete(raw);
    Path layer = work.resolve("layer.qcow2");
    tools.run("convert", List.of("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2",
        deltaRaw.toString(), layer.toString()), steps.timeLeft());
    Files.delete(deltaRaw);
    // The base by its digest, as the layer names it and as hosts' caches name their files.
    tools.run("rebase", List.of("qemu-img", "rebase", "-u", "-f", "qcow2", "-b",
        base.diskSha256(), "-F", "qcow2", layer.toString()), steps.timeLeft());
    if (!delta.zeroRuns().isEmpty()) {
      Files.createSymbolicLink(work.resolve(base.diskSha256()), base.disk());
      List<LayerDelta.Run> runs = delta.zeroRuns();
      for (int from = 0; from < runs.size(); from += ZERO_RUNS_PER_CALL) {
        List<String> argv = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (LayerDelta.Run run : runs.subList(from,
            Math.min(runs.size(), from + ZERO_RUNS_PER_CALL))) {
          argv.addAll(List.of("-c", "write -q -z " + run.offset() + " " + run.length()));
        }
        argv.add(layer.toString());
        tools.run("zeros", argv, steps.timeLeft());
      }
    }
    return layer;
  }

  /** debugfs reports a failed command on standard error and still exits 0. */
  private static void requireNoDebugfsErrors(Path stderr)
      throws IOException, ToolRunner.ToolFailure {
    List<String> errors = Files.readAllLines(stderr, StandardCharsets.ISO_8859_1).stream()
        .filter(line -> !line.isBlank() && !line.startsWith("debugfs "))
        .toList();
    if (!errors.isEmpty()) {
      throw new ToolRunner.ToolFailure("write: debugfs could not write the layer"
          + ToolRunner.tail(String.join("\n", errors)));
    }
  }
}

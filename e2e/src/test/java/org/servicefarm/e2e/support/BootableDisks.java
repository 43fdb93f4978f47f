package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Makes a disk image that boots by itself (as a disk a user brings does) from a composed image's
 * file system, kernel and initrd: an MBR with extlinux on a small ext2 boot partition, and the
 * file system as the second partition, whose farm init runs as PID 1. Needs root (the boot
 * partition is loop-mounted for extlinux) and the extlinux and syslinux-common packages.
 */
public final class BootableDisks {
  private static final String SCRIPT = """
      set -eu
      layer=$1 kernel=$2 initrd=$3 out=$4 work=$5
      mkdir -p "$work/boot" "$work/mnt"
      # The layer's backing file (the base layer) is named by digest beside it, in the store.
      qemu-img convert -f qcow2 -O raw "$layer" "$work/fs.raw"
      cp "$kernel" "$work/boot/vmlinuz"
      cp "$initrd" "$work/boot/initrd.img"
      printf 'DEFAULT farm\\nLABEL farm\\n  KERNEL /vmlinuz\\n  INITRD /initrd.img\\n  APPEND %s\\n' \\
        'root=/dev/vda2 rw console=ttyS0 init=/sbin/servicefarm-init' > "$work/boot/extlinux.conf"
      truncate -s 64M "$work/boot.img"
      mkfs.ext2 -q -d "$work/boot" "$work/boot.img"
      mount -o loop "$work/boot.img" "$work/mnt"
      status=0
      extlinux --install "$work/mnt" || status=$?
      umount "$work/mnt"
      [ "$status" -eq 0 ]
      size=$(stat -c %s "$work/fs.raw")
      truncate -s $((65 * 1048576 + size)) "$work/disk.raw"
      parted -s "$work/disk.raw" mklabel msdos mkpart primary ext2 1MiB 65MiB \\
        mkpart primary ext4 65MiB 100% set 1 boot on
      dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc status=none
      dd if="$work/fs.raw" of="$work/disk.raw" bs=1M seek=65 conv=notrunc,sparse status=none
      dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/disk.raw" bs=440 count=1 conv=notrunc \\
        status=none
      qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$out"
      rm -rf "$work"
      """;

  private BootableDisks() {}

  /** Writes the disk to {@code out} (qcow2). */
  public static Path make(Path layer, Path kernel, Path initrd, Path out)
      throws IOException, InterruptedException {
    Path work = Files.createTempDirectory(out.getParent(), "bootable-disk");
    CommandRun run = CommandRun.of(out.getParent(), List.of("sh", "-c", SCRIPT, "bootable-disk",
        layer.toString(), kernel.toString(), initrd.toString(), out.toString(), work.toString()),
        Duration.ofMinutes(5));
    if (run.exitCode() != 0) {
      throw new AssertionError("making a bootable disk failed (" + run.exitCode() + "): "
          + run.err());
    }
    return out;
  }
}

package org.servicefarm.agent.images;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's files are its own, except that QEMU must read VM disks and the cached images,
 * kernels and initrds they point at. QEMU runs as its own user (libvirt-qemu on Debian), whose
 * group libvirt names in {@code /etc/libvirt/qemu.conf} ({@code group =}, by default
 * {@value #DEFAULT_QEMU_GROUP}). So the agent's directories are 0750 and those files 0640, all in
 * QEMU's group: QEMU reads them through the group, and no other account reads anything. Where
 * the group is missing or cannot be given (an agent not running as root, a host without
 * libvirt), they are the agent's alone (0700 and 0600).
 */
public final class QemuReadable {
  private static final Logger log = LoggerFactory.getLogger(QemuReadable.class);

  static final String DEFAULT_QEMU_GROUP = "libvirt-qemu";
  private static final Path QEMU_CONF = Path.of("/etc/libvirt/qemu.conf");
  private static final Pattern GROUP_LINE = Pattern.compile("^\\s*group\\s*=\\s*\"\\+?([^\"]+)\"");

  private static final Set<PosixFilePermission> GROUP_DIRECTORY =
      PosixFilePermissions.fromString("rwxr-x---");
  private static final Set<PosixFilePermission> GROUP_FILE =
      PosixFilePermissions.fromString("rw-r-----");
  private static final Set<PosixFilePermission> OWN_DIRECTORY =
      PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> OWN_FILE = PosixFilePermissions.fromString("rw-------");

  private static volatile Optional<GroupPrincipal> qemuGroup;

  private QemuReadable() {}

  /** Creates the directory (and missing parents) and opens it to QEMU's group only. */
  public static Path directory(Path dir) throws IOException {
    Files.createDirectories(dir);
    restrict(dir, GROUP_DIRECTORY, OWN_DIRECTORY);
    return dir;
  }

  /** Makes the file readable by QEMU's group, and by no other account. */
  public static Path file(Path file) throws IOException {
    restrict(file, GROUP_FILE, OWN_FILE);
    return file;
  }

  /** Makes the file (or directory) the agent's alone: what QEMU never reads, such as archives. */
  public static Path agentOnly(Path path) throws IOException {
    if (posix()) {
      Files.setPosixFilePermissions(path, Files.isDirectory(path) ? OWN_DIRECTORY : OWN_FILE);
    }
    return path;
  }

  /**
   * The nearest ancestor of {@code dir} (not {@code dir} itself, which is opened to QEMU's group)
   * that other users cannot traverse, if any: QEMU, running as its own user, cannot reach files
   * below it.
   */
  public static Optional<Path> untraversableAncestor(Path dir) throws IOException {
    if (!posix()) {
      return Optional.empty();
    }
    for (Path at = dir.toAbsolutePath().normalize().getParent(); at != null; at = at.getParent()) {
      if (Files.exists(at)
          && !Files.getPosixFilePermissions(at).contains(PosixFilePermission.OTHERS_EXECUTE)) {
        return Optional.of(at);
      }
    }
    return Optional.empty();
  }

  private static void restrict(Path path, Set<PosixFilePermission> withGroup,
      Set<PosixFilePermission> alone) throws IOException {
    if (!posix()) {
      return;
    }
    Optional<GroupPrincipal> group = qemuGroup();
    if (group.isPresent()) {
      try {
        Files.getFileAttributeView(path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setGroup(group.get());
        Files.setPosixFilePermissions(path, withGroup);
        return;
      } catch (FileSystemException e) {
        log.warn("cannot give {} to QEMU's group {} ({}); keeping it the agent's alone, so a QEMU"
            + " running as its own user cannot read it", path, group.get().getName(), e.getMessage());
      }
    }
    Files.setPosixFilePermissions(path, alone);
  }

  private static Optional<GroupPrincipal> qemuGroup() {
    Optional<GroupPrincipal> known = qemuGroup;
    if (known == null) {
      String name = configuredGroup().orElse(DEFAULT_QEMU_GROUP);
      try {
        known = Optional.of(FileSystems.getDefault().getUserPrincipalLookupService()
            .lookupPrincipalByGroupName(name));
      } catch (IOException e) {
        log.info("no group {} on this host (QEMU's group); the agent's files are its own alone",
            name);
        known = Optional.empty();
      }
      qemuGroup = known;
    }
    return known;
  }

  /** The group libvirt runs QEMU under, if qemu.conf sets one. */
  private static Optional<String> configuredGroup() {
    try {
      List<String> lines = Files.isReadable(QEMU_CONF) ? Files.readAllLines(QEMU_CONF) : List.of();
      for (String line : lines) {
        Matcher m = GROUP_LINE.matcher(line);
        if (m.find()) {
          return Optional.of(m.group(1));
        }
      }
    } catch (IOException e) {
      log.warn("cannot read {} for QEMU's group: {}", QEMU_CONF, e.getMessage());
    }
    return Optional.empty();
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }
}

package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;

/**
 * A base layer (Debian minbase, the kernel, busybox and the farm's init) as this controller's
 * layer cache holds it, in {@code <layer-cache>/bases/<key>/}: the compressed qcow2 every
 * service layer is backed by ({@code disk.qcow2}, also a blob in the store), the same file system
 * as a raw file ({@code disk.raw}, sparse) that service layers are written over, the tree as a
 * tar ({@code tree.tar}, with apt's package lists) that packages are installed into, and the
 * kernel and initrd. {@code layer.properties} is written last: a directory without it is not a
 * layer.
 *
 * @param key the hash of what the base is composed from (suite, architecture, kernel, mirrors,
 *     init)
 */
record BaseLayer(String key, Path dir, String diskSha256, long diskSize, String treeSha256,
    long treeSize, String kernelSha256, String initrdSha256) {
  static final String DISK = "disk.qcow2";
  static final String RAW = "disk.raw";
  static final String TREE = "tree.tar";
  static final String KERNEL = "kernel";
  static final String INITRD = "initrd";
  private static final String PROPERTIES = "layer.properties";
  /** The Debian packages installed in the base, one a line (absent for a base taken from the
   * store: then every service build installs its packages with apt). */
  static final String PACKAGES = "packages.txt";

  Path disk() {
    return dir.resolve(DISK);
  }

  Path raw() {
    return dir.resolve(RAW);
  }

  Path tree() {
    return dir.resolve(TREE);
  }

  Path kernel() {
    return dir.resolve(KERNEL);
  }

  Path initrd() {
    return dir.resolve(INITRD);
  }

  /** The packages installed in the base; empty when not known. */
  java.util.Set<String> installedPackages() throws IOException {
    Path file = dir.resolve(PACKAGES);
    if (!Files.isRegularFile(file)) {
      return java.util.Set.of();
    }
    return java.util.Set.copyOf(Files.readAllLines(file));
  }

  /**
   * Records the packages dpkg's status file (of the composed tree) says are installed.
   */
  static void recordInstalledPackages(Path dpkgStatus, Path layerDir) throws IOException {
    java.util.List<String> installed = new java.util.ArrayList<>();
    String name = null;
    for (String line : Files.readAllLines(dpkgStatus)) {
      if (line.startsWith("Package: ")) {
        name = line.substring("Package: ".length()).strip();
      } else if (line.equals("Status: install ok installed") && name != null) {
        installed.add(name);
      }
    }
    Files.write(layerDir.resolve(PACKAGES), installed);
  }

  /** Marks the directory complete; the last step of making it. */
  void writeProperties() throws IOException {
    Properties p = new Properties();
    p.setProperty("key", key);
    p.setProperty("disk.sha256", diskSha256);
    p.setProperty("disk.size", Long.toString(diskSize));
    p.setProperty("tree.sha256", treeSha256);
    p.setProperty("tree.size", Long.toString(treeSize));
    p.setProperty("kernel.sha256", kernelSha256);
    p.setProperty("initrd.sha256", initrdSha256);
    Path partial = dir.resolve(PROPERTIES + ".partial");
    try (OutputStream out = Files.newOutputStream(partial)) {
      p.store(out, "Service Farm base layer");
    }
    Files.move(partial, dir.resolve(PROPERTIES), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /** The layer in {@code dir}, when it is complete: its properties and every file present. */
  static Optional<BaseLayer> read(Path dir) throws IOException {
    Path file = dir.resolve(PROPERTIES);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    }
    BaseLayer layer = new BaseLayer(p.getProperty("key"), dir, p.getProperty("disk.sha256"),
        Long.parseLong(p.getProperty("disk.size")), p.getProperty("tree.sha256"),
        Long.parseLong(p.getProperty("tree.size")), p.getProperty("kernel.sha256"),
        p.getProperty("initrd.sha256"));
    for (Path part : new Path[] {layer.disk(), layer.raw(), layer.tree(), layer.kernel(),
        layer.initrd()}) {
      if (!Files.isRegularFile(part)) {
        return Optional.empty();
      }
    }
    return Optional.of(layer);
  }
}

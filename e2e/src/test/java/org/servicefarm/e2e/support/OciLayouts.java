package org.servicefarm.e2e.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes OCI image layouts as tars (what {@code skopeo copy ... oci-archive:FILE} makes), for
 * tests that upload an OCI image: each layer a map of path to file content, gzip-compressed; a
 * path ending in "/" is a directory, a content starting "#!" an executable.
 */
public final class OciLayouts {
  private OciLayouts() {}

  public static Path write(Path out, List<Map<String, String>> layers, List<String> entrypoint,
      List<String> cmd, List<Integer> exposedTcpPorts) throws IOException {
    List<byte[]> blobs = new ArrayList<>();
    List<String> layerDescriptors = new ArrayList<>();
    List<String> diffIds = new ArrayList<>();
    for (Map<String, String> layer : layers) {
      byte[] tar = tar(layer);
      diffIds.add("\"sha256:" + sha256(tar) + "\"");
      byte[] gz = gzip(tar);
      blobs.add(gz);
      layerDescriptors.add(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", gz));
    }
    List<String> ports = exposedTcpPorts.stream().map(p -> "\"" + p + "/tcp\":{}").toList();
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":"
        + strings(entrypoint) + ",\"Cmd\":" + strings(cmd) + ",\"ExposedPorts\":{"
        + String.join(",", ports) + "}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
        + String.join(",", diffIds) + "]}}").getBytes(StandardCharsets.UTF_8);
    blobs.add(config);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":"
        + "\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
        + descriptor("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":["
        + String.join(",", layerDescriptors) + "]}").getBytes(StandardCharsets.UTF_8);
    blobs.add(manifest);
    byte[] index = ("{\"schemaVersion\":2,\"manifests\":["
        + descriptor("application/vnd.oci.image.manifest.v1+json", manifest) + "]}")
        .getBytes(StandardCharsets.UTF_8);
    try (OutputStream file = Files.newOutputStream(out);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(file)) {
      put(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"
          .getBytes(StandardCharsets.UTF_8), 0644);
      put(tar, "index.json", index, 0644);
      for (byte[] blob : blobs) {
        put(tar, "blobs/sha256/" + sha256(blob), blob, 0644);
      }
    }
    return out;
  }

  private static byte[] tar(Map<String, String> files) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Map.Entry<String, String> f : new java.util.TreeMap<>(files).entrySet()) {
        if (f.getKey().endsWith("/")) {
          TarArchiveEntry dir = new TarArchiveEntry(f.getKey());
          dir.setMode(040755);
          tar.putArchiveEntry(dir);
          tar.closeArchiveEntry();
        } else {
          put(tar, f.getKey(), f.getValue().getBytes(StandardCharsets.UTF_8),
              f.getValue().startsWith("#!") ? 0755 : 0644);
        }
      }
    }
    return bytes.toByteArray();
  }

  private static void put(TarArchiveOutputStream tar, String name, byte[] bytes, int mode)
      throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(bytes.length);
    e.setMode(0100000 | mode);
    tar.putArchiveEntry(e);
    tar.write(bytes);
    tar.closeArchiveEntry();
  }

  private static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  private static String descriptor(String mediaType, byte[] blob) {
    return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"sha256:" + sha256(blob)
        + "\",\"size\":" + blob.length + "}";
  }

  private static String strings(List<String> words) {
    return "[" + String.join(",", words.stream().map(w -> "\"" + w + "\"").toList()) + "]";
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK always has SHA-256", e);
    }
  }
}

package org.servicefarm.controller.images;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Builds OCI image archives (layout or docker save) in tests, from layers described in code. */
final class OciTestArchives {
  private OciTestArchives() {}

  /** One entry of a layer: a file, a directory, a symbolic or a hard link. */
  record Entry(String name, char type, String content, String link) {
    static Entry file(String name, String content) {
      return new Entry(name, 'f', content, null);
    }

    static Entry dir(String name) {
      return new Entry(name, 'd', null, null);
    }

    static Entry symlink(String name, String target) {
      return new Entry(name, 'l', null, target);
    }

    static Entry hardlink(String name, String target) {
      return new Entry(name, 'h', null, target);
    }
  }

  static byte[] layer(List<Entry> entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Entry e : entries) {
        TarArchiveEntry t = switch (e.type()) {
          case 'd' -> new TarArchiveEntry(e.name().endsWith("/") ? e.name() : e.name() + "/");
          case 'l' -> new TarArchiveEntry(e.name(), TarArchiveEntry.LF_SYMLINK);
          case 'h' -> new TarArchiveEntry(e.name(), TarArchiveEntry.LF_LINK);
          default -> new TarArchiveEntry(e.name(), true); // as given, absolute too
        };
        if (e.link() != null) {
          t.setLinkName(e.link());
        }
        byte[] content = e.content() == null ? new byte[0]
            : e.content().getBytes(StandardCharsets.UTF_8);
        if (e.type() == 'f') {
          t.setSize(content.length);
          t.setMode(0100755);
        }
        tar.putArchiveEntry(t);
        tar.write(content);
        tar.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The config JSON of an image that runs {@code entrypoint} + {@code cmd} and exposes ports. */
  static String config(List<String> entrypoint, List<String> cmd, List<String> exposed,
      List<byte[]> uncompressedLayers) {
    StringBuilder ports = new StringBuilder();
    for (String p : exposed) {
      ports.append(ports.length() == 0 ? "" : ",").append('"').append(p).append("\":{}");
    }
    StringBuilder diffIds = new StringBuilder();
    for (byte[] l : uncompressedLayers) {
      diffIds.append(diffIds.length() == 0 ? "" : ",").append("\"sha256:").append(sha256(l))
          .append('"');
    }
    return "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":"
        + array(entrypoint) + ",\"Cmd\":" + array(cmd) + ",\"ExposedPorts\":{" + ports
        + "}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + diffIds + "]}}";
  }

  private static String array(List<String> words) {
    List<String> quoted = new ArrayList<>();
    words.forEach(w -> quoted.add('"' + w.replace("\\", "\\\\").replace("\"", "\\\"") + '"'));
    return "[" + String.join(",", quoted) + "]";
  }

  /** An OCI image layout as a tar at {@code out}: the layers gzip-compressed. */
  static Path layout(Path out, String config, List<byte[]> layers) throws IOException {
    return layout(out, config, layers, false);
  }

  /** As above; with {@code tamper}, the first layer's blob has one byte changed after hashing. */
  static Path layout(Path out, String config, List<byte[]> layers, boolean tamper)
      throws IOException {
    List<String[]> files = new ArrayList<>();
    StringBuilder layerDescriptors = new StringBuilder();
    List<byte[]> blobs = new ArrayList<>();
    for (byte[] layer : layers) {
      byte[] gz = gzip(layer);
      blobs.add(gz);
      layerDescriptors.append(layerDescriptors.length() == 0 ? "" : ",")
          .append(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", gz));
    }
    byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
    blobs.add(configBytes);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":"
        + "\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
        + descriptor("application/vnd.oci.image.config.v1+json", configBytes)
        + ",\"layers\":[" + layerDescriptors + "]}").getBytes(StandardCharsets.UTF_8);
    blobs.add(manifest);
    byte[] index = ("{\"schemaVersion\":2,\"manifests\":["
        + descriptor("application/vnd.oci.image.manifest.v1+json", manifest) + "]}")
        .getBytes(StandardCharsets.UTF_8);
    try (OutputStream file = Files.newOutputStream(out);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(file)) {
      put(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"
          .getBytes(StandardCharsets.UTF_8));
      put(tar, "index.json", index);
      for (int i = 0; i < blobs.size(); i++) {
        byte[] blob = blobs.get(i);
        String name = "blobs/sha256/" + sha256(blob);
        if (tamper && i == 0) {
          blob = blob.clone();
          blob[blob.length - 1] ^= 1;
        }
        put(tar, name, blob);
      }
    }
    return out;
  }

  /** A {@code docker save} archive at {@code out}: uncompressed layers in their directories. */
  static Path dockerSave(Path out, String config, List<byte[]> layers) throws IOException {
    byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
    String configName = sha256(configBytes) + ".json";
    List<String> names = new ArrayList<>();
    try (OutputStream file = Files.newOutputStream(out);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(file)) {
      put(tar, configName, configBytes);
      for (byte[] layer : layers) {
        String name = sha256(layer) + "/layer.tar";
        names.add('"' + name + '"');
        put(tar, name, layer);
      }
      put(tar, "manifest.json", ("[{\"Config\":\"" + configName
          + "\",\"RepoTags\":[\"web:1\"],\"Layers\":[" + String.join(",", names) + "]}]")
          .getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  private static String descriptor(String mediaType, byte[] blob) {
    return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"sha256:" + sha256(blob)
        + "\",\"size\":" + blob.length + "}";
  }

  private static void put(TarArchiveOutputStream tar, String name, byte[] bytes)
      throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(bytes.length);
    tar.putArchiveEntry(e);
    tar.write(bytes);
    tar.closeArchiveEntry();
  }
}

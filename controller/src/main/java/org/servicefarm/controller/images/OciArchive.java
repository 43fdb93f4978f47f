package org.servicefarm.controller.images;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarFile;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.servicefarm.controller.model.FarmException;

/**
 * Reads an OCI image archive a user uploaded: a tar of an OCI image layout ({@code oci-layout},
 * {@code index.json} → manifest → config and layers, each a blob under {@code blobs/sha256/}
 * whose digest and size are verified) or of {@code docker save} ({@code manifest.json} → Config
 * and Layers, verified against the config's {@code rootfs.diff_ids}). The archive comes from a
 * stranger: the number of its entries and the size of every JSON document are bounded before they
 * are held in memory, and any mismatch is refused naming the entry.
 */
public final class OciArchive implements AutoCloseable {
  static final int MAX_ENTRIES = 10_000;
  static final int MAX_JSON_BYTES = 1 << 20;
  private static final String SHA256 = "sha256:";

  private final TarFile tar;
  private final Map<String, TarArchiveEntry> entries;

  private OciArchive(TarFile tar, Map<String, TarArchiveEntry> entries) {
    this.tar = tar;
    this.entries = entries;
  }

  /** Opens the archive, refusing one with more than {@link #MAX_ENTRIES} entries. */
  public static OciArchive open(Path file) {
    int count = 0;
    try (TarArchiveInputStream in = new TarArchiveInputStream(
        new BufferedInputStream(Files.newInputStream(file)))) {
      while (in.getNextEntry() != null) {
        if (++count > MAX_ENTRIES) {
          throw refused("the archive has more than " + MAX_ENTRIES + " entries");
        }
      }
    } catch (IOException e) {
      throw refused("it is not a tar archive (" + e.getMessage() + ")");
    }
    try {
      TarFile tar = new TarFile(file);
      Map<String, TarArchiveEntry> byName = new HashMap<>();
      for (TarArchiveEntry e : tar.getEntries()) {
        if (e.isFile()) {
          byName.put(normalized(e.getName()), e);
        }
      }
      return new OciArchive(tar, byName);
    } catch (IOException e) {
      throw refused("it is not a tar archive (" + e.getMessage() + ")");
    }
  }

  /** Reads and verifies the image: its manifest, config and every layer's digest. */
  public OciImage read() {
    try {
      if (entries.containsKey("index.json") && entries.containsKey("oci-layout")) {
        return readLayout();
      }
      if (entries.containsKey("manifest.json")) {
        return readDockerSave();
      }
      throw refused("it holds neither an OCI image layout (oci-layout and index.json) nor a"
          + " docker save archive (manifest.json)");
    } catch (IOException e) {
      throw refused("it cannot be read: " + e.getMessage());
    } catch (JsonParseException | IllegalStateException | ClassCastException | NumberFormatException
        | UnsupportedOperationException e) {
      throw refused("its JSON is not what an image's is: " + e.getMessage());
    }
  }

  /** The layer's tar, decompressed when it is gzip; the caller closes it. */
  public InputStream layer(String entry) throws IOException {
    InputStream raw = new BufferedInputStream(tar.getInputStream(entry(entry)));
    raw.mark(2);
    int first = raw.read();
    int second = raw.read();
    raw.reset();
    if (first == 0x1f && second == 0x8b) {
      return GzipCompressorInputStream.builder().setInputStream(raw)
          .setDecompressConcatenated(true).get();
    }
    if (first == 0x28 && second == 0xb5) {
      raw.close();
      throw refused("layer " + entry + " is zstd-compressed; save the image with gzip or"
          + " uncompressed layers");
    }
    return raw;
  }

  private OciImage readLayout() throws IOException {
    JsonObject index = json("index.json").getAsJsonObject();
    JsonObject manifest = json(blobOf(onlyManifest(index, "index.json"))).getAsJsonObject();
    if (manifest.has("manifests")) { // a nested index: the layout's one image list
      manifest = json(blobOf(onlyManifest(manifest, "the nested index"))).getAsJsonObject();
    }
    JsonObject config = json(blobOf(field(manifest, "config", "the image manifest").getAsJsonObject())).getAsJsonObject();
    List<String> layers = new ArrayList<>();
    for (JsonElement layer : field(manifest, "layers", "the image manifest").getAsJsonArray()) {
      String entry = blobOf(layer.getAsJsonObject());
      verifyDigest(entry, hexOf(field(layer.getAsJsonObject(), "digest", "a layer's descriptor")
          .getAsString()), false);
      layers.add(entry);
    }
    return image("oci layout", layers, config);
  }

  private OciImage readDockerSave() throws IOException {
    JsonArray images = json("manifest.json").getAsJsonArray();
    if (images.size() != 1) {
      throw refused("manifest.json lists " + images.size() + " images; save exactly one");
    }
    JsonObject manifest = images.get(0).getAsJsonObject();
    String configName = normalized(field(manifest, "Config", "manifest.json").getAsString());
    String configHex = digestInName(configName);
    if (configHex != null) {
      verifyDigest(configName, configHex, false);
    }
    JsonObject config = json(configName).getAsJsonObject();
    JsonArray diffIds = field(field(config, "rootfs", configName).getAsJsonObject(), "diff_ids",
        configName + "'s rootfs").getAsJsonArray();
    JsonArray layerNames = field(manifest, "Layers", "manifest.json").getAsJsonArray();
    if (diffIds.size() != layerNames.size()) {
      throw refused("manifest.json lists " + layerNames.size() + " layers but the config's"
          + " rootfs.diff_ids " + diffIds.size());
    }
    List<String> layers = new ArrayList<>();
    for (int i = 0; i < layerNames.size(); i++) {
      String entry = normalized(layerNames.get(i).getAsString());
      verifyDigest(entry, hexOf(diffIds.get(i).getAsString()), true);
      layers.add(entry);
    }
    return image("docker save", layers, config);
  }

  private static OciImage image(String layout, List<String> layers, JsonObject file) {
    JsonObject config = file.has("config") && file.get("config").isJsonObject()
        ? file.getAsJsonObject("config") : new JsonObject();
    List<String> argv = new ArrayList<>(strings(config, "Entrypoint"));
    argv.addAll(strings(config, "Cmd"));
    TreeSet<Integer> ports = new TreeSet<>();
    if (config.has("ExposedPorts") && config.get("ExposedPorts").isJsonObject()) {
      for (String key : config.getAsJsonObject("ExposedPorts").keySet()) {
        String[] parts = key.split("/", 2);
        if (parts.length == 2 && !parts[1].equals("tcp")) {
          continue; // the farm's services are TCP
        }
        try {
          int port = Integer.parseInt(parts[0]);
          if (port < 1 || port > 65535) {
            throw new NumberFormatException();
          }
          ports.add(port);
        } catch (NumberFormatException e) {
          throw refused("the config exposes '" + BlobStore.shorten(key) + "', not a port");
        }
      }
    }
    String workingDir = config.has("WorkingDir") && !config.get("WorkingDir").isJsonNull()
        ? config.get("WorkingDir").getAsString() : "";
    return new OciImage(layout, List.copyOf(layers), List.copyOf(argv),
        List.copyOf(strings(config, "Env")), workingDir, List.copyOf(ports));
  }

  private static List<String> strings(JsonObject config, String key) {
    List<String> values = new ArrayList<>();
    if (config.has(key) && config.get(key).isJsonArray()) {
      config.getAsJsonArray(key).forEach(e -> values.add(e.getAsString()));
    }
    return values;
  }

  /** A field every image's JSON has, or a refusal naming it and where it is missing. */
  private static JsonElement field(JsonObject object, String name, String where) {
    JsonElement value = object.get(name);
    if (value == null || value.isJsonNull()) {
      throw refused(where + " has no field '" + name + "'");
    }
    return value;
  }

  private static JsonObject onlyManifest(JsonObject index, String where) {
    JsonArray manifests = index.getAsJsonArray("manifests");
    if (manifests == null || manifests.size() != 1) {
      throw refused(where + " lists " + (manifests == null ? 0 : manifests.size())
          + " manifests; save exactly one image for one platform");
    }
    return manifests.get(0).getAsJsonObject();
  }

  /** The entry of the blob a descriptor names, its size checked against the descriptor's. */
  private String blobOf(JsonObject descriptor) {
    String hex = hexOf(field(descriptor, "digest", "a descriptor").getAsString());
    String entry = "blobs/sha256/" + hex;
    long size = field(descriptor, "size", "descriptor " + BlobStore.shorten(hex)).getAsLong();
    if (entry(entry).getSize() != size) {
      throw refused(entry + " is " + entry(entry).getSize() + " bytes but its descriptor says "
          + size);
    }
    return entry;
  }

  private JsonElement json(String name) throws IOException {
    TarArchiveEntry e = entry(name);
    if (e.getSize() > MAX_JSON_BYTES) {
      throw refused(name + " is " + e.getSize() + " bytes, more than the " + MAX_JSON_BYTES
          + " a JSON document may be");
    }
    String hex = digestInName(name);
    if (hex != null) {
      verifyDigest(name, hex, false);
    }
    try (InputStream in = tar.getInputStream(e)) {
      return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  /** Hashes the entry (decompressed first when {@code uncompressed}) and compares. */
  private void verifyDigest(String name, String expectedHex, boolean uncompressed)
      throws IOException {
    MessageDigest digest = Sha256.newDigest();
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = uncompressed ? layer(name) : tar.getInputStream(entry(name))) {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        digest.update(buffer, 0, n);
      }
    }
    String actual = Sha256.hex(digest);
    if (!actual.equals(expectedHex)) {
      throw refused(name + " hashes to sha256:" + actual + ", not sha256:" + expectedHex
          + " as the image says");
    }
  }

  private TarArchiveEntry entry(String name) {
    TarArchiveEntry e = entries.get(name);
    if (e == null) {
      throw refused("it names " + BlobStore.shorten(name) + ", which it does not hold");
    }
    return e;
  }

  private static String hexOf(String digest) {
    if (!digest.startsWith(SHA256) || !digest.substring(SHA256.length()).matches("[0-9a-f]{64}")) {
      throw refused("'" + BlobStore.shorten(digest) + "' is not a sha256 digest");
    }
    return digest.substring(SHA256.length());
  }

  /** The digest a name carries ({@code blobs/sha256/<hex>}, {@code <hex>.json}), or null. */
  private static String digestInName(String name) {
    String base = name.substring(name.lastIndexOf('/') + 1);
    if (name.startsWith("blobs/sha256/") && base.matches("[0-9a-f]{64}")) {
      return base;
    }
    if (base.matches("[0-9a-f]{64}\\.json")) {
      return base.substring(0, 64);
    }
    return null;
  }

  private static String normalized(String name) {
    String n = name;
    while (n.startsWith("./")) {
      n = n.substring(2);
    }
    return n;
  }

  static FarmException.InvalidInput refused(String why) {
    return new FarmException.InvalidInput("OCI image archive refused: " + why);
  }

  @Override
  public void close() throws IOException {
    tar.close();
  }
}

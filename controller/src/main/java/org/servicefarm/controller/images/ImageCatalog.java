package org.servicefarm.controller.images;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.UUID;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.OciImageRepository;
import org.servicefarm.controller.db.OciImageRepository.OciDefaults;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.projects.QuotaGuard;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;
import org.servicefarm.controller.model.ServiceDefinitionRecord;

/**
 * The catalog of what the farm can construct: registered images, and service definitions with
 * the image each builds from. A package combination is recorded once, keyed by the hash of its
 * inputs, so definitions with the same packages and command share one image.
 */
public final class ImageCatalog {
  private final Database db;
  private final ImageRepository images;
  private final CatalogRepository catalog;
  private final QuotaGuard quotas;
  private final OciImageRepository ociImages = new OciImageRepository();

  public ImageCatalog(Database db, ImageRepository images, CatalogRepository catalog) {
    this.quotas = new QuotaGuard(new ProjectRepository());
    this.db = db;
    this.images = images;
    this.catalog = catalog;
  }

  public ImageRecord register(String name, String sha256, long sizeBytes, String format, String path) {
    return register(name, sha256, sizeBytes, format, path, null);
  }

  /**
   * As above, filed under {@code project} (null: every project may use it) within its quota of
   * stored bytes.
   *
   * @throws FarmException.QuotaExceeded when the image would pass the project's stored bytes
   */
  public ImageRecord register(String name, String sha256, long sizeBytes, String format,
      String path, String project) {
    try {
      return db.inTransaction(tx -> {
        if (images.findByName(tx, name).isPresent()) {
          throw new FarmException.Conflict("an image named '" + name + "' is already registered");
        }
        if (project != null) {
          quotas.admitBytes(tx, project, sizeBytes);
        }
        return images.register(tx, name, sha256, sizeBytes, format, path, project);
      });
    } catch (DatabaseException e) {
      if (e.kind() == DatabaseException.Kind.CONSTRAINT) {
        throw new FarmException.Conflict("an image named '" + name + "' is already registered");
      }
      throw e;
    }
  }

  /**
   * Registers an OCI image archive (format {@code oci}) with what its config says to run and
   * expose, within the project's quota as {@link #register} does.
   */
  public ImageRecord registerOci(String name, String sha256, long sizeBytes, OciDefaults defaults,
      String project) {
    try {
      return db.inTransaction(tx -> {
        if (images.findByName(tx, name).isPresent()) {
          throw new FarmException.Conflict("an image named '" + name + "' is already registered");
        }
        if (project != null) {
          quotas.admitBytes(tx, project, sizeBytes);
        }
        ImageRecord image = images.register(tx, name, sha256, sizeBytes, "oci", null, project);
        ociImages.record(tx, image.id(), defaults);
        return image;
      });
    } catch (DatabaseException e) {
      if (e.kind() == DatabaseException.Kind.CONSTRAINT) {
        throw new FarmException.Conflict("an image named '" + name + "' is already registered");
      }
      throw e;
    }
  }

  /**
   * The command and ports the OCI image archive named {@code imageName} offers a definition that
   * gives none; empty when no such OCI image is visible to {@code project}.
   */
  public Optional<OciDefaults> ociDefaults(String imageName, String project) {
    return db.inTransaction(tx -> {
      Optional<ImageRecord> image = images.findByName(tx, imageName)
          .filter(i -> i.usableBy(project) && i.format().equals("oci"));
      return image.isEmpty() ? Optional.<OciDefaults>empty() : ociImages.find(tx, image.get().id());
    });
  }

  /** What a definition asks for; exactly one of packages and imageName is given. */
  public record DefinitionInput(String name, List<String> packages, String imageName,
      String command, int vcpus, long memoryMb, List<ServicePort> services,
      InstancePolicy policy, String project, boolean shared) {

    /** A definition of the project {@code default}, not shared. */
    public DefinitionInput(String name, List<String> packages, String imageName, String command,
        int vcpus, long memoryMb, List<ServicePort> services, InstancePolicy policy) {
      this(name, packages, imageName, command, vcpus, memoryMb, services, policy,
          org.servicefarm.controller.model.ProjectScope.DEFAULT, false);
    }

    /** A definition whose VMs never idle out and run one at a time. */
    public DefinitionInput(String name, List<String> packages, String imageName, String command,
        int vcpus, long memoryMb, List<ServicePort> services) {
      this(name, packages, imageName, command, vcpus, memoryMb, services, InstancePolicy.DEFAULT);
    }
  }

  public ServiceDefinitionRecord define(DefinitionInput in) {
    return define(in, (tx, name) -> { });
  }

  /** What else a definition records beside it, in its transaction (its placement rules). */
  @FunctionalInterface
  public interface DefinitionExtras {
    void record(Database.Tx tx, String definition) throws java.sql.SQLException;
  }

  /** As {@link #define(DefinitionInput)}, recording {@code extras} in the same transaction. */
  public ServiceDefinitionRecord define(DefinitionInput in, DefinitionExtras extras) {
    return db.inTransaction(tx -> {
      ImageRecord image = in.imageName().isEmpty()
          ? images.findOrRecordComposed(tx, inputHash(in.packages(), in.command()))
          : images.findByName(tx, in.imageName()).filter(i -> i.usableBy(in.project()))
              .orElseThrow(() -> new FarmException.NotFound(
              "image '" + in.imageName() + "' is not registered (farmctl image list shows the catalog)"));
      if (image.format().equals("oci")) {
        // An OCI image is never booted itself: its layers go over the base layer, built on
        // first use like a composition, once per archive and command.
        image = images.findOrRecordFromOci(tx, image.id(),
            ociInputHash(image.sha256(), in.command()));
      }
      Optional<String> clash = catalog.define(tx, in.name(), image.id(), in.packages(), in.command(),
          in.vcpus(), in.memoryMb(), in.services(), in.policy(), in.project(), in.shared());
      if (clash.isPresent()) {
        throw new FarmException.Conflict("cannot define '" + in.name() + "': service " + clash.get());
      }
      extras.record(tx, in.name());
      return catalog.find(tx, in.name()).orElseThrow();
    });
  }

  public List<ImageRecord> list() {
    return images.list(db);
  }

  /** Image names by id as definitions name them (an OCI-built image by its archive's name). */
  public java.util.Map<UUID, String> imageNamesForDefinitions() {
    return images.namesForDefinitions(db);
  }

  public List<ServiceDefinitionRecord> definitions() {
    return catalog.list(db);
  }

  public Optional<ImageRecord> find(UUID id) {
    return db.inTransaction(tx -> images.find(tx, id));
  }

  /** The image with that id; NotFound when there is none. */
  public ImageRecord image(UUID id) {
    return find(id).orElseThrow(() -> new FarmException.NotFound("image " + id
        + " is not in the catalog"));
  }

  /** Whether a VM of this image must wait for the image constructor (composed, not READY). */
  public boolean needsBuild(UUID id) {
    return image(id).needsBuild();
  }

  /** Refuses a name already registered, before an upload spends time on the bytes. */
  public void checkNameFree(String name) {
    if (db.inTransaction(tx -> images.findByName(tx, name)).isPresent()) {
      throw new FarmException.Conflict("an image named '" + name + "' is already registered");
    }
  }

  /** The hash that names an image built from an OCI image archive: its digest and the command. */
  static String ociInputHash(String archiveSha256, String command) {
    return inputHash(List.of("oci-image " + archiveSha256), command);
  }

  /** The hash that names a composed image: its sorted package set and the command it starts. */
  static String inputHash(List<String> packages, String command) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (String p : new TreeSet<>(packages)) {
        sha.update(("package " + p + "\n").getBytes(StandardCharsets.UTF_8));
      }
      sha.update(("command " + command + "\n").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK always has SHA-256", e);
    }
  }

}

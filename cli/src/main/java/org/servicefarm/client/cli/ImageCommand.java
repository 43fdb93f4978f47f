package org.servicefarm.client.cli;

import java.util.List;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListImagesResponse;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** farmctl image: the catalog of pre-constructed images service definitions can name. */
@Command(
    name = "image",
   
    description = "Register pre-constructed images, or list the image catalog.",
    subcommands = {ImageCommand.Register.class, ImageCommand.Upload.class,
        ImageCommand.ListImages.class, ImageCommand.Gc.class},
    footer = {
      "%nExample:",
      "  farmctl image list",
    })
final class ImageCommand {

  private ImageCommand() {}

  @Command(
      name = "register",
     
      description = "Register an image file that is on the controller's host; the controller "
          + "hashes it into its image store.",
      footer = {
        "%nExample:",
        "  farmctl image register pg16 --path /srv/images/pg.qcow2 \\",
        "      --sha256 \"$(sha256sum pg.qcow2 | cut -c1-64)\"",
      })
  static final class Register implements Runnable {

    @Parameters(paramLabel = "<name>", description = "The image's name.")
    private String name;

    @Option(names = "--sha256", paramLabel = "HEX",
        description = "SHA-256 the file must have, in hex (checked when given).")
    private String sha256 = "";

    @Option(names = "--size", paramLabel = "BYTES",
        description = "Size the file must have, in bytes (checked when given).")
    private long sizeBytes;

    @Option(names = "--format", defaultValue = "qcow2", paramLabel = "FORMAT",
        description = "qcow2, raw or oci (default ${DEFAULT-VALUE}).")
    private String format;

    @Option(names = "--oci", description = "The file is an OCI image (--format oci): a tar of an"
        + " OCI image layout (skopeo copy ... oci-archive:FILE) or of docker save.")
    private boolean oci;

    @Option(names = "--path", required = true, paramLabel = "P",
        description = "Where the image file lives on the controller's host.")
    private String sourcePath;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
      RegisterImageRequest.Builder request = RegisterImageRequest.newBuilder()
          .setName(name)
          .setSha256(sha256)
          .setSizeBytes(sizeBytes)
          .setFormat(format);
      if (sourcePath != null) {
        request.setSourcePath(sourcePath);
      }
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        Image image = client.registerImage(request.build());
        farmCtl.output().print(image, table(List.of(image)));
      }
    }
  }

  @Command(
      name = "upload",
      description = "Upload an image file from this machine and register it: a disk (qcow2 or"
          + " raw), or an OCI image (an OCI image layout or a docker save archive, as a tar).",
      footer = {"%nExamples:", "  farmctl image upload pg16 ./pg.qcow2",
        "  farmctl image upload --oci web-oci ./web-oci.tar"})
  static final class Upload implements Runnable {

    @Parameters(index = "0", paramLabel = "<name>", description = "The image's name.")
    private String name;

    @Parameters(index = "1", paramLabel = "<file>", description = "The image file to send.")
    private java.nio.file.Path file;

    @Option(names = "--format", defaultValue = "qcow2", paramLabel = "FORMAT",
        description = "qcow2, raw or oci (default ${DEFAULT-VALUE}).")
    private String format;

    @Option(names = "--oci", description = "The file is an OCI image (--format oci): a tar of an"
        + " OCI image layout (skopeo copy ... oci-archive:FILE) or of docker save.")
    private boolean oci;

    @Option(names = "--timeout-minutes", defaultValue = "60", paramLabel = "M",
        description = "How long the upload may take (default ${DEFAULT-VALUE}).")
    private long timeoutMinutes;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
      FarmCtl farmCtl = FarmCtl.of(spec);
      if (!java.nio.file.Files.isRegularFile(file)) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "no such file: " + file);
      }
      try (FarmClient client = farmCtl.openClient()) {
        Image image = client.uploadImage(name, oci ? "oci" : format, file,
            java.time.Duration.ofMinutes(timeoutMinutes));
        farmCtl.output().print(image, table(List.of(image)));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("reading " + file + ": " + e.getMessage(), e);
      }
    }
  }

  @Command(
      name = "list",
     
      description = "List the image catalog.",
      footer = {"%nExample:", "  farmctl image list -o json"})
  static final class ListImages implements Runnable {

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        List<Image> images = client.listImages();
        farmCtl.output().print(ListImagesResponse.newBuilder().addAllImages(images),
            table(images));
      }
    }
  }

  @Command(
      name = "gc",
      description = "Remove the image store's blobs that nothing refers to (superseded builds,"
          + " archives of deleted VMs, layers no definition uses) once older than the"
          + " controller's grace; the controller also does this every hour.",
      footer = {"%nExample:", "  farmctl image gc --dry-run"})
  static final class Gc implements Runnable {

    @Spec
    private CommandSpec spec;

    @picocli.CommandLine.Option(names = "--dry-run",
        description = "only show what would be removed and what it frees")
    boolean dryRun;

    @Override
    public void run() {
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        org.servicefarm.api.v1.CollectBlobsResponse r = client.collectBlobs(dryRun);
        Table table = new Table("SHA256", "SIZE_BYTES", "STORED");
        for (org.servicefarm.api.v1.CollectedBlob blob : r.getBlobsList()) {
          table.row(Cells.text(blob.getSha256()), blob.getSizeBytes(),
              Cells.time(blob.getStoredAt()));
        }
        farmCtl.output().print(r.toBuilder(), table);
        if (!farmCtl.output().isJson()) {
          spec.commandLine().getOut().printf("%s %d blobs, %d bytes; %d blobs (%d bytes) stay, %d of them"
                  + " unreferenced but younger than the grace%n",
              r.getDryRun() ? "would remove" : "removed", r.getBlobsCount(), r.getFreedBytes(),
              r.getKeptBlobs(), r.getKeptBytes(), r.getYoungBlobs());
          spec.commandLine().getOut().flush();
        }
      }
    }
  }

  static Table table(List<Image> images) {
    Table table =
        new Table("IMAGE", "ID", "FORMAT", "SIZE_BYTES", "SHA256", "CREATED", "PATH");
    for (Image image : images) {
      table.row(image.getName(), Cells.text(image.getId()), Cells.text(image.getFormat()),
          image.getSizeBytes(), Cells.text(image.getSha256()), Cells.time(image.getCreatedAt()),
          Cells.text(image.getSourcePath()));
    }
    return table;
  }
}

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
    subcommands = {ImageCommand.Register.class, ImageCommand.ListImages.class},
    footer = {
      "%nExample:",
      "  farmctl image list",
    })
final class ImageCommand {

  private ImageCommand() {}

  @Command(
      name = "register",
     
      description = "Record a pre-constructed image in the catalog.",
      footer = {
        "%nExample:",
        "  farmctl image register pg16 --sha256 \"$(sha256sum pg.qcow2 | cut -c1-64)\" \\",
        "      --size \"$(stat -c %%s pg.qcow2)\" --path /srv/images/pg.qcow2",
      })
  static final class Register implements Runnable {

    @Parameters(paramLabel = "<name>", description = "The image's name.")
    private String name;

    @Option(names = "--sha256", required = true, paramLabel = "HEX",
        description = "SHA-256 of the image file, in hex.")
    private String sha256;

    @Option(names = "--size", required = true, paramLabel = "BYTES",
        description = "Size of the image file in bytes.")
    private long sizeBytes;

    @Option(names = "--format", defaultValue = "qcow2", paramLabel = "FORMAT",
        description = "qcow2 or raw (default ${DEFAULT-VALUE}).")
    private String format;

    @Option(names = "--path", paramLabel = "P",
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

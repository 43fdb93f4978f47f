package org.servicefarm.controller.api;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.db.OciImageRepository;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;

/**
 * A DefineService request's own fields, checked: its name, what it is built from (packages or
 * an image, exactly one), its command, its services and ports (an OCI image's entrypoint and
 * exposed ports fill in what the definition leaves out), and its size. Each refusal names the
 * field and the value.
 */
record DefinitionFields(String name, List<String> packages, String image, String command,
    int vcpus, long memoryMb, List<ServicePort> services) {

  static DefinitionFields of(ServiceDefinition d, ImageCatalog catalog) {
    String name = Validation.serviceName("definition.name", d.getName());
    List<String> packages = Validation.packages(d.getPackagesList());
    String image = d.getImage();
    if (packages.isEmpty() == image.isEmpty()) {
      throw new FarmException.InvalidInput("definition " + name
          + ": give either packages or image, not " + (image.isEmpty() ? "neither" : "both"));
    }
    if (!image.isEmpty()) {
      Validation.imageName("definition.image", image);
    }
    String command = Validation.command("definition.command", d.getCommand());
    int port = d.getPort();
    List<BundledService> bundledServices = d.getBundledList();
    // An OCI image offers its entrypoint and cmd, and its exposed ports, to a definition that
    // gives none: the lowest port is the definition's own, the others bundled services.
    Optional<OciImageRepository.OciDefaults> oci = image.isEmpty() ? Optional.empty()
        : catalog.ociDefaults(image, Caller.scope().project());
    if (oci.isPresent()) {
      command = command.isEmpty() ? oci.get().command() : command;
      List<Integer> exposed = oci.get().ports();
      if (port == 0 && exposed.isEmpty()) {
        throw new FarmException.InvalidInput("definition.port: OCI image '" + image
            + "' exposes no TCP port; give the port its service listens on");
      }
      if (port == 0) {
        port = exposed.get(0);
        if (bundledServices.isEmpty()) {
          bundledServices = exposed.subList(1, exposed.size()).stream()
              .map(p -> BundledService.newBuilder().setName(name + "-" + p).setPort(p).build())
              .toList();
        }
      }
    }
    List<ServicePort> services = new ArrayList<>();
    services.add(new ServicePort(name, Validation.port("definition.port", port)));
    Set<String> names = new HashSet<>(Set.of(name));
    Set<Integer> ports = new HashSet<>(Set.of(port));
    for (BundledService b : Validation.bundled(bundledServices)) {
      String bundled = Validation.serviceName("definition.bundled.name", b.getName());
      int bundledPort = Validation.port("definition.bundled.port", b.getPort());
      if (!names.add(bundled) || !ports.add(bundledPort)) {
        throw new FarmException.InvalidInput("definition.bundled: '" + bundled + "' on port "
            + bundledPort + " repeats a service name or port of the definition");
      }
      services.add(new ServicePort(bundled, bundledPort));
    }
    int vcpus = (int) Validation.range("definition.vcpus", d.getVcpus() == 0 ? 1 : d.getVcpus(), 1, 64);
    long memory = Validation.range("definition.memory_mb",
        d.getMemoryMb() == 0 ? 256 : d.getMemoryMb(), 64, 1_048_576);
    return new DefinitionFields(name, packages, image, command, vcpus, memory, services);
  }
}

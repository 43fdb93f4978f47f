package org.servicefarm.e2e.process;

import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AuditLogGrpc;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.ProjectAdminGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.TokenAdminGrpc;
import org.servicefarm.e2e.support.FarmJars;

/** The farm's API as proto/src/main/proto/servicefarm/v1 declares it, from the generated code. */
final class DeclaredApi {
  static final Path PROTO_DIR = Path.of("proto/src/main/proto/servicefarm/v1");

  private DeclaredApi() {}

  /**
   * Every service of every file in the proto directory.
   *
   * @throws AssertionError when a .proto file there is reached from none of the generated
   *     services below, so a new file cannot slip past the tests that use this
   */
  static List<ServiceDescriptor> services() throws IOException {
    Map<String, FileDescriptor> files = filesReachableFrom(List.of(
        FarmAdminGrpc.getServiceDescriptor(), ServiceBrokerGrpc.getServiceDescriptor(),
        TokenAdminGrpc.getServiceDescriptor(), ImageStoreGrpc.getServiceDescriptor(),
        AgentControlGrpc.getServiceDescriptor(), AuditLogGrpc.getServiceDescriptor(),
        ProjectAdminGrpc.getServiceDescriptor(),
        org.servicefarm.api.v1.GatewayRoutesGrpc.getServiceDescriptor()));
    List<ServiceDescriptor> services = new ArrayList<>();
    try (Stream<Path> protos = Files.list(FarmJars.root().resolve(PROTO_DIR))) {
      for (Path proto : protos.filter(p -> p.toString().endsWith(".proto")).sorted().toList()) {
        String name = "servicefarm/v1/" + proto.getFileName();
        FileDescriptor file = files.get(name);
        if (file == null) {
          throw new AssertionError(name + " is declared but no service known to DeclaredApi"
              + " reaches it; add its *Grpc class there");
        }
        services.addAll(file.getServices());
      }
    }
    return services;
  }

  private static Map<String, FileDescriptor> filesReachableFrom(
      List<io.grpc.ServiceDescriptor> generated) {
    Map<String, FileDescriptor> files = new LinkedHashMap<>();
    Deque<FileDescriptor> toVisit = new ArrayDeque<>();
    for (io.grpc.ServiceDescriptor service : generated) {
      toVisit.add(((ProtoServiceDescriptorSupplier) service.getSchemaDescriptor())
          .getServiceDescriptor().getFile());
    }
    while (!toVisit.isEmpty()) {
      FileDescriptor file = toVisit.pop();
      if (files.putIfAbsent(file.getName(), file) == null) {
        toVisit.addAll(file.getDependencies());
      }
    }
    return files;
  }
}

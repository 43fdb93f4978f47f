package org.servicefarm.e2e.process;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import io.grpc.Channel;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What a controller's gRPC reflection (v1) tells a tool such as grpcurl: the services it lists,
 * and the file descriptors it sends for a symbol, built into descriptors as such a tool would.
 */
final class ReflectedSchema {
  private final ServerReflectionGrpc.ServerReflectionStub reflection;
  /** Every file descriptor the server sent so far, by file name. */
  private final Map<String, FileDescriptorProto> sent = new HashMap<>();
  private final Map<String, FileDescriptor> built = new HashMap<>();

  ReflectedSchema(Channel channel) {
    this.reflection = ServerReflectionGrpc.newStub(channel);
  }

  /** The full names of the services the server lists. */
  List<String> listServices() throws Exception {
    ServerReflectionResponse response =
        ask(ServerReflectionRequest.newBuilder().setListServices("").build());
    return response.getListServicesResponse().getServiceList().stream()
        .map(ServiceResponse::getName).toList();
  }

  /**
   * The file that declares {@code symbol}, built from what the server sent: its imports must
   * have been sent too, or building fails as it would in grpcurl.
   */
  FileDescriptor fileContaining(String symbol) throws Exception {
    ServerReflectionResponse response = ask(
        ServerReflectionRequest.newBuilder().setFileContainingSymbol(symbol).build());
    if (response.hasErrorResponse()) {
      throw new AssertionError("reflection has no " + symbol + ": "
          + response.getErrorResponse().getErrorMessage());
    }
    List<ByteString> files = response.getFileDescriptorResponse().getFileDescriptorProtoList();
    // The server sends the declaring file first, then what it imports.
    FileDescriptorProto declaring = FileDescriptorProto.parseFrom(files.get(0));
    for (ByteString file : files) {
      FileDescriptorProto proto = FileDescriptorProto.parseFrom(file);
      sent.put(proto.getName(), proto);
    }
    return build(declaring.getName());
  }

  private FileDescriptor build(String name) throws DescriptorValidationException {
    FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    FileDescriptorProto proto = sent.get(name);
    if (proto == null) {
      throw new AssertionError("reflection did not send " + name + ", which another file imports");
    }
    List<FileDescriptor> imports = new ArrayList<>();
    for (String dependency : proto.getDependencyList()) {
      imports.add(build(dependency));
    }
    FileDescriptor file = FileDescriptor.buildFrom(proto, imports.toArray(FileDescriptor[]::new));
    built.put(name, file);
    return file;
  }

  private ServerReflectionResponse ask(ServerReflectionRequest request)
      throws InterruptedException, ExecutionException, TimeoutException {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        reflection.withDeadlineAfter(30, TimeUnit.SECONDS).serverReflectionInfo(
            new StreamObserver<>() {
              @Override
              public void onNext(ServerReflectionResponse response) {
                answer.complete(response);
              }

              @Override
              public void onError(Throwable error) {
                answer.completeExceptionally(error);
              }

              @Override
              public void onCompleted() {
                answer.completeExceptionally(
                    new IllegalStateException("reflection ended the stream without an answer"));
              }
            });
    requests.onNext(request);
    requests.onCompleted();
    return answer.get(30, TimeUnit.SECONDS);
  }
}

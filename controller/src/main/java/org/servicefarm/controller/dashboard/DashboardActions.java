package org.servicefarm.controller.dashboard;

import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonWriter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.servicefarm.api.v1.DeleteServiceRequest;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.FarmAdminGrpc.FarmAdminBlockingStub;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostActionRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.http.WebExchange;

/**
 * What an operator changes from the dashboard, under {@value #PREFIX}: a VM's suspend, resume,
 * archive, restore and delete, a host's drain and uncordon, a service's define and delete. Each
 * is one FarmAdmin call through {@link FarmCalls}, exactly what farmctl sends (force included),
 * so the farm refuses what it would refuse farmctl, in the same words; the answer carries them.
 *
 * <p>Paths: {@code vm/ID/ACTION}, {@code host/ID/drain|uncordon}, {@code service/define} and
 * {@code service/NAME/delete}, each POST with a JSON body ({@code {"force": true}} where farmctl
 * takes --force; the definition for define). CSRF: beside the cookie's SameSite=Strict, a request
 * must come from this server's own page (Origin, else Referer) and be JSON, which a page of
 * another site cannot send without the browser asking this server first.
 */
final class DashboardActions {
  static final String PREFIX = "/api/actions/";
  private static final int MAX_BODY_BYTES = 65536;

  private final FarmCalls calls;

  DashboardActions(FarmCalls calls) {
    this.calls = calls;
  }

  void handle(WebExchange exchange) throws IOException {
    if (!"POST".equals(exchange.getRequestMethod())) {
      Dashboard.methodNotAllowed(exchange, "POST");
      return;
    }
    if (SignIn.refusedAsCrossSite(exchange)) {
      return;
    }
    String type = exchange.getRequestHeaders().getFirst("Content-Type");
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
      answer(exchange, 415, error("INVALID_ARGUMENT", "actions take a JSON body (Content-Type:"
          + " application/json), not " + (type == null ? "none" : "'" + type + "'")));
      return;
    }
    List<String> parts = List.of(exchange.getRequestURI().getPath()
        .substring(PREFIX.length()).split("/", -1));
    JsonObject body;
    try {
      body = body(exchange);
    } catch (IllegalArgumentException e) {
      answer(exchange, 400, error("INVALID_ARGUMENT", e.getMessage()));
      return;
    }
    FarmAdminBlockingStub admin = calls.admin(WebAccess.presentedToken(exchange),
        exchange.remoteAddress());
    try {
      answer(exchange, 200, perform(admin, parts, body));
    } catch (UnknownAction e) {
      answer(exchange, 404, error("NOT_FOUND", e.getMessage()));
    } catch (IllegalArgumentException e) {
      answer(exchange, 400, error("INVALID_ARGUMENT", e.getMessage()));
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      answer(exchange, httpStatus(status.getCode()), error(status.getCode().name(),
          status.getDescription() == null ? status.getCode().name() : status.getDescription()));
    }
  }

  private static String perform(FarmAdminBlockingStub admin, List<String> parts, JsonObject body)
      throws IOException {
    boolean force = body.has("force") && body.get("force").getAsBoolean();
    if (parts.size() == 3 && parts.get(0).equals("vm")) {
      VmActionRequest request =
          VmActionRequest.newBuilder().setVmId(parts.get(1)).setForce(force).build();
      Vm vm = switch (parts.get(2)) {
        case "suspend" -> admin.suspendVm(request);
        case "resume" -> admin.resumeVm(request);
        case "archive" -> admin.archiveVm(request);
        case "restore" -> admin.restoreVm(request);
        case "delete" -> admin.deleteVm(request);
        default -> throw new UnknownAction("no VM action '" + parts.get(2)
            + "' (suspend, resume, archive, restore, delete)");
      };
      return done("VM " + vm.getId() + " is " + vm.getState().name().replace("VM_STATE_", ""),
          "vm", vm.getId());
    }
    if (parts.size() == 3 && parts.get(0).equals("host")) {
      HostActionRequest request = HostActionRequest.newBuilder().setHostId(parts.get(1)).build();
      Host host = switch (parts.get(2)) {
        case "drain" -> admin.drainHost(request);
        case "uncordon" -> admin.uncordonHost(request);
        default -> throw new UnknownAction("no host action '" + parts.get(2)
            + "' (drain, uncordon)");
      };
      return done("host " + host.getId() + " is "
          + host.getStatus().name().replace("HOST_STATUS_", ""), "host", host.getId());
    }
    if (parts.size() == 2 && parts.get(0).equals("service") && parts.get(1).equals("define")) {
      ServiceDefinition defined = admin.defineService(DefineServiceRequest.newBuilder()
          .setDefinition(ServiceForm.definition(body)).build());
      return done("service " + defined.getName() + " is defined", "service", defined.getName());
    }
    if (parts.size() == 3 && parts.get(0).equals("service") && parts.get(2).equals("delete")) {
      DeleteServiceResponse deleted = admin.deleteService(DeleteServiceRequest.newBuilder()
          .setName(parts.get(1)).setForce(force).build());
      return done("service " + deleted.getName() + " is deleted"
          + (deleted.getDeletedVmIdsCount() == 0 ? ""
              : "; its VMs are being deleted: " + String.join(", ", deleted.getDeletedVmIdsList())),
          "service", deleted.getName());
    }
    throw new UnknownAction("no action at " + PREFIX + String.join("/", parts));
  }

  private static String done(String message, String kind, String id) throws IOException {
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject().name("ok").value(true).name("message").value(message)
          .name(kind).value(id).endObject();
    }
    return text.toString();
  }

  static String error(String code, String message) throws IOException {
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject().name("ok").value(false).name("code").value(code)
          .name("error").value(message).endObject();
    }
    return text.toString();
  }

  /** The HTTP status a page and a script expect for a gRPC code. */
  static int httpStatus(Status.Code code) {
    return switch (code) {
      case OK -> 200;
      case INVALID_ARGUMENT, OUT_OF_RANGE -> 400;
      case UNAUTHENTICATED -> 401;
      case PERMISSION_DENIED -> 403;
      case NOT_FOUND -> 404;
      case ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED -> 409;
      case RESOURCE_EXHAUSTED -> 429;
      case UNAVAILABLE -> 503;
      case DEADLINE_EXCEEDED -> 504;
      default -> 500;
    };
  }

  private static JsonObject body(WebExchange exchange) throws IOException {
    byte[] bytes;
    try (InputStream in = exchange.getRequestBody()) {
      bytes = in.readNBytes(MAX_BODY_BYTES + 1);
    }
    if (bytes.length > MAX_BODY_BYTES) {
      throw new IllegalArgumentException("the body is longer than " + MAX_BODY_BYTES + " bytes");
    }
    String text = new String(bytes, StandardCharsets.UTF_8).strip();
    if (text.isEmpty()) {
      return new JsonObject();
    }
    try {
      var parsed = JsonParser.parseString(text);
      if (!parsed.isJsonObject()) {
        throw new IllegalArgumentException("the body must be a JSON object, not " + text);
      }
      return parsed.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("the body is not JSON: " + e.getMessage());
    }
  }

  private static void answer(WebExchange exchange, int status, String json) throws IOException {
    Dashboard.secureHeaders(exchange, false);
    WebServer.send(exchange, status, "application/json; charset=utf-8", json);
  }

  /** A path under {@value #PREFIX} that names no action. */
  private static final class UnknownAction extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UnknownAction(String message) {
      super(message);
    }
  }
}

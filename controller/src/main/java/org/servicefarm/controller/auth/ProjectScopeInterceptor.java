package org.servicefarm.controller.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.ProjectScope;

/**
 * Settles which project a call acts in ({@link Caller#scope()}), after authentication: a
 * project-bound token acts in its project; a farm-wide caller (a farm-wide admin token, an agent,
 * or no authentication) acts on the whole farm unless it names a project in the
 * {@value #HEADER} header. A project-bound caller naming another project is answered NOT_FOUND
 * whether that project exists or not, so project names do not leak either.
 */
public final class ProjectScopeInterceptor implements ServerInterceptor {
  public static final String HEADER = "servicefarm-project";
  static final Metadata.Key<String> PROJECT =
      Metadata.Key.of(HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

  private final Predicate<String> projectExists;
  private final Function<Throwable, Status> toStatus;

  /**
   * @param projectExists whether a live project has the name (read when a caller names one)
   * @param toStatus how a failure to read it (the database down) is answered
   */
  public ProjectScopeInterceptor(Predicate<String> projectExists,
      Function<Throwable, Status> toStatus) {
    this.projectExists = projectExists;
    this.toStatus = toStatus;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Status refusal;
    ProjectScope scope;
    try {
      String bound = Caller.TOKEN_PROJECT.get();
      String named = headers.get(PROJECT);
      if (named != null && !NAME.matcher(named).matches()) {
        refusal = Status.INVALID_ARGUMENT.withDescription("header " + HEADER + ": '"
            + shown(named) + "' is not a project name (1 to 63 of a-z, 0-9 and '-')");
        scope = null;
      } else if (bound != null) {
        refusal = named == null || named.equals(bound) ? null
            : Status.NOT_FOUND.withDescription("no project '" + named + "'");
        scope = ProjectScope.of(bound);
      } else if (named != null && !projectExists.test(named)) {
        refusal = Status.NOT_FOUND.withDescription("no project '" + named + "'");
        scope = null;
      } else {
        refusal = null;
        scope = ProjectScope.of(named);
      }
    } catch (RuntimeException e) {
      // The project table could not be read (database down): answer as any other call would.
      refusal = toStatus.apply(e);
      scope = null;
    }
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(Caller.SCOPE, scope), call, headers,
        next);
  }

  private static String shown(String value) {
    return value.length() > 70 ? value.substring(0, 64) + "..." : value;
  }
}

package org.servicefarm.http;

import java.io.IOException;

/** Answers one request of a route. */
@FunctionalInterface
public interface WebHandler {
  void handle(WebExchange exchange) throws IOException;
}

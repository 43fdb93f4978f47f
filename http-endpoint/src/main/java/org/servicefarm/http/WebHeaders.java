package org.servicefarm.http;

import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;

/** Request or response headers, names case-insensitive, in the shape handlers use. */
public final class WebHeaders {
  private final HttpHeaders headers;

  WebHeaders(HttpHeaders headers) {
    this.headers = headers;
  }

  /** The first value of the header, or null. */
  public String getFirst(String name) {
    return headers.get(name);
  }

  /** Every value of the header, or {@code otherwise} when there is none. */
  public List<String> getOrDefault(String name, List<String> otherwise) {
    List<String> all = headers.getAll(name);
    return all.isEmpty() ? otherwise : all;
  }

  /** Replaces the header's values with one. */
  public void set(String name, String value) {
    headers.set(name, value);
  }

  /** Adds a value to the header (Set-Cookie may carry several). */
  public void add(String name, String value) {
    headers.add(name, value);
  }
}

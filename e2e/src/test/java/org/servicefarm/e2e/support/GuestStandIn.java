package org.servicefarm.e2e.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What a simulated VM (libvirt's test driver boots nothing) would serve on its forwarded port: a
 * small HTTP/1.1 server on the port the farm recorded, answering every request with a page that
 * names it and keeping connections open until the client closes them. Only for tests on the
 * test driver; real guests serve real pages.
 */
public final class GuestStandIn implements AutoCloseable {
  private final ServerSocket server;
  private final String page;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger connections = new AtomicInteger();

  public GuestStandIn(String host, int port, String page) throws IOException {
    this.server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress(InetAddress.getByName(host), port), 1024);
    this.page = page;
    Thread acceptor = new Thread(this::accept, "stand-in-" + port);
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Connections accepted so far. */
  public int connections() {
    return connections.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        connections.incrementAndGet();
        open.add(s);
        Thread t = new Thread(() -> serve(s), "stand-in-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int b;
      int matched = 0;
      while ((b = in.read()) >= 0) {
        head.write(b);
        matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
        if (matched == 4) {
          String request = head.toString(StandardCharsets.ISO_8859_1);
          head.reset();
          matched = 0;
          boolean close = request.toLowerCase(java.util.Locale.ROOT).contains("connection: close");
          if (request.startsWith("GET /big ")) {
            sendBig(out);
            return;
          }
          byte[] body = page.getBytes(StandardCharsets.UTF_8);
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
              + body.length + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          out.write(body);
          out.flush();
          if (close) {
            return;
          }
        }
      }
    } catch (SocketException gone) {
      // The client (the gateway) closed: nothing to answer.
    } catch (IOException e) {
      System.err.println("stand-in connection failed: " + e.getMessage());
    } finally {
      open.remove(s);
    }
  }

  /** GET /big: {@link #BIG_BYTES} bytes of zeros, for throughput benchmarks. */
  public static final long BIG_BYTES = 100L * 1024 * 1024;

  private static void sendBig(OutputStream out) throws IOException {
    out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
        + BIG_BYTES + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    byte[] chunk = new byte[64 * 1024];
    for (long sent = 0; sent < BIG_BYTES; sent += chunk.length) {
      out.write(chunk);
    }
    out.flush();
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : open) {
      s.close();
    }
  }
}

package org.servicefarm.controller.auth;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The streams open under each token (WatchEvents, WatchOperation, any call that streams back),
 * ended with UNAUTHENTICATED once the token is revoked: a token checked only when a stream opens
 * would keep reading the farm for as long as the stream lasts. Checked every {@link #SWEEP_SECONDS}
 * against the token table as {@link TokenVerifier} holds it, so a revocation ends a stream within
 * the delay it takes to refuse new calls, plus at most one sweep.
 */
final class RevocableStreams implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(RevocableStreams.class.getName());
  static final long SWEEP_SECONDS = 1;

  private final Predicate<UUID> live;
  private final Map<UUID, Set<Revocable<?, ?>>> open = new ConcurrentHashMap<>();
  private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "token-revocation-sweep");
    t.setDaemon(true);
    return t;
  });

  /** @param live whether a token id is still live (TokenVerifier::isLive) */
  RevocableStreams(Predicate<UUID> live) {
    this.live = live;
    sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
  }

  /** Wraps a streaming call made with the token so that its revocation ends it. */
  <Q, R> Revocable<Q, R> track(UUID tokenId, String tokenName, ServerCall<Q, R> call) {
    Revocable<Q, R> revocable = new Revocable<>(call, tokenId, tokenName);
    open.computeIfAbsent(tokenId, id -> ConcurrentHashMap.newKeySet()).add(revocable);
    return revocable;
  }

  private void forget(Revocable<?, ?> call) {
    open.computeIfPresent(call.tokenId, (id, calls) -> {
      calls.remove(call);
      return calls.isEmpty() ? null : calls;
    });
  }

  void sweep() {
    try {
      for (Map.Entry<UUID, Set<Revocable<?, ?>>> entry : open.entrySet()) {
        if (!live.test(entry.getKey())) {
          for (Revocable<?, ?> call : Set.copyOf(entry.getValue())) {
            call.revoke();
          }
        }
      }
    } catch (RuntimeException e) {
      // The token table could not be read (database down): the streams stay until it can be.
      LOG.log(Level.WARNING, "open streams not checked against revocations: {0}", e.getMessage());
    }
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
  }

  /**
   * One tracked call. Its own sends and closes are serialised with a revocation's close (gRPC's
   * calls take one caller at a time), and the listener's callbacks with the cancellation a
   * revocation delivers, so the service frees what the stream held as on any cancel.
   */
  final class Revocable<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private final UUID tokenId;
    private final String tokenName;
    private final Object sending = new Object();
    private final Object listening = new Object();
    private boolean closed; // guarded by sending
    private boolean ended; // guarded by listening
    private ServerCall.Listener<Q> listener;

    Revocable(ServerCall<Q, R> call, UUID tokenId, String tokenName) {
      super(call);
      this.tokenId = tokenId;
      this.tokenName = tokenName;
    }

    /** The service's listener, wrapped so a revocation can cancel it exactly once. */
    ServerCall.Listener<Q> listen(ServerCall.Listener<Q> delegate) {
      this.listener = delegate;
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
        @Override
        public void onMessage(Q message) {
          synchronized (listening) {
            if (!ended) {
              super.onMessage(message);
            }
          }
        }

        @Override
        public void onHalfClose() {
          synchronized (listening) {
            if (!ended) {
              super.onHalfClose();
            }
          }
        }

        @Override
        public void onReady() {
          synchronized (listening) {
            if (!ended) {
              super.onReady();
            }
          }
        }

        @Override
        public void onCancel() {
          end(false);
        }

        @Override
        public void onComplete() {
          end(true);
        }
      };
    }

    private void end(boolean completed) {
      forget(this);
      synchronized (listening) {
        if (ended) {
          return;
        }
        ended = true;
        if (completed) {
          listener.onComplete();
        } else {
          listener.onCancel();
        }
      }
    }

    void revoke() {
      synchronized (sending) {
        if (closed) {
          return;
        }
        closed = true;
        super.close(Status.UNAUTHENTICATED.withDescription("bearer token '" + tokenName
            + "' was revoked; this stream ends"), new Metadata());
      }
      LOG.info(() -> "ended a " + getMethodDescriptor().getFullMethodName()
          + " stream of revoked token '" + tokenName + "'");
      end(false);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      synchronized (sending) {
        if (!closed) {
          super.sendHeaders(headers);
        }
      }
    }

    @Override
    public void sendMessage(R message) {
      synchronized (sending) {
        if (!closed) {
          super.sendMessage(message);
        }
      }
    }

    @Override
    public void request(int numMessages) {
      synchronized (sending) {
        if (!closed) {
          super.request(numMessages);
        }
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      synchronized (sending) {
        if (closed) {
          return;
        }
        closed = true;
        super.close(status, trailers);
      }
    }

    @Override
    public boolean isReady() {
      synchronized (sending) {
        return !closed && super.isReady();
      }
    }
  }
}

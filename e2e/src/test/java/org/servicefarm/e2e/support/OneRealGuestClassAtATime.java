package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Holds a file lock shared by every test JVM of the build (Surefire runs e2e classes in two forks)
 * while a {@link RealGuestTest} class runs, so the other fork goes on with tests that need no
 * guest and real-guest classes never overlap.
 */
public final class OneRealGuestClassAtATime implements BeforeAllCallback, AfterAllCallback {
  private static final Path LOCK_FILE =
      Path.of(System.getProperty("java.io.tmpdir"), "servicefarm-real-guest-tests.lock");
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(OneRealGuestClassAtATime.class);

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    FileChannel channel = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE,
        StandardOpenOption.WRITE);
    long started = System.nanoTime();
    FileLock lock = channel.lock();
    long waitedMs = (System.nanoTime() - started) / 1_000_000;
    if (waitedMs > 1000) {
      System.out.printf("%s waited %.1f s for another real-guest test class%n",
          context.getDisplayName(), waitedMs / 1000.0);
    }
    context.getStore(NAMESPACE).put(FileLock.class, lock);
  }

  @Override
  public void afterAll(ExtensionContext context) throws IOException {
    FileLock lock = context.getStore(NAMESPACE).remove(FileLock.class, FileLock.class);
    if (lock != null) {
      lock.release();
      lock.channel().close();
    }
  }
}

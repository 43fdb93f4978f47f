package org.servicefarm.agent.images;

/** Hears how far a fetch has come, after each chunk written. */
@FunctionalInterface
public interface TransferProgress {

  /** Hears nothing: for fetches nobody follows. */
  TransferProgress NONE = (doneBytes, totalBytes) -> { };

  /**
   * @param doneBytes bytes in place so far (a resumed fetch starts with those it had)
   * @param totalBytes the whole size, or 0 while unknown
   */
  void transferred(long doneBytes, long totalBytes);
}

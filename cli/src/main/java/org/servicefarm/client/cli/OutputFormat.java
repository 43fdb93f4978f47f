package org.servicefarm.client.cli;

/** What -o/--output accepts. */
enum OutputFormat {
  /** Aligned columns with a header, for people. */
  table,
  /** One JSON document in the API's own JSON form, for scripts. */
  json
}

package org.servicefarm.controller.db.embedded;

import java.nio.file.Path;

/**
 * Stands in for a controller process in tests that kill one: starts an embedded PostgreSQL on
 * the data directory given as the only argument, prints "READY port", and waits to be killed.
 */
public final class ServerInAnotherJvm {

    private ServerInAnotherJvm() {}

    public static void main(String[] args) throws Exception {
        EmbeddedPostgres postgres = EmbeddedPostgres.start(Path.of(args[0]), 0);
        System.out.println("READY " + postgres.port());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}

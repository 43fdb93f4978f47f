package org.servicefarm.controller.db.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class EmbeddedPostgresForTestsTest {

    @Test
    void twoFreshDatabasesAreEmptyAndIndependent() throws SQLException {
        String first = EmbeddedPostgresForTests.freshDatabase();
        String second = EmbeddedPostgresForTests.freshDatabase();
        assertNotEquals(first, second);

        assertEquals(0, userTableCount(first));
        assertEquals(0, userTableCount(second));

        try (Connection connection = connect(first); Statement statement = connection.createStatement()) {
            statement.execute("create table vms (id bigint primary key)");
            statement.execute("insert into vms values (1)");
        }

        assertEquals(1, userTableCount(first));
        assertEquals(0, userTableCount(second), "a table made in one database shows in the other");
    }

    private static int userTableCount(String url) throws SQLException {
        try (Connection connection = connect(url);
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(
                        "select count(*) from information_schema.tables where table_schema = 'public'")) {
            rows.next();
            return rows.getInt(1);
        }
    }

    private static Connection connect(String url) throws SQLException {
        return DriverManager.getConnection(url, EmbeddedPostgresForTests.user(), "");
    }
}

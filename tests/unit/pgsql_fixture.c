/* The PostgreSQL side of store_fixture.h: an emptied database before each
 * test, and row counts read on a connection of the test's own.
 *
 * CTest's fixture `postgres` (scripts/pg-test.sh) runs the server; each
 * test program gets a database of its own in MEETD_TEST_POSTGRES
 * (CMakeLists.txt: meetd_postgres_test), created here the first time, so
 * that test programs running at once never see each other's rows. Linked
 * into the unit tests of a build with the backend; not a test itself (the
 * glob takes tests/unit/test_*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/backend.h"

int pgsql_fixture_reset(const char *conninfo);
int64_t pgsql_fixture_count(const char *conninfo, const char *data, const char *table);

/* conninfo, or the same server's maintenance database `postgres`. */
static PGconn *fixture_connect(const char *conninfo, bool maintenance)
{
    const char *const keys[] = {"dbname", maintenance ? "dbname" : NULL, NULL};
    const char *const vals[] = {conninfo, "postgres", NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static int fixture_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "pgsql_fixture: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Creates the database conninfo names, when it does not exist. */
static int fixture_create_db(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        fprintf(stderr, "pgsql_fixture: bad conninfo: %s\n", err != NULL ? err : "?");
        PQfreemem(err);
        return -1;
    }
    const char *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
    int rc = -1;
    PGconn *pg = fixture_connect(conninfo, true);
    if (db != NULL && PQstatus(pg) == CONNECTION_OK) {
        char *ident = PQescapeIdentifier(pg, db, strlen(db));
        char sql[256];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", ident != NULL ? ident : "\"\"");
        PQfreemem(ident);
        rc = fixture_exec(pg, sql);
    }
    PQfinish(pg);
    PQconninfoFree(opts);
    return rc;
}

int pgsql_fixture_reset(const char *conninfo)
{
    PGconn *pg = fixture_connect(conninfo, false);
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        if (fixture_create_db(conninfo) != 0)
            return -1;
        pg = fixture_connect(conninfo, false);
        if (PQstatus(pg) != CONNECTION_OK) {
            fprintf(stderr, "pgsql_fixture: %s", PQerrorMessage(pg));
            PQfinish(pg);
            return -1;
        }
    }
    /* A test that failed inside a transaction abandons its store, whose
     * connections still hold their locks: end them before dropping. */
    int rc = fixture_exec(pg, "SET client_min_messages = warning");
    if (rc == 0)
        rc = fixture_exec(pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    if (rc == 0)
        rc = fixture_exec(pg, "DROP SCHEMA public CASCADE");
    if (rc == 0)
        rc = fixture_exec(pg, "CREATE SCHEMA public");
    PQfinish(pg);
    return rc;
}

int64_t pgsql_fixture_count(const char *conninfo, const char *data, const char *table)
{
    (void)data;
    PGconn *pg = fixture_connect(conninfo, false);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    char *ident = PQescapeIdentifier(pg, table, strlen(table));
    assert_non_null(ident);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", ident);
    PQfreemem(ident);
    PGresult *r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(pg);
    return n;
}

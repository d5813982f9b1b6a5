/* The writer's copies of the meetings it read lately.
 *
 * Every kickout and join reads its meeting (the row, its hosts, its
 * occurrences: three statements) on the writer thread, which runs all
 * writes one after another, so that reading was a tenth of the writer's
 * time at the kickout maximum (bench/README.md). The writer keeps the last
 * meetings it read and answers from them.
 *
 * A copy is right as long as nothing changed the meeting since it was
 * read:
 * - the writer's own changes go through store_meeting_update_status and
 *   store_meeting_insert, which drop the meeting's copy, and through
 *   store_app_delete (whose cascade takes meetings with it), which drops
 *   them all;
 * - a job rolled back (to its savepoint) or a batch that did not commit
 *   may have read a change that is now undone: all are dropped then;
 * - any other connection's commit (another process on the same database,
 *   `meetd app delete`) moves SQLite's data_version, which the writer reads
 *   at the start of each batch, inside its write transaction: all are
 *   dropped then.
 * Only the writer's connection has a cache, and only the writer's thread
 * touches it: no lock. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

/* Direct-mapped; a slot is only filled when used (a meeting is ~7.5 KB). */
#define STORE_MCACHE_SLOTS 128

typedef struct mcache_slot {
    bool used;
    core_meeting m;
} mcache_slot;

struct store_mcache {
    int64_t data_version;      /* as last read; -1 before the first read */
    mcache_slot *slot[STORE_MCACHE_SLOTS];
};

int store_mcache_new(store_mcache **out)
{
    store_mcache *mc = calloc(1, sizeof *mc);
    if (mc == NULL)
        return -1;
    mc->data_version = -1;
    *out = mc;
    return 0;
}

void store_mcache_free(store_mcache *mc)
{
    if (mc == NULL)
        return;
    for (int i = 0; i < STORE_MCACHE_SLOTS; i++)
        free(mc->slot[i]);
    free(mc);
}

static unsigned mcache_index(int64_t meeting_id)
{
    return (unsigned)(((uint64_t)meeting_id * 0x9e3779b97f4a7c15u) >> 57) % STORE_MCACHE_SLOTS;
}

bool store_mcache_get(const store_mcache *mc, const char *app_id, int64_t meeting_id,
                      core_meeting *out)
{
    const mcache_slot *s = mc->slot[mcache_index(meeting_id)];
    if (s == NULL || !s->used || s->m.meeting_id != meeting_id || strcmp(s->m.app_id, app_id) != 0)
        return false;
    *out = s->m;
    return true;
}

void store_mcache_put(store_mcache *mc, const core_meeting *m)
{
    mcache_slot **s = &mc->slot[mcache_index(m->meeting_id)];
    if (*s == NULL && (*s = malloc(sizeof **s)) == NULL)
        return;   /* no copy: the next read goes to the database */
    (*s)->m = *m;
    (*s)->used = true;
}

void store_mcache_drop(store_mcache *mc, int64_t meeting_id)
{
    mcache_slot *s = mc->slot[mcache_index(meeting_id)];
    if (s != NULL && s->m.meeting_id == meeting_id)
        s->used = false;
}

void store_mcache_clear(store_mcache *mc)
{
    for (int i = 0; i < STORE_MCACHE_SLOTS; i++)
        if (mc->slot[i] != NULL)
            mc->slot[i]->used = false;
}

int store_mcache_check(store_mcache *mc, store_tx *tx)
{
    sqlite3_stmt *st = store_stmt(tx, STMT_DATA_VERSION);
    if (st == NULL) {
        store_mcache_clear(mc);
        return STORE_ERROR;
    }
    int rc = store_row(tx, STMT_DATA_VERSION, st, 0);
    int64_t v = rc == STORE_OK ? sqlite3_column_int64(st, 0) : -1;
    store_done(tx, STMT_DATA_VERSION, st);
    if (rc != STORE_OK || v != mc->data_version)
        store_mcache_clear(mc);
    mc->data_version = v;
    return rc == STORE_OK ? STORE_OK : STORE_ERROR;
}

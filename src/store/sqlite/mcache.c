/* The writer's copies of the meetings it read lately, and the apps it
 * found without webhooks.
 *
 * Every kickout and join reads its meeting (the row, its hosts, its
 * occurrences: three statements) on the writer thread, which runs all
 * writes one after another, so that reading was a tenth of the writer's
 * time at the kickout maximum (bench/README.md). The writer keeps the last
 * meetings it read and answers from them. Likewise each kickout looks up
 * its app's webhooks twice (participant-kicked, participant-left), and
 * most apps have none: the writer remembers which apps had none.
 *
 * A copy is right as long as nothing changed the meeting since it was
 * read:
 * - the writer's own changes go through store_meeting_update_status,
 *   store_meeting_update and store_meeting_insert, which drop the
 *   meeting's copy, store_webhook_insert,
 *   which drops the app's "none", and store_app_delete (whose cascade takes
 *   meetings and webhooks with it), which drops everything;
 * - a job rolled back (to its savepoint) that changed a meeting or a
 *   webhook may have read its change back, now undone: all are dropped
 *   then (a job refused by the rules, which changed none, keeps them);
 *   likewise a batch that did not commit;
 * - any other connection's commit (another process on the same database,
 *   `meetd app delete`) moves SQLite's data_version, which the writer reads
 *   at the start of each batch, inside its write transaction: all are
 *   dropped then.
 * Only the writer's connection has a cache, and only the writer's thread
 * touches it: no lock. */
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "store/sqlite/lite.h"

/* Direct-mapped, not a table (common/hmap.h): a copy is only worth its
 * memory while its meeting is busy, so a meeting that hashes to a taken
 * slot simply takes it, and the cache never holds more than it was sized
 * for. A slot is only filled when used (a meeting is ~7.5 KB). The slot is
 * picked by hmap's hash. */
#define LITE_MCACHE_SLOTS 128
#define LITE_MCACHE_APPS 64

typedef struct mcache_slot {
    bool used;
    core_meeting m;
} mcache_slot;

typedef struct mcache_app {
    bool used;
    char app_id[CORE_APPID_MAX + 1];
} mcache_app;

struct lite_mcache {
    int64_t data_version;      /* as last read; -1 before the first read */
    bool changed;              /* the current job dropped or cleared something */
    mcache_slot *slot[LITE_MCACHE_SLOTS];
    mcache_app no_hooks[LITE_MCACHE_APPS];   /* apps seen without webhooks */
};

int lite_mcache_new(lite_mcache **out)
{
    lite_mcache *mc = calloc(1, sizeof *mc);
    if (mc == NULL)
        return -1;
    mc->data_version = -1;
    *out = mc;
    return 0;
}

void lite_mcache_free(lite_mcache *mc)
{
    if (mc == NULL)
        return;
    for (int i = 0; i < LITE_MCACHE_SLOTS; i++)
        free(mc->slot[i]);
    free(mc);
}

static unsigned mcache_index(int64_t meeting_id)
{
    return (unsigned)(hmap_hash_int(0, (uint64_t)meeting_id) % LITE_MCACHE_SLOTS);
}

bool lite_mcache_get(const lite_mcache *mc, const char *app_id, int64_t meeting_id,
                      core_meeting *out)
{
    const mcache_slot *s = mc->slot[mcache_index(meeting_id)];
    if (s == NULL || !s->used || s->m.meeting_id != meeting_id || strcmp(s->m.app_id, app_id) != 0)
        return false;
    *out = s->m;
    return true;
}

void lite_mcache_put(lite_mcache *mc, const core_meeting *m)
{
    mcache_slot **s = &mc->slot[mcache_index(m->meeting_id)];
    if (*s == NULL && (*s = malloc(sizeof **s)) == NULL)
        return;   /* no copy: the next read goes to the database */
    (*s)->m = *m;
    (*s)->used = true;
}

void lite_mcache_drop(lite_mcache *mc, int64_t meeting_id)
{
    mc->changed = true;
    mcache_slot *s = mc->slot[mcache_index(meeting_id)];
    if (s != NULL && s->m.meeting_id == meeting_id)
        s->used = false;
}

static mcache_app *mcache_app_at(lite_mcache *mc, const char *app_id)
{
    return &mc->no_hooks[hmap_hash_str(0, app_id) % LITE_MCACHE_APPS];
}

bool lite_mcache_no_hooks(lite_mcache *mc, const char *app_id)
{
    const mcache_app *a = mcache_app_at(mc, app_id);
    return a->used && strcmp(a->app_id, app_id) == 0;
}

void lite_mcache_put_no_hooks(lite_mcache *mc, const char *app_id)
{
    if (strlen(app_id) > CORE_APPID_MAX)
        return;
    mcache_app *a = mcache_app_at(mc, app_id);
    strcpy(a->app_id, app_id);
    a->used = true;
}

void lite_mcache_drop_hooks(lite_mcache *mc, const char *app_id)
{
    mc->changed = true;
    mcache_app *a = mcache_app_at(mc, app_id);
    if (strcmp(a->app_id, app_id) == 0)
        a->used = false;
}

void lite_mcache_clear(lite_mcache *mc)
{
    mc->changed = true;
    for (int i = 0; i < LITE_MCACHE_SLOTS; i++)
        if (mc->slot[i] != NULL)
            mc->slot[i]->used = false;
    for (int i = 0; i < LITE_MCACHE_APPS; i++)
        mc->no_hooks[i].used = false;
}

void lite_mcache_job_begin(lite_mcache *mc) { mc->changed = false; }

void lite_mcache_job_undone(lite_mcache *mc)
{
    if (mc->changed)
        lite_mcache_clear(mc);
}

int lite_mcache_check(lite_mcache *mc, store_tx *tx)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_DATA_VERSION);
    if (st == NULL) {
        lite_mcache_clear(mc);
        return STORE_ERROR;
    }
    int rc = lite_row(tx, STMT_DATA_VERSION, st, 0);
    int64_t v = rc == STORE_OK ? sqlite3_column_int64(st, 0) : -1;
    lite_done(tx, STMT_DATA_VERSION, st);
    if (rc != STORE_OK || v != mc->data_version)
        lite_mcache_clear(mc);
    mc->data_version = v;
    return rc == STORE_OK ? STORE_OK : STORE_ERROR;
}

/* The WAL checkpointer: copies committed pages from the WAL back into the
 * database file on a thread and a connection of its own.
 *
 * SQLite's automatic checkpoint runs inside the commit that pushes the WAL
 * past 1,000 pages: that commit's caller (and, with group commit, every
 * caller queued behind it) waits while the pages are written back and the
 * database file is synced. That wait was the tail of meetd's write latency
 * (bench/README.md). Here the writer only notices the WAL's length after
 * each commit (the WAL hook) and wakes this thread, which runs a PASSIVE
 * checkpoint: it never takes the writer's lock, so batches keep committing
 * while it works.
 *
 * A PASSIVE checkpoint copies what was committed when it began. SQLite
 * starts the WAL over only at a write that begins after a checkpoint copied
 * everything, which under writes that never pause does not happen: the WAL
 * would grow without end, and every commit that extends the file costs the
 * file system a journal commit of its own on top of the data sync. So past
 * LITE_CKPT_RESTART_FRAMES this thread runs passes back to back until
 * little is left to copy, then holds the writer between two batches
 * (lite_ckpt_batch_begin) for a last short pass; the next batch starts the
 * WAL over. The writer's pause is that last pass: a few hundred pages and a
 * sync of the database file. Past LITE_CKPT_HARD_FRAMES (readers holding
 * old snapshots, a disk slower than the writes) the writer checkpoints
 * inline, as SQLite would have, which bounds the WAL. Durability is
 * unchanged: a checkpoint syncs the WAL, then the database file, before the
 * WAL may be reused. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/sqlite/lite.h"

/* SQLite's own auto-checkpoint threshold (pages of the WAL): a pass per
 * this many new pages. */
#define LITE_CKPT_FRAMES 1000
/* Past this the checkpointer works towards starting the WAL over. Each
 * start costs the writer a pause (the last pass: a sync of the WAL, up to
 * LITE_CKPT_TAIL_FRAMES pages copied, a sync of the database file). At
 * 4,000 pages that was 8-10 pauses a second at half the kickout maximum,
 * a hundredth of the time, so the p99 (bench/README.md); at 16,000, two. */
#define LITE_CKPT_RESTART_FRAMES 16000
/* ... pausing the writer once at most this many pages are left to copy. */
#define LITE_CKPT_TAIL_FRAMES 256
/* Passes run back to back to get there before giving up until the next
 * wake-up (writes outpacing the copy, or a reader holding an old snapshot). */
#define LITE_CKPT_CONVERGE_PASSES 4
/* 4 x LITE_CKPT_RESTART_FRAMES: 64 MiB of 1 KiB pages, journal_size_limit's
 * size (256 MiB in a database created with 4 KiB pages before meetd chose
 * 1 KiB). */
#define LITE_CKPT_HARD_FRAMES 64000

struct lite_ckpt {
    sqlite3 *db;               /* used only by the thread, once started */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool wanted;
    bool stopping;
    bool pause_wanted;         /* the writer is to wait before its next batch */
    bool in_batch;             /* the writer is between batch_begin and _end */
    pthread_cond_t writer_cond;   /* the writer waits here while paused */
    pthread_cond_t paused_cond;   /* ... and the checkpointer for in_batch to clear */
    int frames_asked;          /* the WAL's length when a pass was last asked for */
    int frames_seen;           /* its length after the last commit (writer only) */
    uint32_t generation;       /* its header's checkpoint sequence then (writer only) */
    pthread_t thread;
};

/* One PASSIVE pass; *wal and *copied get the WAL's length and how much of
 * it is now in the database file (-1 when unknown). False on failure. */
static bool ckpt_pass(lite_ckpt *k, int *wal, int *copied)
{
    *wal = *copied = -1;
    int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, wal, copied);
    /* A connection that cannot see the WAL also answers SQLITE_OK, with
     * -1: such a pass is not counted. BUSY: the writer's inline one is
     * running. */
    if (rc == SQLITE_OK) {
        if (*copied > 0)
            metrics_add(METRICS_STORE_CHECKPOINTS, 1);
        return true;
    }
    if (rc != SQLITE_BUSY)
        log_error("store: checkpoint: %s (%d)", sqlite3_errmsg(k->db),
                  sqlite3_extended_errcode(k->db));
    return false;
}

/* The last pass with the writer held between two batches, so that it
 * copies everything and the writer's next transaction starts the WAL over. */
static void ckpt_restart(lite_ckpt *k)
{
    pthread_mutex_lock(&k->lock);
    k->pause_wanted = true;
    while (k->in_batch && !k->stopping)
        pthread_cond_wait(&k->paused_cond, &k->lock);
    bool stopping = k->stopping;
    pthread_mutex_unlock(&k->lock);
    int wal, copied;
    if (!stopping && ckpt_pass(k, &wal, &copied) && wal > 0 && copied == wal)
        metrics_add(METRICS_STORE_WAL_RESTARTS, 1);
    pthread_mutex_lock(&k->lock);
    k->pause_wanted = false;
    pthread_cond_broadcast(&k->writer_cond);
    pthread_mutex_unlock(&k->lock);
}

static void *ckpt_main(void *arg)
{
    lite_ckpt *k = arg;
    pthread_setname_np(pthread_self(), "store-ckpt");
    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (!k->wanted && !k->stopping)
            pthread_cond_wait(&k->cond, &k->lock);
        if (k->stopping)
            break;
        k->wanted = false;
        pthread_mutex_unlock(&k->lock);
        int wal, copied;
        bool ok = ckpt_pass(k, &wal, &copied);
        for (int i = 0; ok && wal >= LITE_CKPT_RESTART_FRAMES &&
                        wal - copied > LITE_CKPT_TAIL_FRAMES && i < LITE_CKPT_CONVERGE_PASSES;
             i++)
            ok = ckpt_pass(k, &wal, &copied);
        if (ok && wal >= LITE_CKPT_RESTART_FRAMES && wal - copied <= LITE_CKPT_TAIL_FRAMES)
            ckpt_restart(k);
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

void lite_ckpt_batch_begin(lite_ckpt *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    int64_t held_since = k->pause_wanted && !k->stopping ? clock_mono_us() : 0;
    while (k->pause_wanted && !k->stopping)
        pthread_cond_wait(&k->writer_cond, &k->lock);
    k->in_batch = true;
    pthread_mutex_unlock(&k->lock);
    if (held_since != 0)
        metrics_wal_hold(clock_mono_us() - held_since);
}

void lite_ckpt_batch_end(lite_ckpt *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    k->in_batch = false;
    if (k->pause_wanted)
        pthread_cond_signal(&k->paused_cond);
    pthread_mutex_unlock(&k->lock);
}

/* The WAL's checkpoint sequence number, from its header (bytes 12..15,
 * big-endian; SQLite's file format): a commit that starts the WAL over
 * writes a new header with the number moved on. Read through the writer's
 * own handle of the file, so it is the WAL the writer writes to. */
static int ckpt_wal_generation(sqlite3 *writer, const char *schema, uint32_t *out)
{
    sqlite3_file *wal = NULL;
    unsigned char b[4];
    if (sqlite3_file_control(writer, schema, SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK ||
        wal == NULL || wal->pMethods == NULL || wal->pMethods->xRead(wal, b, 4, 12) != SQLITE_OK)
        return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Called by SQLite on the writer's thread after every commit, with the
 * number of pages now in the WAL. */
static int ckpt_wal_hook(void *arg, sqlite3 *writer, const char *schema, int frames)
{
    lite_ckpt *k = arg;
    /* A commit that started the WAL over wrote all there is now; its length
     * alone cannot tell, as it may be longer than the WAL was before. One
     * read of 4 bytes a commit. Unreadable: shorter means started over. */
    uint32_t generation = 0;
    bool restarted = frames < k->frames_seen;
    if (ckpt_wal_generation(writer, schema, &generation) == 0) {
        restarted = generation != k->generation;
        k->generation = generation;
    }
    metrics_add(METRICS_STORE_WAL_PAGES, (uint64_t)(restarted ? frames : frames - k->frames_seen));
    k->frames_seen = frames;
    if (frames < LITE_CKPT_FRAMES)
        return SQLITE_OK;
    if (frames >= LITE_CKPT_HARD_FRAMES) {
        if (sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
            SQLITE_OK)
            metrics_add(METRICS_STORE_CHECKPOINTS_INLINE, 1);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&k->lock);
    /* One pass per LITE_CKPT_FRAMES new pages: back-to-back passes would
     * keep two syncs of their own in the disk's queue, ahead of commits. */
    if (frames < k->frames_asked || frames - k->frames_asked >= LITE_CKPT_FRAMES) {
        k->frames_asked = frames;
        k->wanted = true;
        pthread_cond_signal(&k->cond);
    }
    pthread_mutex_unlock(&k->lock);
    return SQLITE_OK;
}

int lite_ckpt_start(const char *path, sqlite3 *writer, lite_ckpt **out)
{
    *out = NULL;
    lite_ckpt *k = calloc(1, sizeof *k);
    if (k == NULL) {
        log_error("store: out of memory");
        return -1;
    }
    /* The default synchronous (FULL) makes each checkpoint sync the WAL and
     * the database file, whatever the writer's durability. */
    int rc = sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("store: checkpointer: %s", k->db != NULL ? sqlite3_errmsg(k->db)
                                                           : sqlite3_errstr(rc));
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    /* A connection learns that the file is in WAL mode at its first read;
     * until then a checkpoint on it is a silent no-op. */
    sqlite3_stmt *st = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(k->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(st, 0);
    bool wal = mode != NULL && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        log_error("store: checkpointer: the database is not in WAL mode");
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    pthread_cond_init(&k->writer_cond, NULL);
    pthread_cond_init(&k->paused_cond, NULL);
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        log_error("store: cannot start the checkpointer thread");
        pthread_cond_destroy(&k->paused_cond);
        pthread_cond_destroy(&k->writer_cond);
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    /* Replaces SQLite's auto-checkpoint, which is itself a WAL hook. */
    sqlite3_wal_hook(writer, ckpt_wal_hook, k);
    *out = k;
    return 0;
}

void lite_ckpt_stop(lite_ckpt *k, sqlite3 *writer)
{
    if (k == NULL)
        return;
    /* From here on the writer checkpoints as SQLite would by itself. */
    sqlite3_wal_autocheckpoint(writer, LITE_CKPT_FRAMES);
    pthread_mutex_lock(&k->lock);
    k->stopping = true;
    pthread_cond_signal(&k->cond);
    pthread_cond_broadcast(&k->writer_cond);
    pthread_cond_signal(&k->paused_cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    if (sqlite3_close(k->db) != SQLITE_OK)
        log_error("store: checkpointer: close: %s", sqlite3_errmsg(k->db));
    pthread_cond_destroy(&k->paused_cond);
    pthread_cond_destroy(&k->writer_cond);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

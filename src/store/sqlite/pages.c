/* Where a participants page starts, remembered.
 *
 * `pos` is an offset into a meeting's sessions in join order, and SQLite
 * can only reach the pos-th entry of an index by stepping over those
 * before it: a client listing a meeting of 100,000 sessions page by page
 * made meetd step over 5,000 million entries. But a meeting's sessions
 * are only ever appended (device_no only grows, and a session is deleted
 * only with its meeting), so the session at a position never changes.
 * When a page ends, the number of its last session is kept against the
 * position that follows; a page asked for at that position starts right
 * after that session, on the index, without stepping over anything.
 * Positions that are multiples of a stride are kept the same way, for
 * pages jumped to (participants_jump, sqlite/users.c).
 *
 * A slot is keyed by (meeting, occurrence, position) and overwritten by
 * whatever hashes to it next (hmap's hash; direct-mapped rather than a
 * table of common/hmap.h, so that its memory is fixed and nothing needs
 * evicting); a hit is checked before use (the session
 * must still be that meeting's, which a meeting deleted since fails), so a
 * wrong entry costs a lookup, never a wrong page. One table per store,
 * shared by its connections. */
#include <pthread.h>
#include <stdlib.h>

#include "common/hmap.h"
#include "store/sqlite/lite.h"

#define LITE_PAGES_SLOTS 4096

typedef struct pages_slot {
    int64_t meeting_id;
    int64_t sub_meeting_id;
    int64_t pos;               /* 0: empty (position 0 needs no entry) */
    int64_t before_no;         /* the session at pos - 1 */
} pages_slot;

struct lite_pages {
    pthread_mutex_t lock;
    pages_slot slot[LITE_PAGES_SLOTS];
};

int lite_pages_new(lite_pages **out)
{
    lite_pages *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return 0;
}

void lite_pages_free(lite_pages *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static pages_slot *pages_at(lite_pages *p, int64_t meeting_id, int64_t sub, int64_t pos)
{
    uint64_t h = hmap_hash_int(0, (uint64_t)meeting_id);
    h = hmap_hash_mix(hmap_hash_mix(h, (uint64_t)sub), (uint64_t)pos);
    return &p->slot[h % LITE_PAGES_SLOTS];
}

bool lite_pages_get(lite_pages *p, int64_t meeting_id, int64_t sub, int64_t pos,
                     int64_t *before_no)
{
    if (p == NULL || pos <= 0)
        return false;
    pthread_mutex_lock(&p->lock);
    const pages_slot *e = pages_at(p, meeting_id, sub, pos);
    bool hit = e->pos == pos && e->meeting_id == meeting_id && e->sub_meeting_id == sub;
    if (hit)
        *before_no = e->before_no;
    pthread_mutex_unlock(&p->lock);
    return hit;
}

void lite_pages_put(lite_pages *p, int64_t meeting_id, int64_t sub, int64_t pos,
                     int64_t before_no)
{
    if (p == NULL || pos <= 0)
        return;
    pthread_mutex_lock(&p->lock);
    *pages_at(p, meeting_id, sub, pos) =
        (pages_slot){.meeting_id = meeting_id, .sub_meeting_id = sub, .pos = pos,
                     .before_no = before_no};
    pthread_mutex_unlock(&p->lock);
}

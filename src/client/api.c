/* One call per endpoint of docs/api.md: each builds its URI and hands the
 * body to meet_request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

char *meet_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

/* A URI being built: appends escape or copy as asked, remembering a failure
 * so that the caller checks once. */
typedef struct meet_uri {
    char *s;
    size_t len;
    bool failed;
} meet_uri;

static void meet_uri_add(meet_uri *u, const char *text)
{
    if (u->failed)
        return;
    size_t n = strlen(text);
    char *grown = realloc(u->s, u->len + n + 1);
    if (grown == NULL) {
        u->failed = true;
        return;
    }
    memcpy(grown + u->len, text, n + 1);
    u->s = grown;
    u->len += n;
}

static void meet_uri_esc(meet_uri *u, const char *value)
{
    if (u->failed)
        return;
    char *e = meet_escape(value);
    if (e == NULL) {
        u->failed = true;
        return;
    }
    meet_uri_add(u, e);
    free(e);
}

static void meet_uri_long(meet_uri *u, const char *sep_name, long v)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    meet_uri_add(u, sep_name);
    meet_uri_add(u, num);
}

/* prefix + escaped(meeting_id) + suffix */
static meet_rc meet_uri_meeting(meet_uri *u, const char *prefix, const char *meeting_id,
                                const char *suffix, meet_error *err)
{
    memset(u, 0, sizeof *u);
    if (meeting_id == NULL || meeting_id[0] == '\0') {
        meet_err_clear(err);
        return meet_err_set(err, MEET_EINVAL, "no meeting id");
    }
    meet_uri_add(u, prefix);
    meet_uri_esc(u, meeting_id);
    meet_uri_add(u, suffix);
    return MEET_OK;
}

/* Sends the built URI, or reports why it could not be built; frees it. */
static meet_rc meet_uri_send(meet_client *c, meet_uri *u, const char *method, const json_t *body,
                             const char *const *headers, json_t **out, meet_error *err)
{
    meet_rc rc;
    if (u->failed) {
        if (out != NULL)
            *out = NULL;
        meet_err_clear(err);
        rc = meet_err_set(err, MEET_ENOMEM, "out of memory");
    } else {
        rc = meet_request(c, method, u->s, body, headers, out, err);
    }
    free(u->s);
    u->s = NULL;
    return rc;
}

static meet_rc meet_meeting_call(meet_client *c, const char *method, const char *prefix,
                                 const char *meeting_id, const char *suffix, const json_t *body,
                                 const char *const *headers, json_t **out, meet_error *err)
{
    meet_uri u;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_meeting(&u, prefix, meeting_id, suffix, err);
    if (rc != MEET_OK)
        return rc;
    return meet_uri_send(c, &u, method, body, headers, out, err);
}

meet_rc meet_meeting_create(meet_client *c, const json_t *body, json_t **out, meet_error *err)
{
    return meet_request(c, "POST", "/v1/meetings", body, NULL, out, err);
}

/* The asker of a query, in the SDK's order: operator_id, operator_id_type,
 * then instanceid. */
static void meet_uri_operator(meet_uri *u, const char *operator_id, int operator_id_type,
                              int instanceid)
{
    meet_uri_add(u, "operator_id=");
    meet_uri_esc(u, operator_id != NULL ? operator_id : "");
    meet_uri_long(u, "&operator_id_type=", operator_id_type);
    meet_uri_long(u, "&instanceid=", instanceid);
}

meet_rc meet_meeting_query(meet_client *c, const char *meeting_id, const char *operator_id,
                           int operator_id_type, int instanceid, json_t **out, meet_error *err)
{
    meet_uri u;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_meeting(&u, "/v1/meetings/", meeting_id, "?", err);
    if (rc != MEET_OK)
        return rc;
    meet_uri_operator(&u, operator_id, operator_id_type, instanceid);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

meet_rc meet_meeting_get(meet_client *c, const char *meeting_id, const char *userid,
                         int instanceid, json_t **out, meet_error *err)
{
    return meet_meeting_query(c, meeting_id, userid, MEET_OPERATOR_USERID, instanceid, out, err);
}

meet_rc meet_meeting_by_code(meet_client *c, const char *meeting_code, const char *operator_id,
                             int operator_id_type, int instanceid, json_t **out,
                             meet_error *err)
{
    meet_uri u = {0};
    if (out != NULL)
        *out = NULL;
    if (meeting_code == NULL || meeting_code[0] == '\0') {
        meet_err_clear(err);
        return meet_err_set(err, MEET_EINVAL, "no meeting code");
    }
    meet_uri_add(&u, "/v1/meetings?");
    meet_uri_operator(&u, operator_id, operator_id_type, instanceid);
    meet_uri_add(&u, "&meeting_code=");
    meet_uri_esc(&u, meeting_code);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

meet_rc meet_meetings_list(meet_client *c, const char *userid, int instanceid, long long pos,
                           long long cursory, bool all_sub_meetings, json_t **out,
                           meet_error *err)
{
    meet_uri u = {0};
    char num[32];
    if (out != NULL)
        *out = NULL;
    /* The SDK names a userid with userid= here (its operator_id is for
     * rooms_id only), in its order: userid, instanceid, cursory, pos. */
    meet_uri_add(&u, "/v1/meetings?userid=");
    meet_uri_esc(&u, userid != NULL ? userid : "");
    meet_uri_long(&u, "&instanceid=", instanceid);
    if (cursory >= 0) {
        snprintf(num, sizeof num, "&cursory=%lld", cursory);
        meet_uri_add(&u, num);
    }
    if (pos >= 0) {
        snprintf(num, sizeof num, "&pos=%lld", pos);
        meet_uri_add(&u, num);
    }
    if (all_sub_meetings)
        meet_uri_add(&u, "&is_show_all_sub_meetings=1");
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

meet_rc meet_meeting_update(meet_client *c, const char *meeting_id, const json_t *body,
                            json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "PUT", "/v1/meetings/", meeting_id, "", body, NULL, out, err);
}

meet_rc meet_meeting_cancel(meet_client *c, const char *meeting_id, const json_t *body,
                            json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "POST", "/v1/meetings/", meeting_id, "/cancel", body, NULL, out,
                             err);
}

meet_rc meet_meeting_dismiss(meet_client *c, const char *meeting_id, const json_t *body,
                             json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "POST", "/v1/meetings/", meeting_id, "/dismiss", body, NULL, out,
                             err);
}

meet_rc meet_meeting_participants(meet_client *c, const char *meeting_id, const char *userid,
                                  const char *sub_meeting_id, long pos, long size,
                                  json_t **out, meet_error *err)
{
    meet_uri u;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_meeting(&u, "/v1/meetings/", meeting_id, "/participants?userid=", err);
    if (rc != MEET_OK)
        return rc;
    meet_uri_esc(&u, userid != NULL ? userid : "");
    if (sub_meeting_id != NULL) {
        meet_uri_add(&u, "&sub_meeting_id=");
        meet_uri_esc(&u, sub_meeting_id);
    }
    if (pos >= 0)
        meet_uri_long(&u, "&pos=", pos);
    if (size >= 0)
        meet_uri_long(&u, "&size=", size);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

void meet_participants_query_init(meet_participants_query *q)
{
    memset(q, 0, sizeof *q);
    q->operator_id_type = 1;
    q->pos = q->size = q->start_time = q->end_time = q->page = q->page_size = -1;
}

/* "?name=" for the first argument, "&name=" after. */
static void meet_uri_arg(meet_uri *u, bool *first, const char *name)
{
    meet_uri_add(u, *first ? "?" : "&");
    *first = false;
    meet_uri_add(u, name);
    meet_uri_add(u, "=");
}

static void meet_uri_arg_long(meet_uri *u, bool *first, const char *name, long v)
{
    if (v < 0)
        return;
    meet_uri_arg(u, first, name);
    meet_uri_long(u, "", v);
}

/* The arguments both lists start with, in the SDK's order. */
static meet_rc meet_uri_list(meet_uri *u, const char *meeting_id, const char *suffix,
                             const meet_participants_query *q, bool *first, meet_error *err)
{
    meet_rc rc = meet_uri_meeting(u, "/v1/meetings/", meeting_id, suffix, err);
    if (rc != MEET_OK)
        return rc;
    *first = true;
    if (q->sub_meeting_id != NULL) {
        meet_uri_arg(u, first, "sub_meeting_id");
        meet_uri_esc(u, q->sub_meeting_id);
    }
    meet_uri_arg(u, first, "operator_id");
    meet_uri_esc(u, q->operator_id != NULL ? q->operator_id : "");
    meet_uri_arg_long(u, first, "operator_id_type",
                      q->operator_id_type > 0 ? q->operator_id_type : 1);
    return MEET_OK;
}

meet_rc meet_participants(meet_client *c, const char *meeting_id,
                          const meet_participants_query *q, json_t **out, meet_error *err)
{
    meet_uri u;
    bool first;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_list(&u, meeting_id, "/participants", q, &first, err);
    if (rc != MEET_OK)
        return rc;
    meet_uri_arg_long(&u, &first, "pos", q->pos);
    meet_uri_arg_long(&u, &first, "size", q->size);
    meet_uri_arg_long(&u, &first, "start_time", q->start_time);
    meet_uri_arg_long(&u, &first, "end_time", q->end_time);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

meet_rc meet_realtime_participants(meet_client *c, const char *meeting_id,
                                   const meet_participants_query *q, json_t **out,
                                   meet_error *err)
{
    meet_uri u;
    bool first;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_list(&u, meeting_id, "/real_time_participants", q, &first, err);
    if (rc != MEET_OK)
        return rc;
    meet_uri_arg_long(&u, &first, "page", q->page);
    meet_uri_arg_long(&u, &first, "page_size", q->page_size);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

meet_rc meet_kickout(meet_client *c, const char *meeting_id, const json_t *body, bool results,
                     json_t **out, meet_error *err)
{
    static const char *const prefer[] = {"Prefer: return=representation", NULL};
    return meet_meeting_call(c, "PUT", "/v1/real-control/meetings/", meeting_id, "/kickout", body,
                             results ? prefer : NULL, out, err);
}

meet_rc meet_cohosts(meet_client *c, const char *meeting_id, const json_t *body, json_t **out,
                     meet_error *err)
{
    return meet_meeting_call(c, "PUT", "/v1/real-control/meetings/", meeting_id, "/cohosts", body,
                             NULL, out, err);
}

meet_rc meet_device_join(meet_client *c, const char *meeting_id, const json_t *body,
                         json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "POST", "/meetd/v1/meetings/", meeting_id, "/join", body, NULL,
                             out, err);
}

meet_rc meet_device_leave(meet_client *c, const char *meeting_id, const json_t *body,
                          json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "POST", "/meetd/v1/meetings/", meeting_id, "/leave", body, NULL,
                             out, err);
}

meet_rc meet_bans_list(meet_client *c, const char *meeting_id, json_t **out, meet_error *err)
{
    return meet_meeting_call(c, "GET", "/meetd/v1/meetings/", meeting_id, "/bans", NULL, NULL, out,
                             err);
}

meet_rc meet_bans_lift(meet_client *c, const char *meeting_id, const char *who, json_t **out,
                       meet_error *err)
{
    return meet_bans_lift_kind(c, meeting_id, NULL, who, out, err);
}

meet_rc meet_bans_lift_kind(meet_client *c, const char *meeting_id, const char *kind,
                            const char *who, json_t **out, meet_error *err)
{
    meet_uri u;
    if (out != NULL)
        *out = NULL;
    if (who == NULL || who[0] == '\0') {
        meet_err_clear(err);
        return meet_err_set(err, MEET_EINVAL, "no user to lift the ban of");
    }
    meet_rc rc = meet_uri_meeting(&u, "/meetd/v1/meetings/", meeting_id, "/bans/", err);
    if (rc != MEET_OK)
        return rc;
    meet_uri_esc(&u, who);
    if (kind != NULL) {
        meet_uri_add(&u, "?kind=");
        meet_uri_esc(&u, kind);
    }
    return meet_uri_send(c, &u, "DELETE", NULL, NULL, out, err);
}

meet_rc meet_audit(meet_client *c, const char *meeting_id, long pos, long size, json_t **out,
                   meet_error *err)
{
    meet_uri u;
    if (out != NULL)
        *out = NULL;
    meet_rc rc = meet_uri_meeting(&u, "/meetd/v1/meetings/", meeting_id, "/audit", err);
    if (rc != MEET_OK)
        return rc;
    const char *sep = "?";
    if (pos >= 0) {
        meet_uri_long(&u, "?pos=", pos);
        sep = "&";
    }
    if (size >= 0)
        meet_uri_long(&u, sep[0] == '?' ? "?size=" : "&size=", size);
    return meet_uri_send(c, &u, "GET", NULL, NULL, out, err);
}

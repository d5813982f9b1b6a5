/* Who asks: the operator of a request, in the forms Tencent's calls name it.
 *
 * The current form is operator_id + operator_id_type; older calls (and the
 * SDK models that still carry them) name a userid alone as `userid`, and
 * the seed form of real-control names a uuid. Every endpoint reads its
 * operator through one of the two parsers here, one per carrier (query
 * string, JSON body), and says which forms it takes (API_OP_* bits): so
 * the same input gets the same answer everywhere, and an endpoint differs
 * only in what it accepts. operator_id wins when it is given with an older
 * form. The id's form is core_operator_id_check's; who may act is decided
 * later, in src/core, once the meeting is read. */
#include "api/api.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const api_op_type_names[] = {
    [CORE_ID_USERID] = "1 (userid)",
    [CORE_ID_OPENID] = "2 (openid)",
    [CORE_ID_ROOMS_ID] = "3 (rooms_id)",
    [CORE_ID_MS_OPEN_ID] = "4 (ms_open_id)",
};
#define API_OP_TYPES ((long long)(sizeof api_op_type_names / sizeof api_op_type_names[0]))

/* "1 (userid) or 4 (ms_open_id)": the operator_id_type values accept takes. */
static void api_op_wanted(unsigned accept, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (long long t = 1; t < API_OP_TYPES; t++) {
        if ((accept & (1u << t)) == 0)
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n > 0 ? " or " : "", api_op_type_names[t]);
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

/* operator_id_type t with operator_id id: a type this endpoint takes, and
 * an id of that type's form. openid is refused everywhere (OAuth2.0). */
static meetd_err api_op_typed(api_call *c, unsigned accept, long long t, const char *id,
                              core_id_type *type)
{
    if (t == CORE_ID_OPENID)
        return core_operator_id_check(CORE_ID_OPENID, "operator_id", id, &c->err);
    if (t < 1 || t >= API_OP_TYPES || (accept & (1u << t)) == 0) {
        char want[64];
        api_op_wanted(accept, want, sizeof want);
        if (t >= 1 && t < API_OP_TYPES)
            return api_fail(c, ME_INVALID, "operator_id_type %s is not taken here: give %s",
                            api_op_type_names[t], want);
        return api_fail(c, ME_INVALID, "unknown operator_id_type %lld: give %s", t, want);
    }
    *type = (core_id_type)t;
    return core_operator_id_check(*type, "operator_id", id, &c->err);
}

/* The form named when there is none: what this endpoint takes. */
static meetd_err api_op_missing(api_call *c, unsigned accept)
{
    return api_fail(c, ME_INVALID, "operator_id and operator_id_type%s are required",
                    (accept & API_OP_LEGACY_USERID) ? " (or userid)"
                    : (accept & API_OP_UUID)        ? " (or uuid)"
                                                    : "");
}

static meetd_err api_op_copy(api_call *c, const char *field, const char *id, char *buf,
                             size_t cap)
{
    if (strlen(id) >= cap)
        return api_fail(c, ME_INVALID, "%s is too long", field);
    memcpy(buf, id, strlen(id) + 1);
    return ME_OK;
}

meetd_err api_query_operator(api_call *c, unsigned accept, core_id_type *type, char *id,
                             size_t cap)
{
    /* An empty operator_id is none: query strings carry empty values. */
    const char *op = c->query(c->io, "operator_id");
    if (op != NULL && *op != '\0') {
        const char *ts = c->query(c->io, "operator_id_type");
        long long t;
        if (ts == NULL || *ts == '\0')
            return api_fail(c, ME_INVALID, "operator_id_type is required with operator_id");
        if (api_query_int(c, "operator_id_type", INT_MIN, INT_MAX, 0, &t) != ME_OK) {
            char want[64];
            api_op_wanted(accept, want, sizeof want);
            return api_fail(c, ME_INVALID, "operator_id_type must be %s", want);
        }
        if (api_op_typed(c, accept, t, op, type) != ME_OK)
            return c->err.err;
        return api_op_copy(c, "operator_id", op, id, cap);
    }
    const char *userid = (accept & API_OP_LEGACY_USERID) ? c->query(c->io, "userid") : NULL;
    if (userid == NULL || *userid == '\0')
        return api_op_missing(c, accept);
    *type = CORE_ID_USERID;
    if (core_operator_id_check(CORE_ID_USERID, "userid", userid, &c->err) != ME_OK)
        return c->err.err;
    return api_op_copy(c, "userid", userid, id, cap);
}

meetd_err api_field_operator(api_call *c, json_t *body, unsigned accept, core_id_type *type,
                             char *id, size_t cap)
{
    bool has_op = false, has_type = false, has_other = false;
    long long t = 0;
    if (api_field_str(c, body, "operator_id", false, id, cap, &has_op) != ME_OK ||
        api_field_int(c, body, "operator_id_type", false, &t, &has_type) != ME_OK)
        return c->err.err;
    if (has_op) {
        if (!has_type)
            return api_fail(c, ME_INVALID, "operator_id_type is required with operator_id");
        return api_op_typed(c, accept, t, id, type);
    }
    if (has_type)
        return api_fail(c, ME_INVALID, "operator_id is required with operator_id_type");
    const char *field = (accept & API_OP_LEGACY_USERID) ? "userid"
                        : (accept & API_OP_UUID)        ? "uuid"
                                                        : NULL;
    if (field != NULL &&
        api_field_str(c, body, field, false, id, cap, &has_other) != ME_OK)
        return c->err.err;
    if (!has_other)
        return api_op_missing(c, accept);
    *type = (accept & API_OP_LEGACY_USERID) ? CORE_ID_USERID : CORE_ID_UUID;
    return core_operator_id_check(*type, field, id, &c->err);
}

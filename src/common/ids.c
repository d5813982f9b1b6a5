#include "common/ids.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* Every request draws a trace id, every join a token secret: a few bytes
 * each, and RAND_bytes costs about as much for 16 bytes as for a kilobyte
 * (perf: 3 % of meetd's CPU at the kickout maximum went to its per-call
 * overhead). So small draws come from a per-thread kilobyte drawn at once;
 * each byte handed out is wiped from the pool, none is handed out twice.
 * meetd never forks, so no two processes share a pool. */
#define IDS_POOL_SIZE 1024
#define IDS_POOL_MAX_DRAW 64

static _Thread_local struct {
    uint8_t bytes[IDS_POOL_SIZE];
    size_t left; /* unused bytes, at the end of bytes[] */
} ids_pool;

static int64_t ids_node;
static pthread_once_t ids_node_once = PTHREAD_ONCE_INIT;

static void ids_node_draw(void)
{
    uint64_t r = 0;
    /* Without randomness, the clock and the address space still tell two
     * processes apart in practice; the id is no secret. */
    if (ids_random_bytes(&r, sizeof r) != 0)
        r = (uint64_t)clock_mono_us() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&r;
    r &= INT64_MAX;
    ids_node = r != 0 ? (int64_t)r : 1;
}

int64_t ids_node_id(void)
{
    pthread_once(&ids_node_once, ids_node_draw);
    return ids_node;
}

int ids_random_bytes(void *buf, size_t len)
{
    if (len > IDS_POOL_MAX_DRAW)
        return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
    if (ids_pool.left < len) {
        if (RAND_bytes(ids_pool.bytes, IDS_POOL_SIZE) != 1)
            return -1;
        ids_pool.left = IDS_POOL_SIZE;
    }
    uint8_t *from = ids_pool.bytes + (IDS_POOL_SIZE - ids_pool.left);
    memcpy(buf, from, len);
    OPENSSL_cleanse(from, len);
    ids_pool.left -= len;
    return 0;
}

/* Rejection sampling keeps every character equally likely. */
static int ids_from_alphabet(char *out, size_t len, const char *alphabet, unsigned n)
{
    unsigned limit = 256 - (256 % n);
    size_t have = 0;
    while (have < len) {
        uint8_t buf[64];
        if (ids_random_bytes(buf, sizeof buf) != 0)
            return -1;
        for (size_t i = 0; i < sizeof buf && have < len; i++)
            if (buf[i] < limit)
                out[have++] = alphabet[buf[i] % n];
    }
    out[len] = '\0';
    return 0;
}

int ids_alnum(char *out, size_t len)
{
    static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    return ids_from_alphabet(out, len, a, 62);
}

int ids_digits(char *out, size_t len)
{
    if (len == 0) {
        out[0] = '\0';
        return 0;
    }
    if (ids_from_alphabet(out, 1, "123456789", 9) != 0)
        return -1;
    return ids_from_alphabet(out + 1, len - 1, "0123456789", 10);
}

void ids_hex(char *out, const uint8_t *bytes, size_t len, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

int ids_meeting_id(int64_t *out)
{
    uint64_t r;
    if (ids_random_bytes(&r, sizeof r) != 0)
        return -1;
    /* [1e18, 9e18): always 19 digits, always below INT64_MAX. The modulo bias
     * is below 2^-1, irrelevant for an id that is checked for collisions. */
    *out = (int64_t)(1000000000000000000ULL + r % 8000000000000000000ULL);
    return 0;
}

int ids_meeting_code(char out[10]) { return ids_digits(out, 9); }

int ids_uuid(char out[33])
{
    uint8_t b[16];
    if (ids_random_bytes(b, sizeof b) != 0)
        return -1;
    ids_hex(out, b, sizeof b, 1);
    return 0;
}

int ids_ms_open_id(char out[45])
{
    out[0] = 'm';
    out[1] = 's';
    return ids_alnum(out + 2, 42);
}

int ids_trace(char out[33])
{
    uint8_t b[16];
    if (ids_random_bytes(b, sizeof b) != 0)
        return -1;
    ids_hex(out, b, sizeof b, 0);
    return 0;
}

int ids_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

bool ids_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int64_t clock_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_ms(void) { return clock_mono_us() / 1000; }

int64_t clock_unix_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct timespec clock_mono_deadline(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (ms < 0)
        ms = 0;
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

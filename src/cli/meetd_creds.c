/* The credentials block and the server's address in the data directory.
 *
 * <data>/credentials holds the development app's block, written at the first
 * start. Its MEETD_ENDPOINT must name the server that is running, not the one
 * that first created it: `set -a; . var/credentials` is how a reader reaches
 * meetd, and a restart on another --listen would otherwise send them to a
 * dead address. So every start rewrites that one line and keeps the rest.
 *
 * <data>/endpoint holds the running server's address alone, for `meetd app
 * create|rotate-key`, which print a block of their own and cannot know where
 * the server listens (it may have been started with port 0). serve writes it
 * once it accepts connections and removes it when it stops; after a crash it
 * still names the last address, until the next start rewrites it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/meetd_cli.h"
#include "common/log.h"

/* Longer than any credentials file meetd writes; a bigger one is not ours. */
#define CREDS_FILE_MAX 65536
#define ENDPOINT_KEY "MEETD_ENDPOINT="

void meetd_print_credentials(FILE *f, const char *endpoint, const store_app *app,
                             const store_key *key)
{
    if (endpoint != NULL)
        fprintf(f, ENDPOINT_KEY "%s\n", endpoint);
    fprintf(f, "MEETD_APP_ID=%s\nMEETD_SDK_ID=%s\nMEETD_SECRET_ID=%s\nMEETD_SECRET_KEY=%s\n",
            app->app_id, app->sdk_id, key->secret_id, key->secret_key);
}

/* Replaces path with text: written to path.tmp, synced, renamed, so a reader
 * sees the old file or the new one, never half of one. */
static int creds_replace(const char *path, mode_t mode, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* Created with its final mode: a secret is never readable by others,
     * not even between open and chmod. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        log_error("cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    /* An older tmp file left by a crash keeps its mode through O_CREAT. */
    int bad = fchmod(fd, mode) != 0;
    size_t done = 0;
    while (!bad && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        bad = n <= 0;
        done += n > 0 ? (size_t)n : 0;
    }
    bad |= fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int meetd_write_credentials(const char *data_dir, const char *endpoint, const store_app *app,
                            const store_key *key)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return -1;
    meetd_print_credentials(mem, endpoint, app, key);
    int rc = fclose(mem) == 0 ? creds_replace(path, 0600, text, len) : -1;
    if (text != NULL) {
        memset(text, 0, len);   /* it held a secret key */
        free(text);
    }
    return rc;
}

/* The whole file in a NUL-terminated buffer the caller frees (and wipes). */
static int creds_slurp(const char *path, char **out, size_t *out_len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    char *buf = malloc(CREDS_FILE_MAX + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf != NULL && len < CREDS_FILE_MAX &&
           ((n = read(fd, buf + len, CREDS_FILE_MAX - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    close(fd);
    if (buf == NULL || n < 0 || len == CREDS_FILE_MAX) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* The credentials file with its MEETD_ENDPOINT line saying endpoint; every
 * other line, the app's keys among them, kept byte for byte. */
static int creds_follow(const char *data_dir, const char *endpoint)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    char *old = NULL;
    size_t len = 0;
    int rc = creds_slurp(path, &old, &len);
    if (rc == 1)
        return 0;   /* removed by its owner: nothing to keep up to date */
    if (rc != 0) {
        log_error("cannot read %s", path);
        return -1;
    }
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    bool changed = false, seen = false;
    for (char *line = old; mem != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t ll = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);
        if (strncmp(line, ENDPOINT_KEY, strlen(ENDPOINT_KEY)) == 0) {
            char want[512];
            int wl = snprintf(want, sizeof want, ENDPOINT_KEY "%s\n", endpoint);
            changed |= (size_t)wl != ll || memcmp(want, line, ll) != 0;
            if (!seen)
                fputs(want, mem);
            changed |= seen;    /* a second such line goes */
            seen = true;
        } else {
            fwrite(line, 1, ll, mem);
        }
        line += ll;
    }
    if (mem != NULL && !seen) {
        /* The line was deleted by hand: put it back in front. */
        fclose(mem);
        free(text);
        text = NULL;
        mem = open_memstream(&text, &tlen);
        if (mem != NULL) {
            fprintf(mem, ENDPOINT_KEY "%s\n", endpoint);
            fwrite(old, 1, len, mem);
        }
        changed = true;
    }
    rc = -1;
    if (mem != NULL && fclose(mem) == 0)
        rc = changed ? creds_replace(path, 0600, text, tlen) : 0;
    if (text != NULL) {
        memset(text, 0, tlen);
        free(text);
    }
    memset(old, 0, len);
    free(old);
    return rc;
}

/* Whether text has this line whole ("KEY=value"). */
static bool creds_has_line(const char *text, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (ll == kl + vl && memcmp(line, key, kl) == 0 && memcmp(line + kl, value, vl) == 0)
            return true;
        line += ll + (nl != NULL);
    }
    return false;
}

int meetd_credentials_current(const char *data_dir, const store_app *app, const store_key *key)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    char *text = NULL;
    size_t len = 0;
    if (creds_slurp(path, &text, &len) != 0)
        return 0;
    int current = creds_has_line(text, "MEETD_APP_ID=", app->app_id) &&
                  creds_has_line(text, "MEETD_SECRET_ID=", key->secret_id) &&
                  creds_has_line(text, "MEETD_SECRET_KEY=", key->secret_key);
    memset(text, 0, len);
    free(text);
    return current;
}

int meetd_endpoint_publish(const char *data_dir, const char *endpoint)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/endpoint", data_dir);
    char text[512];
    int len = snprintf(text, sizeof text, "%s\n", endpoint);
    int rc = creds_replace(path, 0644, text, (size_t)len);
    if (creds_follow(data_dir, endpoint) != 0)
        rc = -1;
    return rc;
}

void meetd_endpoint_withdraw(const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/endpoint", data_dir);
    if (unlink(path) != 0 && errno != ENOENT)
        log_error("cannot remove %s: %s", path, strerror(errno));
}

int meetd_endpoint_read(const char *data_dir, char *buf, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/endpoint", data_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    /* Only what serve writes: an http(s) URL, nothing else. */
    if (strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8) != 0)
        return -1;
    return 0;
}

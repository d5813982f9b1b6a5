/* The credentials block: printed once, and written to <data>/credentials. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/meetd_cli.h"
#include "common/log.h"

void meetd_print_credentials(FILE *f, const char *endpoint, const store_app *app,
                             const store_key *key)
{
    fprintf(f,
            "MEETD_ENDPOINT=%s\nMEETD_APP_ID=%s\nMEETD_SDK_ID=%s\n"
            "MEETD_SECRET_ID=%s\nMEETD_SECRET_KEY=%s\n",
            endpoint, app->app_id, app->sdk_id, key->secret_id, key->secret_key);
}

int meetd_write_credentials(const char *data_dir, const char *endpoint, const store_app *app,
                            const store_key *key)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* Created 0600 from the start: the secret is never readable by others,
     * not even between open and chmod. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    fchmod(fd, 0600);
    meetd_print_credentials(f, endpoint, app, key);
    int bad = fflush(f) != 0 || fsync(fd) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

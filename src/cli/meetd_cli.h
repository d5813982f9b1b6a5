/* The meetd command: `serve` and the offline `app` administration. */
#ifndef MEETD_CLI_H
#define MEETD_CLI_H

#include <stdio.h>

#include "store/store.h"

#define MEETD_DEFAULT_LISTEN "127.0.0.1:8080"
#define MEETD_DEFAULT_DATA "./var"

int meetd_serve_main(int argc, char **argv);
int meetd_app_main(int argc, char **argv);

/* The credentials block of docs/configuration.md (KEY=VALUE lines). */
void meetd_print_credentials(FILE *f, const char *endpoint, const store_app *app,
                             const store_key *key);
/* Writes it to <data_dir>/credentials with mode 0600. Returns 0 or -1. */
int meetd_write_credentials(const char *data_dir, const char *endpoint, const store_app *app,
                            const store_key *key);

#endif

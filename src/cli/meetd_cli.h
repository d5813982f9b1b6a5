/* The meetd command: `serve` and the offline `app` administration. */
#ifndef MEETD_CLI_H
#define MEETD_CLI_H

#include <stdio.h>

#include "store/store.h"

#define MEETD_DEFAULT_LISTEN "127.0.0.1:8080"
#define MEETD_DEFAULT_DATA "./var"

int meetd_serve_main(int argc, char **argv);
int meetd_app_main(int argc, char **argv);

/* The credentials block (KEY=VALUE lines); endpoint NULL: no MEETD_ENDPOINT
 * line (the server's address is unknown). */
void meetd_print_credentials(FILE *f, const char *endpoint, const store_app *app,
                             const store_key *key);
/* Writes it to <data_dir>/credentials with mode 0600. Returns 0 or -1. */
int meetd_write_credentials(const char *data_dir, const char *endpoint, const store_app *app,
                            const store_key *key);
/* 1 when <data_dir>/credentials exists and names this app and this key
 * pair (whatever else it holds), else 0. */
int meetd_credentials_current(const char *data_dir, const store_app *app, const store_key *key);
/* A server that accepts connections at endpoint: writes <data_dir>/endpoint
 * and points the MEETD_ENDPOINT line of <data_dir>/credentials at it, keeping
 * every other line (mode 0600). Returns 0 or -1 (logged). */
int meetd_endpoint_publish(const char *data_dir, const char *endpoint);
/* The server stops: removes <data_dir>/endpoint. */
void meetd_endpoint_withdraw(const char *data_dir);
/* The address of the server serving data_dir, into buf (n bytes). Returns 0,
 * or -1 when no server has published one. */
int meetd_endpoint_read(const char *data_dir, char *buf, size_t n);

#endif

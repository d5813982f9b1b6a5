/* meetd: the server and its offline administration. */
#include <stdio.h>
#include <string.h>

#include "cli/meetd_cli.h"

static void meetd_usage(FILE *f)
{
    fprintf(f,
            "usage: meetd serve [--listen HOST:PORT] [--data DIR] [options]\n"
            "       meetd app create|list|rotate-key|delete [--data DIR] ...\n"
            "       meetd app webhook add|list|remove [--data DIR] ...\n"
            "Run 'meetd serve --help' or 'meetd app --help' for details.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        meetd_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return meetd_serve_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "app") == 0)
        return meetd_app_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        meetd_usage(stdout);
        return 0;
    }
    fprintf(stderr, "meetd: unknown command '%s'\n", argv[1]);
    meetd_usage(stderr);
    return 2;
}

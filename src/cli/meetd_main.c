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
            "       meetd help [serve|app]\n"
            "       meetd --version\n"
            "Run 'meetd serve --help' or 'meetd app --help' for details.\n");
}

static bool meetd_is_help(const char *word)
{
    return strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0;
}

/* meetd help [COMMAND]: the same text as COMMAND --help. */
static int meetd_help(int argc, char **argv)
{
    if (argc < 3) {
        meetd_usage(stdout);
        return 0;
    }
    if (argc == 3 && (strcmp(argv[2], "serve") == 0 || strcmp(argv[2], "app") == 0)) {
        char *sub[] = {argv[2], "--help", NULL};
        return strcmp(argv[2], "serve") == 0 ? meetd_serve_main(2, sub) : meetd_app_main(2, sub);
    }
    if (argc > 3)
        fprintf(stderr, "meetd help: one command at most\n");
    else
        fprintf(stderr, "meetd help: no command '%s'\n", argv[2]);
    meetd_usage(stderr);
    return 2;
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
    if (meetd_is_help(argv[1]))
        return meetd_help(argc, argv);
    if (strcmp(argv[1], "--version") == 0 && argc == 2) {
        printf("meetd %s\n", MEETD_VERSION);
        return 0;
    }
    fprintf(stderr, "meetd: unknown command '%s'\n", argv[1]);
    meetd_usage(stderr);
    return 2;
}

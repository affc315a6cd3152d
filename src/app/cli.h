/*
 * Small helpers shared by the executables: a flag parser and the run loop with signal handling
 * (SIGINT/SIGTERM stop the loop, then everything is freed so leak checkers stay quiet).
 */
#ifndef SIO_APP_CLI_H
#define SIO_APP_CLI_H

#include "engine/engine.h"
#include "http/http.h"

struct event_base;

enum sio_cli_type { SIO_CLI_INT, SIO_CLI_UINT, SIO_CLI_SIZE, SIO_CLI_STR, SIO_CLI_BOOL };

typedef struct sio_cli_flag {
    const char *name;
    enum sio_cli_type type;
    void *target;
    const char *help;
} sio_cli_flag;

/** Parses argv into the flags' targets. Prints usage and returns -1 on error or --help. */
int sio_cli_parse(int argc, char **argv, const sio_cli_flag *flags, const char *prog);

/** Prints "listening on port N", runs the loop until SIGINT/SIGTERM, then calls shutdown(user)
 *  (if any), frees http, engine and base. Returns the process exit code. */
int sio_app_run(struct event_base *base, sio_http *http, eio_server *engine,
                void (*shutdown)(void *user), void *user);

#endif

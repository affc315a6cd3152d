/*
 * The flag parser shared by the executables. Running the loop, signals and shutdown belong to
 * the composition root (sio_server_run), not to the programs.
 */
#ifndef SIO_APP_CLI_H
#define SIO_APP_CLI_H

enum sio_cli_type { SIO_CLI_INT, SIO_CLI_UINT, SIO_CLI_SIZE, SIO_CLI_STR, SIO_CLI_BOOL };

typedef struct sio_cli_flag {
    const char *name;
    enum sio_cli_type type;
    void *target; /* int, unsigned, size_t, const char * (points into argv) or int (set to 1) */
    const char *help;
} sio_cli_flag;

/** Parses argv ("--flag value" or "--flag=value"; switches take no value) into the flags'
 *  targets. Prints usage and returns -1 on an unknown flag (--help included) or a bad value. */
int sio_cli_parse(int argc, char **argv, const sio_cli_flag *flags, const char *prog);

#endif

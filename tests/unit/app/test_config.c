/* The configuration of the executables (src/app/cli.h): precedence flag > environment > file >
 * default, repeatable flags, unknown keys, printing with secrets redacted, reload. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cli.h"

typedef struct conf {
    int port;
    unsigned rate;
    size_t max;
    const char *host, *secret, *redis;
    int verbose;
    sio_cli_strs keys;
} conf;

static void conf_init(conf *c)
{
    memset(c, 0, sizeof(*c));
    c->port = 3000;
    c->rate = 60;
    c->max = 100;
    c->host = "any";
}

#define FLAGS(c)                                                                                   \
    {                                                                                              \
        {"--port", SIO_CLI_INT, &(c).port, "p"}, {"--rate-limit", SIO_CLI_UINT, &(c).rate, "r"},   \
            {"--max-things", SIO_CLI_SIZE, &(c).max, "m"},                                         \
            {"--host", SIO_CLI_STR, &(c).host, "h"},                                               \
            {"--jwt-secret", SIO_CLI_STR, &(c).secret, "s"},                                       \
            {"--redis", SIO_CLI_STR, &(c).redis, "u"},                                             \
            {"--verbose", SIO_CLI_BOOL, &(c).verbose, "v"},                                        \
            {"--jwt-public-key", SIO_CLI_STRS, &(c).keys, "k"}, {NULL, 0, NULL, NULL},             \
    }

static char path[64];

static void write_file(const char *text)
{
    if (!path[0]) {
        strcpy(path, "/tmp/sio-config-XXXXXX");
        int fd = mkstemp(path);
        cr_assert(fd >= 0);
        close(fd);
    }
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static void clean_env(void)
{
    const char *vars[] = {"SIO_PORT",    "SIO_RATE_LIMIT",     "SIO_MAX_THINGS",
                          "SIO_HOST",    "SIO_JWT_SECRET",     "SIO_REDIS",
                          "SIO_VERBOSE", "SIO_JWT_PUBLIC_KEY", "SIO_CONFIG"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void fini(void)
{
    if (path[0])
        unlink(path);
    path[0] = '\0';
    clean_env();
}

TestSuite(config, .init = clean_env, .fini = fini);

Test(config, env_names)
{
    char n[64];
    sio_cli_env_name("--jwt-public-key", n, sizeof(n));
    cr_assert_str_eq(n, "SIO_JWT_PUBLIC_KEY");
    sio_cli_env_name("max-payload", n, sizeof(n));
    cr_assert_str_eq(n, "SIO_MAX_PAYLOAD");
    sio_cli_env_name("--port", n, 7);
    cr_assert_str_eq(n, "SIO_PO");
}

Test(config, booleans)
{
    cr_assert_eq(sio_cli_bool("yes"), 1);
    cr_assert_eq(sio_cli_bool("ON"), 1);
    cr_assert_eq(sio_cli_bool("0"), 0);
    cr_assert_eq(sio_cli_bool("false"), 0);
    cr_assert_eq(sio_cli_bool("maybe"), -1);
    cr_assert_eq(sio_cli_bool(""), -1);
}

Test(config, redaction)
{
    char out[256];
    sio_cli_redact("jwt-secret", "hunter2", out, sizeof(out));
    cr_assert_str_eq(out, "<redacted>");
    sio_cli_redact("--api-token", "t", out, sizeof(out));
    cr_assert_str_eq(out, "<redacted>");
    sio_cli_redact("authorize-token", "t", out, sizeof(out));
    cr_assert_str_eq(out, "<redacted>");
    sio_cli_redact("jwt-secret-file", "/run/secret", out, sizeof(out));
    cr_assert_str_eq(out, "/run/secret");
    sio_cli_redact("redis", "redis://user:pa:ss@host:6379/0", out, sizeof(out));
    cr_assert_str_eq(out, "redis://user:<redacted>@host:6379/0");
    sio_cli_redact("redis", "redis://:pw@a:1,redis://b:2,rediss://u:x@c", out, sizeof(out));
    cr_assert_str_eq(out, "redis://:<redacted>@a:1,redis://b:2,rediss://u:<redacted>@c");
    sio_cli_redact("redis", "redis://onlypassword@h", out, sizeof(out));
    cr_assert_str_eq(out, "redis://<redacted>@h");
    sio_cli_redact("jwks-url", "https://h/x?a=b@c", out, sizeof(out));
    cr_assert_str_eq(out, "https://h/x?a=b@c");
    sio_cli_redact("host", "plain", out, 4);
    cr_assert_str_eq(out, "pla");
}

Test(config, defaults_when_nothing_given)
{
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog", NULL};
    int st;
    sio_cli *cli = sio_cli_load(1, argv, flags, "prog", &st);
    cr_assert(cli);
    cr_assert_eq(c.port, 3000);
    cr_assert_str_eq(c.host, "any");
    cr_assert_eq(sio_cli_origin(cli, "port"), SIO_CLI_ORIGIN_DEFAULT);
    cr_assert_eq(sio_cli_origin(cli, "nope"), -1);
    sio_cli_free(cli);
}

Test(config, precedence_flag_env_file_default)
{
    write_file("# comment\nport = 1\nrate-limit = 2\nmax-things = 3\n[group]\nhost = filehost\n"
               "verbose = yes\njwt-public-key = /f1\njwt-public-key = /f2\n");
    setenv("SIO_PORT", "10", 1);
    setenv("SIO_RATE_LIMIT", "20", 1);
    setenv("SIO_JWT_PUBLIC_KEY", "/e1,/e2,/e3", 1);
    setenv("SIO_HOST", "", 1); /* empty: unset, the file's value stays */
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog", (char *)"--config", path, (char *)"--port=100", NULL};
    int st;
    sio_cli *cli = sio_cli_load(4, argv, flags, "prog", &st);
    cr_assert(cli);
    cr_assert_eq(c.port, 100);
    cr_assert_eq(c.rate, 20);
    cr_assert_eq(c.max, 3);
    cr_assert_str_eq(c.host, "filehost");
    cr_assert_eq(c.verbose, 1);
    cr_assert_eq(c.keys.n, 3);
    cr_assert_str_eq(c.keys.v[2], "/e3");
    cr_assert_eq(sio_cli_origin(cli, "--port"), SIO_CLI_ORIGIN_FLAG);
    cr_assert_eq(sio_cli_origin(cli, "rate-limit"), SIO_CLI_ORIGIN_ENV);
    cr_assert_eq(sio_cli_origin(cli, "max-things"), SIO_CLI_ORIGIN_FILE);
    cr_assert_eq(sio_cli_origin(cli, "jwt-secret"), SIO_CLI_ORIGIN_DEFAULT);
    cr_assert_str_eq(sio_cli_config_path(cli), path);
    sio_cli_free(cli);
}

Test(config, config_from_environment_and_repeatable_flags)
{
    write_file("jwt-public-key = /f1\n");
    setenv("SIO_CONFIG", path, 1);
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog", (char *)"--jwt-public-key", (char *)"/a",
                    (char *)"--jwt-public-key=/b", NULL};
    int st;
    sio_cli *cli = sio_cli_load(4, argv, flags, "prog", &st);
    cr_assert(cli);
    cr_assert_eq(c.keys.n, 2); /* the flags' list replaces the file's */
    cr_assert_str_eq(c.keys.v[0], "/a");
    cr_assert_str_eq(c.keys.v[1], "/b");
    sio_cli_free(cli);
}

Test(config, unknown_key_and_bad_values)
{
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog", (char *)"--config", path, NULL};
    int st = 0;
    write_file("port = 1\n\nbogus = 2\n");
    cr_assert_null(sio_cli_load(3, argv, flags, "prog", &st));
    cr_assert_eq(st, 2);
    write_file("port = nope\n");
    cr_assert_null(sio_cli_load(3, argv, flags, "prog", &st));
    write_file("verbose = perhaps\n");
    cr_assert_null(sio_cli_load(3, argv, flags, "prog", &st));
    write_file("port = 5\n");
    setenv("SIO_RATE_LIMIT", "-1", 1);
    cr_assert_null(sio_cli_load(3, argv, flags, "prog", &st));
    unsetenv("SIO_RATE_LIMIT");
    char *argv2[] = {(char *)"prog", (char *)"--no-such-flag", NULL};
    cr_assert_null(sio_cli_load(2, argv2, flags, "prog", &st));
    char *argv3[] = {(char *)"prog", (char *)"--config", (char *)"/nonexistent/sio.ini", NULL};
    cr_assert_null(sio_cli_load(3, argv3, flags, "prog", &st));
}

static char *print_to_string(const sio_cli *cli)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sio_cli_print(cli, f);
    fclose(f);
    return buf;
}

Test(config, print_redacts_secrets)
{
    write_file(
        "redis = redis://u:topsecretpw@r:6379\njwt-public-key = /k1\njwt-public-key = /k2\n");
    setenv("SIO_JWT_SECRET", "envsecretvalue", 1);
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog",           (char *)"--config",  path,
                    (char *)"--print-config", (char *)"--verbose", NULL};
    int st;
    sio_cli *cli = sio_cli_load(5, argv, flags, "prog", &st);
    cr_assert(cli);
    cr_assert(sio_cli_print_requested(cli));
    cr_assert_str_eq(c.secret, "envsecretvalue");
    char *out = print_to_string(cli);
    cr_assert_null(strstr(out, "envsecretvalue"), "%s", out);
    cr_assert_null(strstr(out, "topsecretpw"), "%s", out);
    cr_assert(strstr(out, "jwt-secret = <redacted> ; env\n"), "%s", out);
    cr_assert(strstr(out, "redis = redis://u:<redacted>@r:6379 ; file\n"), "%s", out);
    cr_assert(strstr(out, "port = 3000 ; default\n"), "%s", out);
    cr_assert(strstr(out, "verbose = true ; flag\n"), "%s", out);
    cr_assert(strstr(out, "jwt-public-key = /k1 ; file\njwt-public-key = /k2 ; file\n"), "%s", out);
    free(out);
    sio_cli_free(cli);
}

static int notes_applied, notes_restart;
static void note(const char *name, int applied, void *user)
{
    (void)name, (void)user;
    if (applied)
        notes_applied++;
    else
        notes_restart++;
}

Test(config, reload_applies_only_the_reloadable)
{
    write_file("rate-limit = 5\nport = 1\nhost = h1\n");
    conf c;
    conf_init(&c);
    sio_cli_flag flags[] = FLAGS(c);
    char *argv[] = {(char *)"prog",         (char *)"--config", path,
                    (char *)"--max-things", (char *)"7",        NULL};
    int st;
    sio_cli *cli = sio_cli_load(5, argv, flags, "prog", &st);
    cr_assert(cli);
    cr_assert_eq(c.rate, 5);
    static const char *const reloadable[] = {"rate-limit", "host", "max-things", NULL};
    /* unchanged file: nothing */
    cr_assert_eq(sio_cli_reload(cli, reloadable, note, NULL), 0);
    /* rate changed, host removed (back to its default), port changed (restart), max-things
     * changed in the file but set by a flag (no change) */
    write_file("rate-limit = 9\nport = 2\nmax-things = 1\n");
    notes_applied = notes_restart = 0;
    cr_assert_eq(sio_cli_reload(cli, reloadable, note, NULL), 3);
    cr_assert_eq(notes_applied, 2);
    cr_assert_eq(notes_restart, 1);
    cr_assert_eq(c.rate, 9);
    cr_assert_str_eq(c.host, "any");
    cr_assert_eq(c.port, 1);
    cr_assert_eq(c.max, 7);
    cr_assert(sio_cli_changed(cli, "rate-limit"));
    cr_assert_not(sio_cli_changed(cli, "port"));
    /* a bad file changes nothing */
    write_file("rate-limit = x\n");
    cr_assert_eq(sio_cli_reload(cli, reloadable, note, NULL), -1);
    cr_assert_eq(c.rate, 9);
    write_file("rate-limit = 1\nunknown = 1\n");
    cr_assert_eq(sio_cli_reload(cli, reloadable, note, NULL), -1);
    cr_assert_eq(c.rate, 9);
    sio_cli_free(cli);
}

/* ---- log lines (src/app/logging.h) -------------------------------------------------------- */

#include "app/logging.h"

Test(logging, json_and_text_lines)
{
    char out[256];
    size_t n = sio_app_log_format_line(SIO_APP_LOG_JSON, 1700000000123LL, SIO_LOG_WARN, "app",
                                       "a \"quoted\"\\ line\n\x01", out, sizeof(out));
    cr_assert_eq(n, strlen(out));
    cr_assert_str_eq(out, "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warn\",\"module\":"
                          "\"app\",\"msg\":\"a \\\"quoted\\\"\\\\ line\\n\\u0001\"}");
    sio_app_log_format_line(SIO_APP_LOG_TEXT, 1700000000123LL, SIO_LOG_DEBUG, "auth", "x", out,
                            sizeof(out));
    cr_assert_str_eq(out, "2023-11-14T22:13:20.123Z debug auth: x");
    /* cut lines stay valid: whole escapes, closed object */
    char small[90];
    n = sio_app_log_format_line(SIO_APP_LOG_JSON, 0, SIO_LOG_INFO, "m",
                                "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"",
                                small, sizeof(small));
    cr_assert_lt(n, sizeof(small));
    cr_assert_eq(small[n - 1], '}');
    cr_assert_eq(small[n - 2], '"');
    cr_assert_neq(small[n - 3], '\\', "%s", small);
    cr_assert_eq(sio_app_log_format_parse("JSON"), SIO_APP_LOG_JSON);
    cr_assert_eq(sio_app_log_format_parse("xml"), -1);
    cr_assert_eq(sio_app_log_level_parse("debug"), SIO_LOG_DEBUG);
    cr_assert_eq(sio_app_log_level_parse("loud"), -1);
}

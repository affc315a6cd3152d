/*
 * The configuration of the executables (cli.h): each flag resolved from the command line, its
 * SIO_* environment variable, the INI file (libinih) and its default, in that order, with where
 * the value came from; printing with secrets redacted; reloading the file (SIGHUP).
 */
#include "cli.h"

#include "common/array.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

/* The values of one flag from one source, in order. */
typedef struct vals {
    const char **v;
    size_t n, cap;
} vals;

/* A flag's resolved state: where from, and its values joined by '\n' (NULL: unset). */
typedef struct entry {
    int origin;
    char *text;
    char *def; /* the default, formatted from the target before anything was applied */
    int changed;
} entry;

struct sio_cli {
    const sio_cli_flag *flags;
    size_t n;
    const char *prog;
    int argc;
    char **argv;
    const char *config; /* path, borrowed from argv or the environment */
    int print;
    char **pool; /* strings the targets may point to: kept until sio_cli_free */
    size_t npool, cap_pool;
    entry e[]; /* one per flag, allocated with the struct */
};

/* ---- pure functions ----------------------------------------------------------------------- */

static const char *bare(const char *flag)
{
    while (*flag == '-')
        flag++;
    return flag;
}

void sio_cli_env_name(const char *flag, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = bare(flag);
    if (!cap)
        return;
    for (const char *q = "SIO_"; *q && n + 1 < cap; q++)
        out[n++] = *q;
    for (; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Appends src[0..len) to out (cap), keeping it terminated. */
static void put(char *out, size_t cap, size_t *n, const char *src, size_t len)
{
    while (len-- && *n + 1 < cap)
        out[(*n)++] = *src++;
    out[*n < cap ? *n : cap - 1] = '\0';
}

void sio_cli_redact(const char *name, const char *value, char *out, size_t cap)
{
    static const char hidden[] = "<redacted>";
    size_t n = 0;
    if (!cap)
        return;
    out[0] = '\0';
    if (!value)
        return;
    name = bare(name);
    if (ends_with(name, "secret") || ends_with(name, "token") || strstr(name, "password")) {
        put(out, cap, &n, hidden, sizeof(hidden) - 1);
        return;
    }
    const char *p = value;
    while (*p) {
        size_t item = strcspn(p, ",");
        const char *scheme = strstr(p, "://");
        if (scheme && scheme < p + item) {
            const char *auth = scheme + 3;
            size_t alen = strcspn(auth, "/?#,");
            const char *at = NULL;
            for (const char *q = auth; q < auth + alen; q++)
                if (*q == '@')
                    at = q;
            if (at) {
                const char *colon = memchr(auth, ':', (size_t)(at - auth));
                const char *keep = colon ? colon + 1 : auth; /* user: kept; no ':' hides all */
                put(out, cap, &n, p, (size_t)(keep - p));
                put(out, cap, &n, hidden, sizeof(hidden) - 1);
                put(out, cap, &n, at, (size_t)(p + item - at));
            } else {
                put(out, cap, &n, p, item);
            }
        } else {
            put(out, cap, &n, p, item);
        }
        p += item;
        if (*p == ',')
            put(out, cap, &n, p++, 1);
    }
}

int sio_cli_bool(const char *v)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; v && i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return -1;
}

const char *sio_cli_origin_name(int origin)
{
    static const char *names[] = {"default", "file", "env", "flag"};
    return origin >= 0 && origin <= SIO_CLI_ORIGIN_FLAG ? names[origin] : "?";
}

/* ---- values ------------------------------------------------------------------------------- */

static char *keep(sio_cli *c, const char *s, size_t len)
{
    if (sio_array_grow(&c->pool, &c->cap_pool, c->npool, sizeof(*c->pool), 64) < 0)
        return NULL;
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return c->pool[c->npool++] = d;
}

static int vals_add(vals *l, const char *v)
{
    return sio_array_push(&l->v, &l->n, &l->cap, &v, sizeof(v), 2);
}

/* The flag's value as text from its target (the default, before anything is applied). */
static char *format_target(const sio_cli_flag *f)
{
    char buf[64];
    switch (f->type) {
    case SIO_CLI_INT:
        snprintf(buf, sizeof(buf), "%d", *(int *)f->target);
        break;
    case SIO_CLI_UINT:
        snprintf(buf, sizeof(buf), "%u", *(unsigned *)f->target);
        break;
    case SIO_CLI_SIZE:
        snprintf(buf, sizeof(buf), "%zu", *(size_t *)f->target);
        break;
    case SIO_CLI_BOOL:
        snprintf(buf, sizeof(buf), "%s", *(int *)f->target ? "true" : "false");
        break;
    case SIO_CLI_STR: {
        const char *v = *(const char **)f->target;
        return v ? strdup(v) : NULL;
    }
    case SIO_CLI_STRS: {
        const sio_cli_strs *l = f->target;
        size_t len = 0;
        for (size_t i = 0; i < l->n; i++)
            len += strlen(l->v[i]) + 1;
        if (!len)
            return NULL;
        char *t = malloc(len), *p = t;
        for (size_t i = 0; t && i < l->n; i++)
            p += sprintf(p, "%s%s", i ? "\n" : "", l->v[i]);
        return t;
    }
    }
    return strdup(buf);
}

/* One line of the usage: the flag, its help, its default (def, from the target; none for an
 * unset string, an off switch or an empty list) and its environment variable. */
static void print_flag_help(const sio_cli_flag *f, const char *def)
{
    char env[128];
    sio_cli_env_name(f->name, env, sizeof(env));
    int shown = def && f->type != SIO_CLI_STRS && strcmp(def, "false") != 0;
    fprintf(stderr, "  %-30s %s [%s%s%s%s]\n", f->name, f->help, shown ? "default " : "",
            shown ? def : "", shown ? "; " : "", env);
}

/* Checks (scratch) or stores one value in the target. A switch takes a boolean word; empty
 * numbers are bad values. Returns 0 or -1. */
static int store(const sio_cli_flag *f, const char *v, int scratch)
{
    union {
        int i;
        unsigned u;
        size_t z;
        const char *s;
        sio_cli_strs l;
    } tmp;
    sio_cli_flag g = *f;
    if (scratch) {
        memset(&tmp, 0, sizeof(tmp));
        g.target = &tmp;
    }
    if (g.type == SIO_CLI_BOOL) {
        int b = sio_cli_bool(v);
        if (b < 0)
            return -1;
        *(int *)g.target = b;
        return 0;
    }
    char *end;
    errno = 0;
    switch (g.type) {
    case SIO_CLI_INT: {
        long n = strtol(v, &end, 10);
        if (errno || *end || end == v || n < -2147483647L || n > 2147483647L)
            return -1;
        *(int *)g.target = (int)n;
        return 0;
    }
    case SIO_CLI_UINT: {
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || end == v || v[0] == '-' || n > 4294967295UL)
            return -1;
        *(unsigned *)g.target = (unsigned)n;
        return 0;
    }
    case SIO_CLI_SIZE: {
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || end == v || v[0] == '-')
            return -1;
        *(size_t *)g.target = (size_t)n;
        return 0;
    }
    case SIO_CLI_STR:
        *(const char **)g.target = v;
        return 0;
    case SIO_CLI_STRS: {
        sio_cli_strs *l = g.target;
        if (l->n == SIO_CLI_STRS_MAX)
            return -1;
        l->v[l->n++] = v;
        return 0;
    }
    default:
        return -1;
    }
}

/* Stores a list of values (or resets to the default text when l is empty) into the target. */
static int store_all(sio_cli *c, size_t i, const vals *l, int scratch)
{
    const sio_cli_flag *f = &c->flags[i];
    if (f->type == SIO_CLI_STRS && !scratch)
        ((sio_cli_strs *)f->target)->n = 0;
    if (!l->n) {
        const char *def = c->e[i].def;
        if (f->type == SIO_CLI_STR) {
            if (!scratch)
                *(const char **)f->target = def ? keep(c, def, strlen(def)) : NULL;
            return 0;
        }
        if (f->type == SIO_CLI_STRS) {
            for (const char *p = def; p && *p;) {
                size_t len = strcspn(p, "\n");
                char *v = scratch ? (char *)"" : keep(c, p, len);
                if (!v || store(f, v, scratch) < 0)
                    return -1;
                p += len + (p[len] == '\n');
            }
            return 0;
        }
        return store(f, def ? def : "", scratch);
    }
    int n = f->type == SIO_CLI_STRS ? (int)l->n : 1; /* the last one wins for single values */
    for (size_t k = l->n - (size_t)n; k < l->n; k++)
        if (store(f, l->v[k], scratch) < 0)
            return -1;
    return 0;
}

/* Joins a list of values by '\n' (NULL for none). */
static char *join(const vals *l, const sio_cli_flag *f)
{
    size_t first = f->type == SIO_CLI_STRS || !l->n ? 0 : l->n - 1, len = 0;
    for (size_t k = first; k < l->n; k++)
        len += strlen(l->v[k]) + 1;
    if (!len)
        return l->n ? strdup("") : NULL;
    char *t = malloc(len), *p = t;
    for (size_t k = first; t && k < l->n; k++)
        p += sprintf(p, "%s%s", k > first ? "\n" : "", l->v[k]);
    return t;
}

/* ---- sources ------------------------------------------------------------------------------ */

typedef struct resolved {
    vals *v; /* one list per flag */
    int *origin;
    int file_line; /* the first bad line of the file, 0 when none */
    char bad_key[80];
} resolved;

static void resolved_free(resolved *r, size_t n)
{
    for (size_t i = 0; r->v && i < n; i++)
        free(r->v[i].v);
    free(r->v);
    free(r->origin);
}

static long find_flag(const sio_cli *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *b = bare(c->flags[i].name);
        if (strlen(b) == len && !strncmp(b, name, len))
            return (long)i;
    }
    return -1;
}

typedef struct file_ctx {
    sio_cli *c;
    vals *file; /* per flag */
    int line, bad;
    char *bad_key;
} file_ctx;

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    file_ctx *x = user;
    (void)section; /* sections only group keys */
    long i = find_flag(x->c, name, strlen(name));
    char *v = i >= 0 ? keep(x->c, value, strlen(value)) : NULL;
    if (!v || vals_add(&x->file[i], v) < 0) {
        if (!x->bad)
            snprintf(x->bad_key, 80, "%s", name);
        x->bad = 1;
        return 0;
    }
    return 1;
}

/* Splits an environment value of a repeatable flag at commas or semicolons (relay rules use ';')
 * into l (copies kept). */
static int env_values(sio_cli *c, const sio_cli_flag *f, const char *v, vals *l)
{
    if (f->type != SIO_CLI_STRS) {
        char *k = keep(c, v, strlen(v));
        return k ? vals_add(l, k) : -1;
    }
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",;");
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        size_t n = len;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        char *k = n ? keep(c, p, n) : NULL;
        if (n && (!k || vals_add(l, k) < 0))
            return -1;
        p += len + (p[len] == ',' || p[len] == ';');
    }
    return 0;
}

/* Collects every flag's values from the highest source that has them. Returns 0, or -1 after
 * printing what is wrong. */
static int resolve(sio_cli *c, resolved *r)
{
    memset(r, 0, sizeof(*r));
    vals *file = calloc(c->n ? c->n : 1, sizeof(vals));
    r->v = calloc(c->n ? c->n : 1, sizeof(vals));
    r->origin = calloc(c->n ? c->n : 1, sizeof(int));
    int rc = file && r->v && r->origin ? 0 : -1;
    /* the command line */
    for (int a = 1; rc == 0 && a < c->argc; a++) {
        const char *arg = c->argv[a];
        size_t nlen = strcspn(arg, "=");
        if (!strncmp(arg, "--config", nlen) && nlen == 8) {
            a += arg[nlen] != '=';
            continue;
        }
        if (!strcmp(arg, "--print-config"))
            continue;
        long i = arg[0] == '-' && arg[1] == '-' ? find_flag(c, arg + 2, nlen - 2) : -1;
        if (i < 0) {
            if (strcmp(arg, "--help") != 0 && strcmp(arg, "-h") != 0)
                fprintf(stderr, "%s: unknown flag %s\n", c->prog, arg);
            fprintf(stderr, "usage: %s [--config FILE] [--print-config] [flags]\n", c->prog);
            for (size_t k = 0; k < c->n; k++)
                print_flag_help(&c->flags[k], c->e[k].def);
            rc = -1;
            break;
        }
        const char *v;
        if (c->flags[i].type == SIO_CLI_BOOL && arg[nlen] != '=') {
            v = "true";
        } else if (arg[nlen] == '=') {
            v = arg + nlen + 1;
        } else if (a + 1 < c->argc) {
            v = c->argv[++a];
        } else {
            fprintf(stderr, "%s: %s needs a value\n", c->prog, c->flags[i].name);
            rc = -1;
            break;
        }
        if (vals_add(&r->v[i], v) < 0)
            rc = -1;
        r->origin[i] = SIO_CLI_ORIGIN_FLAG;
    }
    /* the file */
    if (rc == 0 && c->config) {
        file_ctx x = {.c = c, .file = file, .bad_key = r->bad_key};
        int line = ini_parse(c->config, on_ini, &x);
        if (line < 0) {
            fprintf(stderr, "%s: cannot read the configuration file %s: %s\n", c->prog, c->config,
                    line == -1 ? strerror(errno) : "out of memory");
            rc = -1;
        } else if (line > 0) {
            r->file_line = line;
            if (x.bad)
                fprintf(stderr, "%s: %s:%d: unknown key \"%s\"\n", c->prog, c->config, line,
                        r->bad_key);
            else
                fprintf(stderr, "%s: %s:%d: not a \"key = value\" line\n", c->prog, c->config,
                        line);
            rc = -1;
        }
    }
    /* the environment, then the file, for flags the command line did not set */
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        if (r->origin[i] == SIO_CLI_ORIGIN_FLAG)
            continue;
        char env[128];
        sio_cli_env_name(c->flags[i].name, env, sizeof(env));
        const char *v = getenv(env);
        if (v && *v) {
            if (env_values(c, &c->flags[i], v, &r->v[i]) < 0)
                rc = -1;
            r->origin[i] = SIO_CLI_ORIGIN_ENV;
        } else if (file[i].n) {
            vals t = r->v[i];
            r->v[i] = file[i];
            file[i] = t;
            r->origin[i] = SIO_CLI_ORIGIN_FILE;
        }
    }
    for (size_t i = 0; file && i < c->n; i++)
        free(file[i].v);
    free(file);
    return rc;
}

/* Checks every value of r (scratch stores); prints the first bad one. */
static int check(sio_cli *c, const resolved *r)
{
    for (size_t i = 0; i < c->n; i++) {
        if (store_all(c, i, &r->v[i], 1) == 0)
            continue;
        char env[128];
        sio_cli_env_name(c->flags[i].name, env, sizeof(env));
        fprintf(stderr, "%s: bad value for %s (from %s%s%s)\n", c->prog, c->flags[i].name,
                sio_cli_origin_name(r->origin[i]), r->origin[i] == SIO_CLI_ORIGIN_ENV ? " " : "",
                r->origin[i] == SIO_CLI_ORIGIN_ENV ? env : "");
        return -1;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------------------------- */

void sio_cli_free(sio_cli *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].text);
        free(c->e[i].def);
    }
    for (size_t i = 0; i < c->npool; i++)
        free(c->pool[i]);
    free(c->pool);
    free(c);
}

sio_cli *sio_cli_load(int argc, char **argv, const sio_cli_flag *flags, const char *prog,
                      int *status)
{
    *status = 2;
    size_t n = 0;
    while (flags[n].name)
        n++;
    sio_cli *c = calloc(1, sizeof(*c) + n * sizeof(entry));
    if (!c)
        return NULL;
    c->flags = flags;
    c->n = n;
    c->prog = prog;
    c->argc = argc;
    c->argv = argv;
    for (size_t i = 0; i < c->n; i++)
        c->e[i].def = format_target(&flags[i]);
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--print-config")) {
            c->print = 1;
        } else if (!strcmp(argv[a], "--config")) {
            c->config = a + 1 < argc ? argv[++a] : "";
        } else if (!strncmp(argv[a], "--config=", 9)) {
            c->config = argv[a] + 9;
        }
    }
    if (!c->config && getenv("SIO_CONFIG") && *getenv("SIO_CONFIG"))
        c->config = getenv("SIO_CONFIG");
    resolved r;
    int rc = resolve(c, &r);
    if (rc == 0)
        rc = check(c, &r);
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        c->e[i].origin = r.origin[i];
        c->e[i].text = r.v[i].n ? join(&r.v[i], &flags[i]) : NULL;
        if (r.v[i].n && store_all(c, i, &r.v[i], 0) < 0)
            rc = -1;
    }
    resolved_free(&r, c->n);
    if (rc < 0) {
        sio_cli_free(c);
        return NULL;
    }
    *status = 0;
    return c;
}

int sio_cli_print_requested(const sio_cli *c)
{
    return c->print;
}

const char *sio_cli_config_path(const sio_cli *c)
{
    return c->config;
}

int sio_cli_origin(const sio_cli *c, const char *name)
{
    const char *b = bare(name);
    long i = find_flag(c, b, strlen(b));
    return i < 0 ? -1 : c->e[i].origin;
}

int sio_cli_changed(const sio_cli *c, const char *name)
{
    const char *b = bare(name);
    long i = find_flag(c, b, strlen(b));
    return i >= 0 && c->e[i].changed;
}

void sio_cli_print(const sio_cli *c, FILE *out)
{
    fprintf(out, "# effective configuration of %s: \"key = value ; origin\" (INI)\n", c->prog);
    if (c->config)
        fprintf(out, "# config file: %s\n", c->config);
    for (size_t i = 0; i < c->n; i++) {
        const char *name = bare(c->flags[i].name);
        const char *origin = sio_cli_origin_name(c->e[i].origin);
        const char *text = c->e[i].origin ? c->e[i].text : c->e[i].def;
        if (!text) {
            fprintf(out, "#%s = ; %s (unset)\n", name, origin);
            continue;
        }
        for (const char *p = text;;) {
            size_t len = strcspn(p, "\n");
            char one[1024], shown[1024];
            snprintf(one, sizeof(one), "%.*s", (int)len, p);
            sio_cli_redact(name, one, shown, sizeof(shown));
            fprintf(out, "%s = %s ; %s\n", name, shown, origin);
            if (!p[len])
                break;
            p += len + 1;
        }
    }
}

static int listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (!strcmp(*names, name))
            return 1;
    return 0;
}

int sio_cli_reload(sio_cli *c, const char *const *reloadable, sio_cli_change_cb cb, void *user)
{
    resolved r;
    int rc = resolve(c, &r);
    if (rc == 0)
        rc = check(c, &r);
    char **texts = rc == 0 ? calloc(c->n ? c->n : 1, sizeof(char *)) : NULL;
    if (rc == 0 && !texts)
        rc = -1;
    int changed = 0;
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        texts[i] = r.v[i].n ? join(&r.v[i], &c->flags[i]) : NULL;
        const char *old = c->e[i].text, *now = texts[i];
        c->e[i].changed = (old || now) && (!old || !now || strcmp(old, now) != 0);
    }
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        if (!c->e[i].changed)
            continue;
        const char *name = bare(c->flags[i].name);
        int apply = listed(reloadable, name);
        changed++;
        if (apply) {
            store_all(c, i, &r.v[i], 0); /* checked above */
            free(c->e[i].text);
            c->e[i].text = texts[i];
            texts[i] = NULL;
            c->e[i].origin = r.origin[i];
        }
        if (cb)
            cb(name, apply, user);
        c->e[i].changed = apply;
    }
    for (size_t i = 0; texts && i < c->n; i++)
        free(texts[i]);
    free(texts);
    resolved_free(&r, c->n);
    return rc < 0 ? -1 : changed;
}

/*
 * sio-server: the Socket.IO server as a standalone program. The options of sio_server_options
 * that make sense on a command line are flags (docs/configuration.md); with none it listens on
 * port 3000 at /socket.io/ with Node's defaults and answers GET /health. The chat gateway (JWT
 * auth, rooms, backend emits) builds on this binary.
 */
#include <sio/auth.h>
#include <sio/http.h>
#include <sio/sio.h>

#include "app/cli.h"
#include "app/logging.h"
#include "app/backend_api.h"
#include "app/metrics.h"
#include "app/presence.h"
#include "app/relay.h"
#include "gateway/gateway.h"

#include <event2/event.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = SIO_LOG_INFO;

/* One sink for the library's lines and the program's own, so both share the format
 * (--log-format: text "<UTC time> <level> <module>: line" or JSON lines, src/app/logging.h) and
 * the threshold, on stderr. */
static void log_line(int level, const char *module, const char *line, void *user)
{
    sio_app_log_write(level, module, line);
}

static void app_line(int level, const char *line, void *user)
{
    log_line(level, "app", line, user);
}

static void app_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void app_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    sio_app_vlog(app_line, NULL, level, fmt, ap);
    va_end(ap);
}

static void on_connection(sio_socket *s, void *user)
{
    sio_app_access_connect(s);
    app_log(SIO_LOG_DEBUG, "socket %s connected over %s", sio_socket_id(s),
            sio_socket_transport(s));
}

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    sio_app_access_disconnect(s, reason);
    app_log(SIO_LOG_DEBUG, "socket %s disconnected: %s", sio_socket_id(s), reason);
}

/* The connections refused, by code: the stats route and /metrics list them alike. */
enum { AUTH_CODES = 7 };
static void auth_refused(const sio_auth_stats *st, sio_app_labelled out[AUTH_CODES])
{
    const sio_app_labelled by_code[AUTH_CODES] = {
        {"TOKEN_MISSING", (double)st->refused_missing},
        {"TOKEN_INVALID", (double)st->refused_invalid},
        {"TOKEN_EXPIRED", (double)st->refused_expired},
        {"TOKEN_NOT_YET_VALID", (double)st->refused_not_yet_valid},
        {"TOKEN_ALGORITHM", (double)st->refused_algorithm},
        {"TOKEN_AUDIENCE", (double)st->refused_audience},
        {"TOKEN_ISSUER", (double)st->refused_issuer},
    };
    memcpy(out, by_code, sizeof(by_code));
}

/* GET <stats-path>/auth: the authenticator's counters as JSON. */
static void auth_stats_route(sio_http_request *req, void *user)
{
    sio_auth_stats st;
    sio_auth_get_stats(user, &st);
    sio_app_labelled refused[AUTH_CODES];
    auth_refused(&st, refused);
    sio_app_text t = {0};
    sio_app_text_printf(&t, "{\"accepted\":%llu,\"refused\":{", (unsigned long long)st.accepted);
    for (int i = 0; i < AUTH_CODES; i++)
        sio_app_text_printf(&t, "%s\"%s\":%.0f", i ? "," : "", refused[i].label, refused[i].value);
    sio_app_text_printf(
        &t,
        "},\"refreshes_ok\":%llu,\"refreshes_refused\":%llu,\"expiring_notices\":%llu,"
        "\"expired_disconnects\":%llu,\"jwks_fetches\":%llu,\"jwks_fetch_failures\":%llu,"
        "\"keys\":%zu}",
        (unsigned long long)st.refreshes_ok, (unsigned long long)st.refreshes_refused,
        (unsigned long long)st.expiring_notices, (unsigned long long)st.expired_disconnects,
        (unsigned long long)st.jwks_fetches, (unsigned long long)st.jwks_fetch_failures, st.keys);
    sio_app_text_respond(req, &t, "application/json");
}

/* With a key configured, every namespace requires a token: the authenticator protects "/" (the
 * program's only namespace; one the program adds must call sio_auth_protect too). Returns the
 * authenticator, NULL when no key is configured, or exits the program on a bad configuration. */
static sio_auth *setup_auth(sio_server *srv, sio_cli_auth *cli, const char *stats_path)
{
    if (!cli->enabled)
        return NULL;
    int err = 0;
    sio_auth *auth = sio_auth_new(srv, &cli->cfg, &err);
    if (!auth || sio_auth_protect(auth, sio_server_of(srv, "/")) < 0) {
        app_log(SIO_LOG_ERROR, "JWT authentication: %s", sio_strerror(auth ? SIO_ENOMEM : err));
        exit(1);
    }
    if (stats_path && stats_path[0]) {
        char path[512];
        snprintf(path, sizeof(path), "%s/auth", strcmp(stats_path, "/") ? stats_path : "");
        sio_http_route r = {.method = "GET", .path = path, .cb = auth_stats_route, .user = auth};
        sio_server_route_add(srv, &r);
    }
    return auth;
}

/* Authentication counters for /metrics (docs/metrics.md). */
static void auth_metrics(sio_app_text *t, void *user)
{
    sio_auth_stats st;
    sio_auth_get_stats(user, &st);
    sio_app_labelled refused[AUTH_CODES];
    auth_refused(&st, refused);
    SIO_APP_FAMILY(t, "sio_auth_failures_total", "counter",
                   "connections refused by JWT authentication, by code", "code", refused);
    sio_app_metric(t, "sio_auth_accepted_total", "counter", "connections whose token verified",
                   NULL, (double)st.accepted);
    const sio_app_labelled refreshes[] = {{"ok", (double)st.refreshes_ok},
                                          {"refused", (double)st.refreshes_refused}};
    SIO_APP_FAMILY(t, "sio_auth_refreshes_total", "counter", "auth:refresh outcomes", "result",
                   refreshes);
    sio_app_metric(t, "sio_auth_expired_disconnects_total", "counter",
                   "sockets disconnected when their token expired", NULL,
                   (double)st.expired_disconnects);
    const sio_app_labelled fetches[] = {{"started", (double)st.jwks_fetches},
                                        {"failed", (double)st.jwks_fetch_failures}};
    SIO_APP_FAMILY(t, "sio_auth_jwks_fetches_total", "counter", "JWKS URL fetches, by result",
                   "result", fetches);
    sio_app_metric(t, "sio_auth_keys", "gauge", "keys in the current key set", NULL,
                   (double)st.keys);
}

/* ---- the chat gateway (src/gateway, docs/gateway.md) ------------------------------------- */

/* --gateway runs it with identities taken from the CONNECT auth object (test-only, until the
 * gateway follows the JWT key). */
typedef struct gateway_cli {
    int enabled;
    sio_gateway_options o;
} gateway_cli;

#define GATEWAY_FLAGS(g)                                                                           \
    {"--gateway", SIO_CLI_BOOL, &(g).enabled,                                                      \
     "chat gateway, TEST ONLY: identity from the CONNECT auth object"},                            \
        {"--typing-timeout", SIO_CLI_UINT, &(g).o.typing_timeout_ms,                               \
         "ms a typing state lasts unrefreshed"},                                                   \
        {"--rate-limit", SIO_CLI_UINT, &(g).o.rate_limit,                                          \
         "events per minute per socket (0 = off)"},                                                \
        {"--typing-rate-limit", SIO_CLI_UINT, &(g).o.typing_rate_limit,                            \
         "typing events per 5 s per socket (0 = off)"},                                            \
        {"--max-connections-per-user", SIO_CLI_UINT, &(g).o.max_connections_per_user,              \
         "sockets of one user on this node (0 = off)"},                                            \
        {"--authorize-url", SIO_CLI_STR, &(g).o.authorize_url,                                     \
         "POST joins here for a decision (off: any user may join)"},                               \
        {"--authorize-token", SIO_CLI_STR, &(g).o.authorize_token,                                 \
         "bearer token for --authorize-url"},                                                      \
        {"--authorize-cache-ttl", SIO_CLI_UINT, &(g).o.authorize_cache_ttl_ms,                     \
         "ms a join decision is cached (0 = never)"},                                              \
        {"--authorize-timeout", SIO_CLI_UINT, &(g).o.authorize_timeout_ms,                         \
         "ms to wait for --authorize-url"},                                                        \
        {"--room-prefix-user", SIO_CLI_STR, &(g).o.room_prefix_user,                               \
         "room name prefix of a user"},                                                            \
        {"--room-prefix-org", SIO_CLI_STR, &(g).o.room_prefix_org,                                 \
         "room name prefix of an organization"},                                                   \
    {                                                                                              \
        "--room-prefix-conversation", SIO_CLI_STR, &(g).o.room_prefix_conversation,                \
            "room name prefix of a conversation"                                                   \
    }

static void gateway_log(int level, const char *line, void *user)
{
    (void)user;
    if (level <= log_level)
        log_line(level, "gateway", line, NULL);
}

static void gateway_cli_init(gateway_cli *g)
{
    g->enabled = 0;
    sio_gateway_options_init(&g->o);
    g->o.log = gateway_log;
}

/* Starts the gateway on "/" when a JWT key is configured (auth not NULL; its middleware is
 * registered already, so the gateway's runs after it and sees the claims), or, for tests only,
 * with --gateway and no key: identities then come unverified from the CONNECT auth object.
 * Returns 0 or -1. */
static int gateway_start(gateway_cli *g, sio_server *srv, sio_auth *auth, sio_gateway **out)
{
    *out = NULL;
    if (!g->enabled && !auth)
        return 0;
    g->o.identity_from_auth = auth == NULL;
    if (!auth)
        log_line(SIO_LOG_WARN, "gateway",
                 "--gateway without a JWT key: identities are NOT verified (tests only)", NULL);
    *out = sio_gateway_new(srv, sio_server_of(srv, "/"), &g->o);
    return *out ? 0 : -1;
}

/* Gateway counters for /metrics. */
static void gateway_metrics(sio_app_text *t, void *user)
{
    sio_gateway_stats st;
    sio_gateway_get_stats(user, &st);
    sio_app_labelled events[SIO_GW_EV_COUNT], errors[SIO_GW_ERR_COUNT];
    for (int i = 0; i < SIO_GW_EV_COUNT; i++)
        events[i] = (sio_app_labelled){sio_gateway_event_name(i), (double)st.events[i]};
    for (int i = 0; i < SIO_GW_ERR_COUNT; i++)
        errors[i] = (sio_app_labelled){sio_gateway_error_name(i), (double)st.errors[i]};
    SIO_APP_FAMILY(t, "sio_gateway_events_total", "counter", "gateway events received", "event",
                   events);
    SIO_APP_FAMILY(t, "sio_gateway_errors_total", "counter", "error events sent, by code", "code",
                   errors);
    const sio_app_labelled limited[] = {{"events", (double)st.rate_limited_events},
                                        {"typing", (double)st.rate_limited_typing}};
    SIO_APP_FAMILY(t, "sio_rate_limit_hits_total", "counter", "events dropped by rate limits",
                   "bucket", limited);
    sio_app_metric(t, "sio_typing_expiries_total", "counter",
                   "typing states closed by the typing timeout", NULL, (double)st.typing_expiries);
    const sio_app_labelled decisions[] = {
        {"allowed", (double)st.authorize_allowed},
        {"denied", (double)st.authorize_denied},
        {"unavailable", (double)st.authorize_unavailable},
        {"cached", (double)st.authorize_cached},
    };
    SIO_APP_FAMILY(t, "sio_authorize_decisions_total", "counter", "join authorisation decisions",
                   "result", decisions);
    sio_app_metric(t, "sio_connection_limit_refusals_total", "counter",
                   "connections refused with CONNECTION_LIMIT", NULL,
                   (double)st.connection_limit_refusals);
    sio_app_metric(t, "sio_online_users", "gauge", "users with a socket on this node", NULL,
                   (double)st.users);
}

/* ---- Redis relay and presence (src/app/relay.c, presence.c, docs/presence.md) ------------- */

typedef struct cluster_cli {
    sio_cli_strs relay;              /* --relay rules (else SIO_RELAY, ';'-separated) */
    const char *relay_redis;         /* else SIO_RELAY_REDIS, else --redis */
    int relay_redis_cluster;         /* --relay-redis is a Redis Cluster */
    sio_relay_options relay_o;       /* the flags' part: max_message_bytes */
    sio_presence_options presence_o; /* the flags' part: lease_ms, key */
    char *env_rules;                 /* SIO_RELAY's copy, split in place */
    const char *rules[SIO_RELAY_MAX_RULES];
    size_t nrules;
} cluster_cli;

#define CLUSTER_FLAGS(c)                                                                           \
    {"--relay", SIO_CLI_STRS, &(c).relay,                                                          \
     "relay rule 'channel-pattern=event[@room]', repeatable (';'-separated in the environment)"},  \
        {"--relay-redis", SIO_CLI_STR, &(c).relay_redis,                                           \
         "Redis URL of the relay (default: --redis)"},                                             \
        {"--relay-redis-cluster", SIO_CLI_BOOL, &(c).relay_redis_cluster,                          \
         "--relay-redis lists Redis Cluster seeds"},                                               \
        {"--relay-max-bytes", SIO_CLI_SIZE, &(c).relay_o.max_message_bytes,                        \
         "largest relayed payload (larger ones are dropped)"},                                     \
        {"--presence-lease", SIO_CLI_UINT, &(c).presence_o.lease_ms,                               \
         "ms within which a dead node's users go offline"},                                        \
    {                                                                                              \
        "--presence-key", SIO_CLI_STR, &(c).presence_o.key, "Redis key prefix of presence"         \
    }

static char relay_module[] = "relay", presence_module[] = "presence";

static void module_log(int level, const char *line, void *user)
{
    if (level <= log_level)
        log_line(level, user, line, NULL);
}

/* The relay's rules and URL: flags, else the environment. Returns 0 or -1 (printed). */
static int cluster_cli_apply(cluster_cli *c, const sio_cli_redis *redis)
{
    for (size_t i = 0; i < c->relay.n; i++)
        c->rules[c->nrules++] = c->relay.v[i];
    const char *env = getenv("SIO_RELAY");
    if (!c->nrules && env && *env) {
        if (!(c->env_rules = strdup(env)))
            return -1;
        for (char *save = NULL, *t = strtok_r(c->env_rules, ";", &save); t;
             t = strtok_r(NULL, ";", &save)) {
            while (*t == ' ' || *t == '\t')
                t++;
            for (char *e = t + strlen(t); e > t && (e[-1] == ' ' || e[-1] == '\t');)
                *--e = 0;
            if (!*t)
                continue;
            if (c->nrules == SIO_RELAY_MAX_RULES) {
                fprintf(stderr, "sio-server: more than %d relay rules\n", SIO_RELAY_MAX_RULES);
                return -1;
            }
            c->rules[c->nrules++] = t;
        }
    }
    for (size_t i = 0; i < c->nrules; i++) {
        char why[128];
        if (sio_relay_rule_check(c->rules[i], why, sizeof(why)) < 0) {
            fprintf(stderr, "sio-server: bad relay rule '%s': %s\n", c->rules[i], why);
            return -1;
        }
    }
    if (!c->relay_redis && (env = getenv("SIO_RELAY_REDIS")) && *env)
        c->relay_redis = env;
    if (!c->relay_redis) {
        c->relay_redis = redis->cfg.url;
        c->relay_redis_cluster = redis->cfg.cluster;
    }
    if (c->nrules && !c->relay_redis) {
        fprintf(stderr, "sio-server: --relay needs --relay-redis or --redis\n");
        return -1;
    }
    return 0;
}

static void relay_metrics(sio_app_text *t, void *user)
{
    sio_relay_stats st;
    sio_relay_get_stats(user, &st);
    const sio_app_labelled outcomes[] = {
        {"received", (double)st.received},         {"forwarded", (double)st.forwarded},
        {"invalid_json", (double)st.invalid_json}, {"oversized", (double)st.oversized},
        {"emit_failed", (double)st.emit_failures},
    };
    SIO_APP_FAMILY(t, "sio_relay_messages_total", "counter",
                   "Redis relay messages, by outcome (received; events forwarded; dropped)",
                   "outcome", outcomes);
    sio_app_metric(t, "sio_relay_deliveries_total", "counter",
                   "relayed event packets queued for this node's clients", NULL,
                   (double)st.deliveries);
    sio_app_metric(t, "sio_relay_rules", "gauge", "relay rules in force", NULL, (double)st.rules);
    sio_app_metric(t, "sio_relay_redis_up", "gauge", "1 while the relay's Redis link is up", NULL,
                   st.redis_up);
}

static void org_sample(const char *org, size_t online, void *user)
{
    sio_app_labelled_sample(user, "sio_presence_online_users", "organization", org, (double)online);
}

static void presence_metrics(sio_app_text *t, void *user)
{
    sio_presence_stats st;
    sio_presence_get_stats(user, &st);
    sio_app_metric(t, "sio_presence_users", "gauge",
                   "users online (with an organization; cluster-wide with Redis)", NULL,
                   (double)st.users);
    sio_app_metric(t, "sio_presence_organizations", "gauge", "organizations with a user online",
                   NULL, (double)st.orgs);
    sio_app_family_head(t, "sio_presence_online_users", "gauge",
                        "users online per organization (the first 1000 organizations)");
    sio_presence_foreach_org(user, 1000, org_sample, t);
    const sio_app_labelled transitions[] = {{"online", (double)st.online},
                                            {"offline", (double)st.offline}};
    SIO_APP_FAMILY(t, "sio_presence_transitions_total", "counter",
                   "presence transitions decided by this node", "status", transitions);
    sio_app_metric(t, "sio_presence_updates_total", "counter",
                   "presence:update events emitted to this node's clients", NULL,
                   (double)st.updates);
    sio_app_metric(t, "sio_presence_lists_total", "counter", "presence:list requests answered",
                   NULL, (double)st.lists);
    sio_app_metric(t, "sio_presence_resyncs_total", "counter",
                   "re-registrations of this node's counts in Redis", NULL, (double)st.resyncs);
    sio_app_metric(t, "sio_presence_swept_nodes_total", "counter",
                   "nodes whose lease lapsed (or restarted), removed by this node", NULL,
                   (double)st.swept_nodes);
    sio_app_metric(t, "sio_presence_redis_errors_total", "counter",
                   "presence scripts that failed or timed out", NULL, (double)st.redis_errors);
    sio_app_metric(t, "sio_presence_redis_up", "gauge", "1 while presence reaches Redis", NULL,
                   st.redis ? st.redis_up : 1);
}

/* Starts the relay (with rules) and presence (with the gateway), and adds their metrics.
 * Returns 0 or -1. */
static int cluster_start(cluster_cli *c, const sio_cli_redis *redis, const gateway_cli *g,
                         sio_server *srv, sio_gateway *gw, const char *node_addr,
                         sio_app_metrics *metrics, sio_relay **relay, sio_presence **presence)
{
    sio_namespace *root = sio_server_of(srv, "/");
    if (c->nrules) {
        sio_relay_options ro = c->relay_o;
        ro.redis_url = c->relay_redis;
        ro.redis_cluster = c->relay_redis_cluster;
        ro.log = module_log;
        ro.log_user = relay_module;
        if (!(*relay = sio_relay_new(srv, root, &ro, c->rules, c->nrules)) ||
            sio_app_metrics_add_source(metrics, relay_metrics, *relay) < 0)
            return -1;
    }
    if (gw) {
        sio_presence_options po = c->presence_o;
        po.redis_url = redis->cfg.url;
        po.redis_cluster = redis->cfg.cluster;
        po.node_addr = node_addr;
        po.org_prefix = g->o.room_prefix_org;
        po.user_prefix = g->o.room_prefix_user;
        po.log = module_log;
        po.log_user = presence_module;
        if (!(*presence = sio_presence_new(srv, root, gw, &po)) ||
            sio_app_metrics_add_source(metrics, presence_metrics, *presence) < 0)
            return -1;
    }
    return 0;
}

/* Before sio_server_free: presence leaves the cluster, both close their Redis connections, and
 * the loop runs the callbacks that closing owes. */
static void cluster_stop(sio_server *srv, sio_relay *relay, sio_presence *presence)
{
    sio_presence_stop(presence);
    if (relay) {
        sio_relay_free(relay);
        for (int i = 0; i < 3; i++)
            event_base_loop(sio_server_base(srv), EVLOOP_NONBLOCK);
    }
}

/* Backend API counters for /metrics. */
static void api_metrics(sio_app_text *t, void *user)
{
    sio_backend_api_stats st;
    sio_backend_api_get_stats(user, &st);
    const sio_app_labelled routes[] = {
        {"emit", (double)st.emits},
        {"disconnect", (double)st.disconnects},
        {"sockets", (double)st.socket_lists},
    };
    SIO_APP_FAMILY(t, "sio_api_requests_total", "counter",
                   "backend API requests accepted, by route", "route", routes);
    const sio_app_labelled refusals[] = {{"unauthorized", (double)st.unauthorized},
                                         {"bad_request", (double)st.bad_requests}};
    SIO_APP_FAMILY(t, "sio_api_refusals_total", "counter",
                   "backend API requests refused, by reason (401/403; 400)", "reason", refusals);
}

/* ---- configuration, reload, drain and logs (docs/configuration.md, docs/operations.md) ---- */

typedef struct ops_cli {
    const char *log_level, *log_format, *access_log;
    int verbose, quiet;
} ops_cli;

#define OPS_FLAGS(x, o)                                                                            \
    {"--log-level", SIO_CLI_STR, &(x).log_level,                                                   \
     "error, warn, info or debug (info; --verbose: debug, --quiet: error)"},                       \
        {"--log-format", SIO_CLI_STR, &(x).log_format, "text or json: JSON lines (text)"},         \
        {"--access-log", SIO_CLI_STR, &(x).access_log,                                             \
         "a line per connection and close: a file, or - for stdout (off)"},                        \
        {"--drain-seconds", SIO_CLI_UINT, &(o).drain_seconds,                                      \
         "SIGTERM closes the sessions in batches over this many s, /health 503 (0 = off)"},        \
        {"--verbose", SIO_CLI_BOOL, &(x).verbose, "debug logging"},                                \
    {                                                                                              \
        "--quiet", SIO_CLI_BOOL, &(x).quiet, "errors only"                                         \
    }

/* What a SIGHUP changes (docs/operations.md lists the same): the other flags need a restart. */
static const char *const reloadable[] = {"jwt-secret",
                                         "jwt-secret-file",
                                         "jwt-public-key",
                                         "jwks-file",
                                         "jwks-url",
                                         "jwks-ca-file",
                                         "jwks-refresh",
                                         "jwks-min-refetch",
                                         "jwt-algorithms",
                                         "jwt-issuer",
                                         "jwt-audience",
                                         "jwt-leeway",
                                         "jwt-expiring-notice",
                                         "typing-timeout",
                                         "rate-limit",
                                         "typing-rate-limit",
                                         "max-connections-per-user",
                                         "authorize-cache-ttl",
                                         "authorize-timeout",
                                         "max-connections",
                                         "max-buffered-bytes",
                                         "max-buffered-packets",
                                         "shutdown-timeout",
                                         "drain-seconds",
                                         "relay",
                                         "log-level",
                                         "log-format",
                                         "access-log",
                                         "verbose",
                                         "quiet",
                                         NULL};

/* Reload hooks: a module of this program whose settings may change at run time (the relay
 * rules, ...) registers here; after each SIGHUP, once the file is read again and the changed
 * values of the flags in reloadable[] are in their targets, every hook runs in order (ask
 * sio_cli_changed(cli, "flag") what changed). A hook logs its own errors. */
typedef void (*app_reload_fn)(const sio_cli *cli, void *user);
static struct {
    app_reload_fn fn;
    void *user;
} reload_hooks[8];
static size_t n_reload_hooks;

static int app_on_reload(app_reload_fn fn, void *user)
{
    if (n_reload_hooks == sizeof(reload_hooks) / sizeof(reload_hooks[0]))
        return -1;
    reload_hooks[n_reload_hooks].fn = fn;
    reload_hooks[n_reload_hooks++].user = user;
    return 0;
}

/* /status "users": users online, from presence (cluster-wide with Redis). */
static size_t presence_users(void *user)
{
    sio_presence_stats st;
    sio_presence_get_stats(user, &st);
    return st.users;
}

/* The relay's rules follow the file on SIGHUP (its Redis connections stay). */
typedef struct relay_reload {
    const cluster_cli *cluster;
    sio_relay *relay;
} relay_reload;

static void on_relay_reload(const sio_cli *cli, void *user)
{
    relay_reload *r = user;
    if (!sio_cli_changed(cli, "relay"))
        return;
    if (!r->relay) {
        app_log(SIO_LOG_WARN, "reload: relay rules need a restart (the relay was not started)");
        return;
    }
    const sio_cli_strs *l = &r->cluster->relay;
    if (sio_relay_set_rules(r->relay, l->v, l->n) < 0)
        app_log(SIO_LOG_ERROR, "reload: relay rules refused; the previous ones stay");
    else
        app_log(SIO_LOG_INFO, "reload: %zu relay rules", l->n);
}

/* What the reload reaches. */
typedef struct app_ctx {
    sio_cli *cli;
    sio_server *srv;
    sio_server_options *o;
    ops_cli *ops;
    sio_cli_auth *auth_flags;
    sio_auth *auth;
    gateway_cli *gateway;
    sio_gateway *gw;
} app_ctx;

/* Applies the log flags: level, format, access log (reopened: log rotation). Returns 0 or -1. */
static int logs_apply(const ops_cli *x)
{
    int level = x->verbose ? SIO_LOG_DEBUG : (x->quiet ? SIO_LOG_ERROR : SIO_LOG_INFO);
    int format = sio_app_log_format_parse(x->log_format ? x->log_format : "text");
    if (x->log_level && (level = sio_app_log_level_parse(x->log_level)) < 0) {
        app_log(SIO_LOG_ERROR, "--log-level: error, warn, info or debug");
        return -1;
    }
    if (format < 0) {
        app_log(SIO_LOG_ERROR, "--log-format: text or json");
        return -1;
    }
    sio_app_log_set_format(format);
    log_level = level;
    sio_log_set_sink(log_line, NULL, log_level);
    if (sio_app_access_open(x->access_log) < 0) {
        app_log(SIO_LOG_ERROR, "--access-log %s: cannot open", x->access_log);
        return -1;
    }
    return 0;
}

/* The startup summary: CORS, authentication, limits and cluster mode (secrets redacted). */
static void log_summary(const app_ctx *c, const sio_cli_redis *redis)
{
    const sio_server_options *o = c->o;
    const sio_auth_config *a = &c->auth_flags->cfg;
    char url[512];
    if (sio_cli_config_path(c->cli))
        app_log(SIO_LOG_INFO, "config: file %s", sio_cli_config_path(c->cli));
    if (o->http.cors_origin)
        app_log(SIO_LOG_INFO, "cors: origin %s, credentials %s", o->http.cors_origin,
                o->http.cors_credentials ? "allowed" : "not allowed");
    else
        app_log(SIO_LOG_INFO, "cors: off");
    if (c->auth) {
        sio_cli_redact("jwks-url", a->jwks_url, url, sizeof(url));
        app_log(SIO_LOG_INFO,
                "auth: JWT keys from%s%s%s %zu public key files%s%s%s%s; algorithms %s",
                a->secret ? " a secret," : "", a->secret_file ? " the secret file " : "",
                a->secret_file ? a->secret_file : "", a->n_public_key_files,
                a->jwks_file ? ", JWKS file " : "", a->jwks_file ? a->jwks_file : "",
                a->jwks_url ? ", JWKS URL " : "", a->jwks_url ? url : "",
                a->algorithms ? a->algorithms : "those of the keys");
    } else {
        app_log(SIO_LOG_INFO, "auth: off (no JWT key configured)");
    }
    app_log(SIO_LOG_INFO,
            "limits: max-connections %zu, max-payload %zu, max-buffered-bytes %zu, ping "
            "%u/%u ms, rate-limit %u/min, typing-rate-limit %u, max-connections-per-user %u, "
            "drain-seconds %u, shutdown-timeout %u ms",
            o->engine.max_connections, o->engine.max_payload, o->engine.max_buffered_bytes,
            o->engine.ping_interval_ms, o->engine.ping_timeout_ms, c->gateway->o.rate_limit,
            c->gateway->o.typing_rate_limit, c->gateway->o.max_connections_per_user,
            o->drain_seconds, o->shutdown_timeout_ms);
    if (redis->cfg.url) {
        sio_cli_redact("redis", redis->cfg.url, url, sizeof(url));
        app_log(SIO_LOG_INFO, "cluster: Redis %s, %s mode%s%s", url, redis->mode,
                redis->cfg.cluster ? ", Redis Cluster" : "",
                redis->cfg.sharded ? (redis->cfg.subscription_mode == SIO_REDIS_SUB_STATIC
                                          ? ", static subscriptions"
                                          : ", dynamic subscriptions")
                                   : "");
    } else {
        app_log(SIO_LOG_INFO, "cluster: none (a single node)");
    }
}

static void note_change(const char *name, int applied, void *user)
{
    if (applied)
        app_log(SIO_LOG_INFO, "reload: %s changed", name);
    else
        app_log(SIO_LOG_WARN, "reload: %s changed in the configuration but needs a restart", name);
}

/* SIGHUP: the file again, then keys (files re-read, JWKS refetched), limits, logs, hooks. */
static void on_sighup(sio_server *srv, int sig, void *user)
{
    app_ctx *c = user;
    app_log(SIO_LOG_INFO, "SIGHUP: reloading");
    int n = sio_cli_reload(c->cli, reloadable, note_change, NULL);
    if (n < 0) {
        app_log(SIO_LOG_ERROR, "reload: the configuration has errors; nothing changed");
        return;
    }
    logs_apply(c->ops);
    if (sio_cli_auth_apply(c->auth_flags, "sio-server") == 0) {
        if (c->auth)
            sio_auth_reload(c->auth, &c->auth_flags->cfg);
        else if (c->auth_flags->enabled)
            app_log(SIO_LOG_WARN, "reload: JWT authentication can only be turned on by a restart");
    }
    if (c->gw)
        sio_gateway_set_limits(c->gw, &c->gateway->o);
    sio_server_update_limits(srv, c->o);
    for (size_t i = 0; i < n_reload_hooks; i++)
        reload_hooks[i].fn(c->cli, reload_hooks[i].user);
    app_log(SIO_LOG_INFO, "reload done: %d settings changed", n);
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    sio_server_options o;
    sio_server_options_init(&o);
    sio_http_config *h = &o.http;
    sio_engine_config *e = &o.engine;
    sio_socketio_config *io = &o.socketio;
    ops_cli ops = {0};
    sio_cli_redis redis;
    sio_cli_redis_init(&redis);
    const char *metrics_path = "/metrics", *status_path = "/status", *node_id = NULL;
    sio_backend_api_options api_o;
    sio_backend_api_options_init(&api_o);
    sio_cli_auth auth_flags;
    sio_cli_auth_init(&auth_flags);
    gateway_cli gateway;
    gateway_cli_init(&gateway);
    cluster_cli cluster = {0};
    sio_relay_options_init(&cluster.relay_o);
    sio_presence_options_init(&cluster.presence_o);
    sio_cli_flag flags[] = {
        /* HTTP */
        {"--port", SIO_CLI_INT, &h->port, "TCP port (0 = any free port)"},
        {"--host", SIO_CLI_STR, &h->host, "interface to bind (default all)"},
        {"--tls-cert", SIO_CLI_STR, &h->tls_cert, "PEM certificate (with --tls-key: HTTPS/WSS)"},
        {"--tls-key", SIO_CLI_STR, &h->tls_key, "PEM private key"},
        {"--cors-origin", SIO_CLI_STR, &h->cors_origin, "CORS: *, reflect, or a,b,c (off)"},
        {"--cors-credentials", SIO_CLI_BOOL, &h->cors_credentials, "allow credentials"},
        {"--cors-methods", SIO_CLI_STR, &h->cors_methods,
         "preflight methods (GET,HEAD,PUT,PATCH,POST,DELETE)"},
        {"--cors-headers", SIO_CLI_STR, &h->cors_headers,
         "preflight headers (default: those requested)"},
        {"--cors-max-age", SIO_CLI_INT, &h->cors_max_age, "preflight max age in s (omitted)"},
        {"--cookie", SIO_CLI_STR, &h->cookie_name, "set a sticky-session cookie with this name"},
        {"--cookie-path", SIO_CLI_STR, &h->cookie_path, "Path of the cookie"},
        {"--cookie-same-site", SIO_CLI_STR, &h->cookie_same_site, "SameSite of the cookie"},
        {"--cookie-secure", SIO_CLI_BOOL, &h->cookie_secure, "mark the cookie Secure"},
        {"--compression-threshold", SIO_CLI_SIZE, &h->http_compression_threshold,
         "gzip polling responses from this size (0 = never)"},
        {"--per-message-deflate", SIO_CLI_BOOL, &h->per_message_deflate, "WebSocket compression"},
        {"--max-header-bytes", SIO_CLI_SIZE, &h->max_header_bytes, "bytes of request headers"},
        {"--close-deadline", SIO_CLI_UINT, &h->close_deadline_ms,
         "ms a closing connection may take before it is dropped"},
        {"--accept-backoff", SIO_CLI_UINT, &h->accept_backoff_ms,
         "ms between accept retries at the open-files limit"},
        /* Engine.IO */
        {"--path", SIO_CLI_STR, &e->path, "endpoint path"},
        {"--ping-interval", SIO_CLI_UINT, &e->ping_interval_ms, "ms between pings"},
        {"--ping-timeout", SIO_CLI_UINT, &e->ping_timeout_ms, "ms to wait for a pong"},
        {"--upgrade-timeout", SIO_CLI_UINT, &e->upgrade_timeout_ms,
         "ms to finish an upgrade to WebSocket"},
        {"--close-timeout", SIO_CLI_UINT, &e->close_timeout_ms,
         "ms a server close waits for a GET to carry it"},
        {"--max-payload", SIO_CLI_SIZE, &e->max_payload, "bytes per message/POST"},
        {"--max-buffered-bytes", SIO_CLI_SIZE, &e->max_buffered_bytes,
         "per-connection queue cap in bytes"},
        {"--max-buffered-packets", SIO_CLI_SIZE, &e->max_buffered_packets,
         "per-connection queue cap in packets"},
        {"--max-connections", SIO_CLI_SIZE, &e->max_connections, "0 = unlimited"},
        /* Socket.IO */
        {"--connect-timeout", SIO_CLI_UINT, &io->connect_timeout_ms,
         "ms to join a namespace, middleware included"},
        {"--max-attachments", SIO_CLI_UINT, &io->max_attachments, "attachments per packet"},
        {"--max-json-depth", SIO_CLI_UINT, &io->max_json_depth, "nesting of arguments"},
        {"--max-namespaces-per-connection", SIO_CLI_SIZE, &io->max_namespaces_per_connection,
         "namespaces one connection may join"},
        {"--max-rooms-per-socket", SIO_CLI_SIZE, &io->max_rooms_per_socket,
         "rooms one socket may join"},
        {"--max-dynamic-namespaces", SIO_CLI_SIZE, &io->max_dynamic_namespaces,
         "dynamic child namespaces alive at once"},
        /* adapter */
        {"--requests-timeout", SIO_CLI_UINT, &o.adapter.requests_timeout_ms,
         "ms cluster queries wait for other servers"},
        SIO_CLI_REDIS_FLAGS(redis, o),
        SIO_CLI_AUTH_FLAGS(auth_flags),
        GATEWAY_FLAGS(gateway),
        CLUSTER_FLAGS(cluster),
        /* server */
        {"--shutdown-timeout", SIO_CLI_UINT, &o.shutdown_timeout_ms,
         "ms to close connections on SIGTERM/SIGINT"},
        {"--stats-path", SIO_CLI_STR, &o.stats_path, "serve counters as JSON at this path (off)"},
        {"--health-path", SIO_CLI_STR, &o.health_path, "health route (\"\" = off)"},
        {"--api-token", SIO_CLI_STR, &api_o.token,
         "backend API bearer secret; enables /api/emit, /api/disconnect, "
         "/api/sockets"},
        {"--api-role", SIO_CLI_STR, &api_o.role, "JWT role accepted by the backend API"},
        {"--api-max-body", SIO_CLI_SIZE, &api_o.max_body, "backend API body limit in bytes"},
        {"--metrics-path", SIO_CLI_STR, &metrics_path, "Prometheus metrics route (\"\" = off)"},
        {"--status-path", SIO_CLI_STR, &status_path, "status JSON route (\"\" = off)"},
        {"--node-id", SIO_CLI_STR, &node_id, "this node's name in /status (host:port)"},
        OPS_FLAGS(ops, o),
        {NULL, 0, NULL, NULL},
    };
    int status;
    static sio_cli *cli; /* static: reachable on every early exit */
    cli = sio_cli_load(argc, argv, flags, "sio-server", &status);
    if (!cli)
        return status;
    if (sio_cli_print_requested(cli)) {
        sio_cli_print(cli, stdout);
        sio_cli_free(cli);
        return 0;
    }
    if (sio_cli_redis_apply(&redis, &o, "sio-server") < 0 ||
        sio_cli_auth_apply(&auth_flags, "sio-server") < 0 ||
        cluster_cli_apply(&cluster, &redis) < 0) {
        free(cluster.env_rules);
        return 2;
    }
    if (o.health_path && !o.health_path[0])
        o.health_path = NULL;
    if (logs_apply(&ops) < 0)
        return 2;
    sio_server *srv = sio_server_new(NULL, &o);
    if (!srv)
        return 1;
    sio_auth *auth = setup_auth(srv, &auth_flags, o.stats_path);
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_on_connection(root, on_connection, NULL);
    sio_namespace_on_disconnect(root, on_disconnect, NULL);
    char name[300];
    if (!node_id) {
        char host[256] = "sio";
        gethostname(host, sizeof(host) - 1);
        snprintf(name, sizeof(name), "%s:%d", host, sio_server_port(srv));
        node_id = name;
    }
    sio_app_metrics *metrics = sio_app_metrics_new(srv, metrics_path, status_path, node_id);
    if (!metrics || sio_app_metrics_add_namespace(metrics, root) < 0 ||
        (auth && sio_app_metrics_add_source(metrics, auth_metrics, auth) < 0)) {
        fprintf(stderr, "sio-server: cannot register the metrics and status routes\n");
        sio_server_free(srv);
        return 1;
    }
    sio_backend_api *api = NULL;
    if ((api_o.token && *api_o.token) || auth) {
        api_o.auth = auth;
        api_o.prefix_user = gateway.o.room_prefix_user; /* the gateway's room names */
        api_o.prefix_org = gateway.o.room_prefix_org;
        api_o.prefix_conversation = gateway.o.room_prefix_conversation;
        if (!(api = sio_backend_api_new(srv, &api_o)) ||
            sio_app_metrics_add_source(metrics, api_metrics, api) < 0) {
            sio_backend_api_free(api);
            fprintf(stderr, "sio-server: cannot register the backend API routes\n");
            sio_server_free(srv);
            return 1;
        }
        app_log(SIO_LOG_INFO, "backend API on /api/ (%s%s%s)", api_o.token ? "service token" : "",
                api_o.token && auth ? ", " : "", auth ? "JWT with role" : "");
    }
    sio_gateway *gw;
    sio_relay *relay = NULL;
    sio_presence *presence = NULL;
    int rc = 0;
    app_ctx ctx = {cli, srv, &o, &ops, &auth_flags, auth, &gateway, NULL};
    if (gateway_start(&gateway, srv, auth, &gw) < 0 ||
        (gw && sio_app_metrics_add_source(metrics, gateway_metrics, gw) < 0) ||
        cluster_start(&cluster, &redis, &gateway, srv, gw, node_id, metrics, &relay, &presence) <
            0) {
        rc = 1;
    } else {
        ctx.gw = gw;
        if (presence)
            sio_app_metrics_set_users(metrics, presence_users, presence);
        static relay_reload rr;
        rr = (relay_reload){&cluster, relay};
        app_on_reload(on_relay_reload, &rr);
        log_summary(&ctx, &redis);
        sio_server_on_signal(srv, SIGHUP, on_sighup, &ctx);
        printf("listening on port %d\n", sio_server_port(srv));
        fflush(stdout);
        sio_server_run(srv);
    }
    cluster_stop(srv, relay, presence);
    sio_auth_free(auth);
    sio_server_free(srv);
    sio_app_metrics_free(metrics);
    sio_backend_api_free(api);
    sio_gateway_free(gw); /* after the server: its last disconnects still reach the gateway */
    sio_presence_free(presence); /* after the gateway, whose last releases reach it */
    free(cluster.env_rules);
    sio_app_access_close();
    sio_cli_free(cli);
    return rc;
}

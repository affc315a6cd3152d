/*
 * The Redis relay of sio-server (docs/presence.md, "Relay"): rules such as
 * 'status:*=message.status@conversation:{1}' map a Redis channel pattern to an event and a room;
 * the relay PSUBSCRIBEs to the patterns on its own Redis connections and forwards each message's
 * JSON payload as the event's single argument to the room ({1}, {2}, ... are the parts of the
 * channel the '*' wildcards matched). Every node subscribes and receives each message, so each
 * emits to its own clients only (SIO_EMIT_LOCAL): a client gets the event once, whichever node it
 * is connected to. Every call on the loop thread.
 */
#ifndef SIO_APP_RELAY_H
#define SIO_APP_RELAY_H

#include <sio/sio.h>

#include <stddef.h>
#include <stdint.h>

typedef struct sio_relay sio_relay;

/* Bounds of a rule. */
#define SIO_RELAY_MAX_RULES 32
#define SIO_RELAY_MAX_CAPTURES 9

typedef struct sio_relay_options {
    const char *redis_url;    /* required: as sio_redis_adapter_config.url */
    int redis_cluster;        /* the URL(s) are Redis Cluster seeds */
    size_t max_message_bytes; /* 1 MiB: larger payloads are dropped and counted */
    void (*log)(int level, const char *line, void *user);
    void *log_user;
} sio_relay_options;

void sio_relay_options_init(sio_relay_options *o);

typedef struct sio_relay_stats {
    uint64_t received;      /* messages received on a relayed pattern */
    uint64_t forwarded;     /* events emitted (a message matching two rules counts twice) */
    uint64_t deliveries;    /* packets queued for this node's clients by those emits */
    uint64_t invalid_json;  /* payloads that were not one JSON value: dropped */
    uint64_t oversized;     /* payloads over max_message_bytes: dropped */
    uint64_t emit_failures; /* emits refused (e.g. out of memory) */
    size_t rules;           /* rules in force */
    int redis_up;           /* 1 while every pattern's connection is up */
} sio_relay_stats;

/**
 * Checks one rule ("pattern=event" or "pattern=event@room", room with {n} references to the
 * pattern's n-th '*'). Returns 0, or SIO_EINVAL with a reason in why (may be NULL).
 */
int sio_relay_rule_check(const char *rule, char *why, size_t why_len);

/**
 * Starts the relay for rules (copied) on nsp (borrowed), connecting to Redis. Returns NULL after
 * logging a bad rule, a bad URL or OOM.
 */
sio_relay *sio_relay_new(sio_server *srv, sio_namespace *nsp, const sio_relay_options *o,
                         const char *const *rules, size_t nrules);

/** Replaces the rules (a configuration reload): patterns no longer used are unsubscribed, new
 *  ones subscribed. Returns 0, or SIO_EINVAL (a bad rule: the old rules stay) / SIO_ENOMEM. */
int sio_relay_set_rules(sio_relay *r, const char *const *rules, size_t nrules);

/** Closes the Redis connections; run the loop once more afterwards (see sio_redis_cluster_free)
 *  before freeing the server. NULL is a no-op. */
void sio_relay_free(sio_relay *r);

void sio_relay_get_stats(const sio_relay *r, sio_relay_stats *out);

/* The capture of pattern (only '*' is special) on channel: 1 on a match, with caps[i] the start
 * and cap_lens[i] the length of the i-th '*' (the leftmost-shortest assignment); else 0. */
int sio_relay_match(const char *pattern, size_t plen, const char *channel, size_t clen,
                    const char **caps, size_t *cap_lens);

#endif

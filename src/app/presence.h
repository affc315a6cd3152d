/*
 * Presence of sio-server (docs/presence.md): a user is online while at least one socket of theirs
 * is connected on any node; the transitions go to the organization's room as `presence:update`
 * {user_id, organization_id, status}, `presence:list` answers the organization's online users,
 * and the gateway's per-user connection cap counts the same sockets. Hooked into the chat gateway
 * through sio_gateway_set_hooks.
 *
 * Without Redis the counts are this node's. With Redis they live in Redis: per node a hash of
 * its sockets under a lease that a heartbeat renews, totals per user, online sets per
 * organization, every change decided by one Lua script that also publishes the transitions; a
 * node that stops renewing is swept by the others. Every call on the loop thread.
 */
#ifndef SIO_APP_PRESENCE_H
#define SIO_APP_PRESENCE_H

#include <sio/sio.h>

#include <stddef.h>
#include <stdint.h>

#include "gateway/gateway.h"

typedef struct sio_presence sio_presence;

typedef struct sio_presence_options {
    const char *redis_url;   /* NULL: this node only; else as sio_redis_adapter_config.url */
    int redis_cluster;       /* the URL(s) are Redis Cluster seeds */
    unsigned lease_ms;       /* 30000: a silent node's users are offline within this */
    const char *key;         /* "sio:presence": keys are "{<key>}:..." (one Cluster slot);
                                at most 256 bytes */
    const char *node_addr;   /* "host:port": a node registering with the address of a registered
                                one replaces it (a restart on the same port) */
    const char *org_prefix;  /* the gateway's organization room prefix ("org:") */
    const char *user_prefix; /* and its user room prefix ("user:"): a user's own sockets do not
                                get their user's transitions */
    void (*log)(int level, const char *line, void *user);
    void *log_user;
} sio_presence_options;

void sio_presence_options_init(sio_presence_options *o);

/** Counters since creation and gauges (now). */
typedef struct sio_presence_stats {
    uint64_t online, offline; /* transitions decided by this node (its scripts, its sweeps) */
    uint64_t updates;         /* presence:update emitted to this node's clients */
    uint64_t lists;           /* presence:list answered */
    uint64_t resyncs;         /* full re-registrations of this node's counts in Redis */
    uint64_t swept_nodes;     /* nodes whose lease lapsed, removed by this node */
    uint64_t redis_errors;    /* scripts that failed or timed out */
    size_t users;             /* users online (cluster-wide with Redis) */
    size_t orgs;              /* organizations with a user online */
    int redis;                /* 1: state in Redis */
    int redis_up;             /* 1 while Redis is reachable */
} sio_presence_stats;

/**
 * Starts presence on nsp (the gateway's namespace) and installs the gateway's hooks. srv, nsp
 * and gw are borrowed; o is copied. Returns NULL on a bad option or OOM (logged).
 */
sio_presence *sio_presence_new(sio_server *srv, sio_namespace *nsp, sio_gateway *gw,
                               const sio_presence_options *o);

/** Leaves the cluster before the server is freed: removes this node's counts from Redis (its
 *  users go offline where no other node has them), runs the loop until Redis answered (at most
 *  a second) and closes the Redis connections. Later hooks only count locally. */
void sio_presence_stop(sio_presence *p);

/** Frees presence: after sio_server_free and sio_gateway_free. NULL is a no-op. */
void sio_presence_free(sio_presence *p);

void sio_presence_get_stats(const sio_presence *p, sio_presence_stats *out);

/** Calls fn for every organization with a user online (at most max of them), with its count.
 *  With Redis the counts are refreshed every quarter lease and by every transition seen. */
void sio_presence_foreach_org(const sio_presence *p, size_t max,
                              void (*fn)(const char *org, size_t online, void *user), void *user);

/** This node's presence id: "<node_addr>/<pid>/<start ms>" (unique per process start). */
const char *sio_presence_node_id(const sio_presence *p);

#endif

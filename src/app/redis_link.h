/*
 * The Redis link of a module of sio-server (presence, relay): a sio_redis_cluster seeded from the
 * comma-separated URL list of a flag, its connections named after the module, a bad
 * configuration logged through the module's log. One place, so that the modules connect alike.
 */
#ifndef SIO_APP_REDIS_LINK_H
#define SIO_APP_REDIS_LINK_H

#include "adapter/redis/client.h"
#include "app/logging.h"

/** What a module connects with; every pointer borrowed for the call. */
typedef struct sio_app_redis_link {
    const char *module; /* "relay": its connections' log name and the prefix of its log lines */
    const char *urls;   /* comma-separated seeds, as sio_redis_adapter_config.url */
    int cluster;        /* the seeds are Redis Cluster nodes */
    sio_redis_cluster_message_cb on_message;
    sio_redis_cluster_state_cb on_state; /* at each change only */
    void *user;                          /* of both callbacks */
    sio_app_log_cb log;                  /* the module's log (may be NULL) */
    void *log_user;
} sio_app_redis_link;

/** Starts connecting. Returns the cluster front end, or NULL after logging "<module>: bad Redis
 *  configuration <urls> (<why>)". No callback from inside. */
sio_redis_cluster *sio_app_redis_connect(struct event_base *base, const sio_app_redis_link *l);

#endif

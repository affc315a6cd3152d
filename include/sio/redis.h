/*
 * The Redis adapter (docs/deployment.md, "Cluster"): several sio servers, and Node socket.io
 * servers using @socket.io/redis-adapter 8.x, share rooms, broadcasts and cluster requests
 * through Redis, in Node's wire format (docs/protocol-adapter.md): classic (PUBLISH/PSUBSCRIBE)
 * or sharded (SPUBLISH/SSUBSCRIBE, Redis 7), on one Redis or a Redis Cluster. It also accepts
 * what @socket.io/redis-emitter publishes and, on an optional channel, python-socketio's pub/sub
 * manager messages in their JSON form.
 *
 *   sio_redis_adapter_config rc;
 *   sio_redis_adapter_config_init(&rc);
 *   rc.url = "redis://127.0.0.1:6379";
 *   o.adapter.ops = sio_adapter_redis();
 *   o.adapter.config = &rc;   (borrowed until sio_server_free)
 */
#ifndef SIO_REDIS_H
#define SIO_REDIS_H

#include <sio/adapter.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which rooms get a channel of their own in sharded mode (Node's subscriptionMode). */
enum sio_redis_subscription_mode {
    SIO_REDIS_SUB_STATIC = 0,      /* none: every broadcast on the namespace channel */
    SIO_REDIS_SUB_DYNAMIC,         /* rooms that are not socket ids (Node's default) */
    SIO_REDIS_SUB_DYNAMIC_PRIVATE, /* every room */
};

typedef struct sio_redis_adapter_config {
    const char *url;       /* redis://[user[:password]@]host[:port][/db] or rediss://; for a
                              Redis Cluster, several seeds separated by commas */
    int cluster;           /* 0; 1: a Redis Cluster (slots followed, one connection per master) */
    int sharded;           /* 0: classic adapter; 1: sharded adapter (Redis >= 7) */
    int subscription_mode; /* sharded only: SIO_REDIS_SUB_DYNAMIC */
    const char *key;       /* "socket.io": the channel prefix, as Node's key option */
    const char *python_channel;  /* NULL: off; "socketio": python-socketio's default channel */
    size_t max_message_bytes;    /* 16 MiB: larger messages are dropped and counted */
    size_t max_out_bytes;        /* 64 MiB queued towards Redis per connection; beyond, publishes
                                    are dropped and counted instead of growing */
    unsigned connect_timeout_ms; /* 5000 */
} sio_redis_adapter_config;

/** Fills c with the defaults above (url NULL: must be set). */
SIO_API void sio_redis_adapter_config_init(sio_redis_adapter_config *c);

/** The adapter's operations, for sio_server_options.adapter.ops. */
SIO_API const sio_adapter_ops *sio_adapter_redis(void);

#ifdef __cplusplus
}
#endif

#endif

/*
 * The Redis link of the program's modules (redis_link.h).
 */
#include "app/redis_link.h"

#include <sio/error.h>

sio_redis_cluster *sio_app_redis_connect(struct event_base *base, const sio_app_redis_link *l)
{
    sio_redis_cluster_options o;
    sio_redis_cluster_options_init(&o);
    o.cluster = l->cluster;
    o.node.log_name = l->module;
    o.on_message = l->on_message;
    o.on_state = l->on_state;
    o.user = l->user;
    int err = 0;
    sio_redis_cluster *c = sio_redis_cluster_new_list(base, l->urls, &o, &err);
    if (!c)
        sio_app_log(l->log, l->log_user, SIO_LOG_ERROR, "%s: bad Redis configuration %s (%s)",
                    l->module, l->urls ? l->urls : "(none)", sio_strerror(err ? err : SIO_EINVAL));
    return c;
}

/*
 * The in-memory adapter: a lone server. Rooms and delivery live in the Socket.IO layer, so
 * with no other server there is nothing to publish and the cluster is this one server (Node's
 * in-memory adapter behaves the same for serverSideEmit and serverCount).
 */
#include <sio/adapter.h>

static char lone; /* the adapter has no state; create must return non-NULL */

static void *mem_create(sio_adapter_host *host, void *config)
{
    (void)host, (void)config;
    return &lone;
}

static void mem_free(void *self)
{
    (void)self;
}

static int mem_publish(void *self, void *nsp_state, const sio_cluster_msg *msg)
{
    (void)self, (void)nsp_state, (void)msg;
    return 0;
}

static const sio_adapter_ops memory_ops = {
    .name = "memory",
    .create = mem_create,
    .free = mem_free,
    .publish = mem_publish,
};

const sio_adapter_ops *sio_adapter_memory(void)
{
    return &memory_ops;
}

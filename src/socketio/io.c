/*
 * The Socket.IO layer of one server (src/socketio/io.h): its namespaces, dynamic parents, the
 * removal of emptied children, and its adapter.
 */
#include "internal.h"

#include "common/array.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

sio_io *sio_io_new(const sio_io_config *cfg)
{
    sio_io *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    io->owner = cfg->owner;
    io->base = cfg->base;
    io->clock = cfg->clock;
    io->opts = *cfg->opts;
    io->stats = cfg->stats;
    io->host.io = io;
    io->requests_timeout_ms = cfg->adapter && cfg->adapter->requests_timeout_ms
                                  ? cfg->adapter->requests_timeout_ms
                                  : 5000;
    sio_map_init(&io->nsps);
    sio_map_init(&io->requests);
    sio_binary_limits_init(&io->limits);
    unsigned att = io->opts.max_attachments;
    io->limits.packet.max_attachments =
        att > SIO_BINARY_MAX_ATTACHMENTS ? SIO_BINARY_MAX_ATTACHMENTS : att;
    io->limits.packet.max_json_depth = io->opts.max_json_depth;
    /* Each attachment is one message within max_payload; bound the packet as a whole by that. */
    io->limits.max_bytes = cfg->max_payload * io->limits.packet.max_attachments;
    io->gc_timer = sio_timer_new(io->clock, sio_io_gc, io);
    io->aops = cfg->adapter && cfg->adapter->ops ? cfg->adapter->ops : sio_adapter_memory();
    io->adapter = io->gc_timer
                      ? io->aops->create(&io->host, cfg->adapter ? cfg->adapter->config : NULL)
                      : NULL;
    if (!io->adapter) {
        sio_log(SIO_LOG_ERROR, "socketio", "adapter %s: could not start", io->aops->name);
        sio_io_free(io);
        return NULL;
    }
    /* The main namespace always exists, as in Node (io.sockets = io.of("/")): a client that
     * connects to "/" is accepted even if the application never asked for it by name. */
    if (!sio_nsp_new(io, "/", 1)) {
        sio_log(SIO_LOG_ERROR, "socketio", "could not create the main namespace");
        sio_io_free(io);
        return NULL;
    }
    return io;
}

void sio_io_shutdown(sio_io *io)
{
    sio_cluster_fail_all(io);
    sio_bcast_fail_all(io);
}

static void nsp_free(void *nsp)
{
    sio_nsp_free(nsp);
}

void sio_io_free(sio_io *io)
{
    if (!io)
        return;
    sio_cluster_fail_all(io);
    sio_bcast_fail_all(io);
    sio_map_deinit_with(&io->nsps, nsp_free);
    sio_cluster_free(io);
    sio_timer_free(io->gc_timer);
    free(io->dyn);
    free(io);
}

sio_namespace *sio_io_of(sio_io *io, const char *name)
{
    if (!name || name[0] != '/')
        return NULL;
    size_t len = strlen(name);
    sio_namespace *nsp = sio_map_get(&io->nsps, name, len);
    if (nsp && nsp->dynamic && !nsp->pinned) {
        nsp->pinned = 1; /* the application holds it now: kept until the server is freed */
        io->ndyn_alive--;
    }
    return nsp ? nsp : sio_nsp_new(io, name, len);
}

int sio_io_add_dynamic(sio_io *io, sio_namespace_match_cb match, sio_namespace_setup_cb setup,
                       void *user)
{
    if (!match)
        return SIO_EINVAL;
    return sio_array_push(&io->dyn, &io->ndyn, &io->cap_dyn, &(dyn_parent){match, setup, user},
                          sizeof(dyn_parent), 4);
}

int sio_io_adapter_up(const sio_io *io)
{
    return io->aops->is_up ? io->aops->is_up(io->adapter) != 0 : 1;
}

size_t sio_io_adapter_pending(const sio_io *io)
{
    return io->aops->pending ? io->aops->pending(io->adapter) : 0;
}

size_t sio_io_dynamic_count(const sio_io *io)
{
    return io->ndyn_alive;
}

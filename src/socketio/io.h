/*
 * The Socket.IO layer as the composition root (src/server/) sees it: an sio_io attaches to an
 * Engine.IO server through its callbacks, runs its timers on a clock, and talks to the other
 * servers of a cluster through one adapter. It never sees HTTP or sockets.
 */
#ifndef SIO_SOCKETIO_IO_H
#define SIO_SOCKETIO_IO_H

#include <sio/adapter.h>
#include <sio/sio.h>

#include "common/timer.h"
#include "engine/engine.h"

typedef struct sio_io sio_io;

typedef struct sio_io_config {
    sio_server *owner;                 /* the public server handed to callbacks (opaque here) */
    struct event_base *base;           /* for adapters only (sio_adapter_host_base) */
    sio_clock *clock;                  /* every timer of the layer (borrowed) */
    const sio_socketio_config *opts;   /* copied */
    const sio_adapter_config *adapter; /* copied; ops NULL = in-memory */
    size_t max_payload;                /* the engine's, to bound reassembled packets */
    sio_server_stats *stats;           /* counters the layer adds to (borrowed) */
} sio_io_config;

/** Creates the layer and its adapter. NULL on failure (logged). */
sio_io *sio_io_new(const sio_io_config *cfg);
/** The callbacks to hand to eio_server_new; user is the io. */
void sio_io_engine_callbacks(sio_io *io, eio_callbacks *out);
/** Fails every pending cluster request and middleware answer with SIO_ECLOSED (shutdown). */
void sio_io_shutdown(sio_io *io);
/** Frees namespaces, the adapter and pending requests. Every session must be closed first. */
void sio_io_free(sio_io *io);

sio_namespace *sio_io_of(sio_io *io, const char *name);
int sio_io_add_dynamic(sio_io *io, sio_namespace_match_cb match, sio_namespace_setup_cb setup,
                       void *user);
/** Dynamic child namespaces alive now. */
size_t sio_io_dynamic_count(const sio_io *io);
/** 1 while the adapter reaches the cluster (ops->is_up; the in-memory adapter always). */
int sio_io_adapter_up(const sio_io *io);
/** Cluster messages the adapter has not handed to its broker yet (ops->pending; 0 without). */
size_t sio_io_adapter_pending(const sio_io *io);

#endif

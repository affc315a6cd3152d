/*
 * The composition root (docs/architecture.md): sio_server assembles the HTTP front, the
 * Engine.IO server, the Socket.IO layer and the adapter, owns the loop, the signals and the
 * graceful drain, and aggregates the statistics. Only this folder sees every layer.
 */
#ifndef SIO_SERVER_SERVER_H
#define SIO_SERVER_SERVER_H

#include <sio/sio.h>

#include "engine/engine.h"

/**
 * The engine-level root: HTTP front and Engine.IO server only, no Socket.IO layer, for programs
 * that speak Engine.IO themselves (eio-reference-server). cbs receive every session (copied).
 * Use sio_server_run/stop/free/port/get_stats as for a full server; the namespace functions
 * must not be called on it. NULL on failure (logged).
 */
sio_server *sio_server_new_engine(struct event_base *base, const sio_server_options *opts,
                                  const eio_callbacks *cbs);

#endif

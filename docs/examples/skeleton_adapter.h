/*
 * The loopback bus of docs/adapter.md: a cluster adapter that joins the sio servers of one
 * process to each other. Written as a template for adapters over a real bus; also usable in tests
 * that run two or more servers on one loop.
 */
#ifndef SKELETON_ADAPTER_H
#define SKELETON_ADAPTER_H

#include <sio/adapter.h>

/** What sio_server_options.adapter.config may point to (NULL: every field 0). The server borrows
 *  it until sio_server_free returns. */
typedef struct loopback_config {
    unsigned delay_ms; /* delivery delay; 0: the receiver's next loop iteration */
} loopback_config;

/** The adapter's operations, for sio_server_options.adapter.ops. Every server created with them
 *  in this process is one member of the same cluster. All of them must run on one thread. */
const sio_adapter_ops *loopback_adapter(void);

#endif

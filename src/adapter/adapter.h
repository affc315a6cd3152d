/*
 * The adapter interface (docs/protocol.md §3 names what a cluster adapter must carry): where room
 * membership lives and how a target (rooms minus except rooms) is resolved to sockets, locally
 * or across servers. The operations mirror Node's Adapter and ClusterAdapter; the in-memory
 * adapter (memory.c) implements them for one process, a Redis adapter will add the cluster
 * side. The Socket.IO layer calls only these, never the room index directly.
 */
#ifndef SIO_ADAPTER_H
#define SIO_ADAPTER_H

#include "socketio/internal.h"

typedef struct sio_adapter sio_adapter;

/** Called for each local socket a target resolves to; return 0 if it counted. */
typedef int (*sio_adapter_visit_cb)(sio_socket *s, void *arg);

typedef struct sio_adapter_ops {
    const char *name;
    void (*free)(sio_adapter *a);

    /* membership (Node: addAll, del, delAll) */
    int (*add)(sio_adapter *a, sio_socket *s, const char *room, size_t len);
    void (*del)(sio_adapter *a, sio_socket *s, const char *room, size_t len);
    void (*del_all)(sio_adapter *a, sio_socket *s);

    /* delivery (Node: broadcast, broadcastWithAck): visit calls the layer's per-socket send;
     * a cluster adapter also publishes f and, with acks, reports remote recipients through
     * remote_count. Returns the number of local recipients. */
    long (*broadcast)(sio_adapter *a, const sio_frame *f, const sio_target *to,
                      sio_adapter_visit_cb visit, void *arg);
    long (*broadcast_with_ack)(sio_adapter *a, const sio_frame *f, const sio_target *to,
                               sio_adapter_visit_cb visit, void *arg,
                               void (*remote_count)(void *arg, size_t n));

    /* queries and remote operations (Node: sockets/fetchSockets, socketRooms, allRooms,
     * addSockets, delSockets, disconnectSockets): apply visits the local sockets of a target */
    long (*apply)(sio_adapter *a, const sio_target *to, sio_adapter_visit_cb visit, void *arg);
    long (*all_rooms)(sio_adapter *a, void (*fn)(const char *room, void *arg), void *arg);
    long (*add_sockets)(sio_adapter *a, const sio_target *to, const char *room);
    long (*del_sockets)(sio_adapter *a, const sio_target *to, const char *room);
    long (*disconnect_sockets)(sio_adapter *a, const sio_target *to, int close);

    /* cluster (Node: serverSideEmit, serverCount) */
    int (*server_side_emit)(sio_adapter *a, const char *event, const char *args_json);
    size_t (*server_count)(sio_adapter *a);

    /* connection state recovery (Node: persistSession, restoreSession): NULL when the adapter
     * cannot keep sessions; recovery is then off, as with Node's Redis pub/sub adapter. */
    int (*persist_session)(sio_adapter *a, const sio_socket *s);
    int (*restore_session)(sio_adapter *a, const char *pid, const char *offset, sio_socket *s);
} sio_adapter_ops;

struct sio_adapter {
    const sio_adapter_ops *ops;
    sio_namespace *nsp;
};

/** The in-memory adapter of nsp (one process). NULL on OOM. */
sio_adapter *sio_memory_adapter_new(sio_namespace *nsp);

#endif

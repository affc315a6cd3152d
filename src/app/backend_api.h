/*
 * The backend API of sio-server (docs/backend.md): HTTP routes through which backends emit to
 * rooms, users, conversations and organizations, disconnect users, and list sockets, cluster-wide
 * through the adapter. Authenticated with a service bearer secret or a JWT carrying a role.
 * Built on the public API only.
 */
#ifndef SIO_APP_BACKEND_API_H
#define SIO_APP_BACKEND_API_H

#include <sio/auth.h>
#include <sio/sio.h>

typedef struct sio_backend_api_options {
    const char *token;       /* service bearer secret; NULL = none */
    const char *role;        /* a JWT verified by auth with this role is accepted ("admin") */
    sio_auth *auth;          /* NULL: JWTs are not accepted */
    size_t max_body;         /* 1 MiB */
    const char *prefix_user; /* room prefixes, as the gateway's: "user:", "org:", "conversation:" */
    const char *prefix_org;
    const char *prefix_conversation;
} sio_backend_api_options;

void sio_backend_api_options_init(sio_backend_api_options *o);

typedef struct sio_backend_api sio_backend_api;

/** Registers POST /api/emit, POST /api/disconnect and GET /api/sockets on srv. Copies o's
 *  strings. NULL on failure. Free after sio_server_free. */
sio_backend_api *sio_backend_api_new(sio_server *srv, const sio_backend_api_options *o);
void sio_backend_api_free(sio_backend_api *api);

/** Lets requests name nsp ("namespace" of an emit or disconnect, ?namespace= of /api/sockets).
 *  "/" is there from the start; a name never registered is refused with 400, so that a request
 *  cannot create a namespace (one without the program's middleware). 0 or SIO_ELIMIT (16). */
int sio_backend_api_add_namespace(sio_backend_api *api, sio_namespace *nsp);

/** Counters for /metrics: requests by route and outcome. */
typedef struct sio_backend_api_stats {
    uint64_t emits, disconnects, socket_lists; /* accepted requests */
    uint64_t unauthorized, bad_requests;       /* 401/403, 400/413 */
} sio_backend_api_stats;
void sio_backend_api_get_stats(const sio_backend_api *api, sio_backend_api_stats *out);

#endif

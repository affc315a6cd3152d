/*
 * Outbound connections on libevent, the client side shared by the HTTP client (src/httpc) and
 * the Redis client (src/adapter/redis): a TLS client context, a bufferevent that checks the
 * peer's certificate against the host it was opened for, and a connect that resolves host names
 * with evdns, so that the loop never blocks in getaddrinfo. Includes only libc, libevent and
 * OpenSSL; every call on the loop thread.
 */
#ifndef SIO_NET_CONNECT_H
#define SIO_NET_CONNECT_H

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;
struct evdns_base;

/** A TLS client context: TLS 1.2 at least, peers verified against the PEM bundle ca_file (NULL:
 *  the system store). Returns it (SSL_CTX_free), or NULL with OpenSSL's error queue cleared. */
SSL_CTX *sio_net_tls_ctx_new(const char *ca_file);

/**
 * A bufferevent for a connection to host (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS):
 * plain when ctx is NULL; else TLS over ctx (borrowed; it must outlive the bufferevent) with SNI
 * and the peer's certificate checked against host, a name (no partial wildcards) or an IP
 * literal, a dirty shutdown allowed. Returns NULL when out of memory.
 */
struct bufferevent *sio_net_bev_new(struct event_base *base, SSL_CTX *ctx, const char *host);

/**
 * Starts connecting bev (from sio_net_bev_new) to host:port: an IPv4 or IPv6 literal (without
 * brackets) at once, a name through *dns, which is created on first use with the system's name
 * servers (then *own_dns is set: the caller frees it with evdns_base_free). Returns 0, or -1
 * (the socket error is EVUTIL_SOCKET_ERROR()); the outcome of a started connect comes as
 * bufferevent events.
 */
int sio_net_connect(struct bufferevent *bev, struct evdns_base **dns, int *own_dns,
                    const char *host, unsigned port);

#endif

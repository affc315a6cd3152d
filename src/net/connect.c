/*
 * Outbound connections (connect.h).
 */
#include "net/connect.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

SSL_CTX *sio_net_tls_ctx_new(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx)) == 1)
            return ctx;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

struct bufferevent *sio_net_bev_new(struct event_base *base, SSL_CTX *ctx, const char *host)
{
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (!ctx)
        return bufferevent_socket_new(base, -1, opts);
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    struct in6_addr a6;
    struct in_addr a4;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(vp, host);
    } else {
        SSL_set_tlsext_host_name(ssl, host); /* SNI */
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    }
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

int sio_net_connect(struct bufferevent *bev, struct evdns_base **dns, int *own_dns,
                    const char *host, unsigned port)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char lit[300]; /* a literal is far shorter: a longer host is a name */
    if (strchr(host, ':'))
        snprintf(lit, sizeof(lit), "[%s]:%u", host, port);
    else
        snprintf(lit, sizeof(lit), "%s:%u", host, port);
    if (evutil_parse_sockaddr_port(lit, (struct sockaddr *)&ss, &sl) == 0)
        return bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sl);
    if (!*dns) {
        *dns = evdns_base_new(bufferevent_get_base(bev),
                              EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!*dns)
            return -1;
        *own_dns = 1;
    }
    return bufferevent_socket_connect_hostname(bev, *dns, AF_UNSPEC, host, (int)port);
}

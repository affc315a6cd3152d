/*
 * WebSocket (docs/protocol.md §1.7): the upgrade decision, messages in (reassembled, bounded by
 * maxPayload: 1009 past it, at the frame header already) and frames out, drained from the
 * session's queue when lws says the socket is writable.
 */
#include "internal.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

int http_on_upgrade(http_conn *c, const char *protocol)
{
    sio_http *h = c->http;
    if (strcmp(protocol, "websocket"))
        return -1;
    char uri[512];
    if (http_hdr_copy(c->wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) < 0)
        return http_reject_upgrade(c, EIO_ERR_BAD_REQUEST, NULL);
    http_conn_detach(c);
    if (!http_path_matches(h, uri))
        return http_reject_upgrade(c, EIO_ERR_BAD_REQUEST, NULL);
    eio_request req;
    req_args a;
    http_read_request(c->wsi, c, &req, &a);
    req.is_upgrade = 1;
    const char *hs = !req.sid ? http_build_handshake(c->wsi, uri) : NULL;
    req.handshake_json = hs;
    eio_session *s = NULL;
    int err, status, answered;
    const char *msg = NULL;
    eio_action act = http_engine_handle(c, &req, &s, &err, &status, &msg, &answered);
    if (act == EIO_ACT_PENDING) {
        /* lws needs the upgrade decided now: accept it, and send the open packet or close
         * with 1008 when the hook answers (docs/configuration.md, Handshake filter) */
        c->kind = CONN_WS;
        c->established = 0;
        c->hs_pending = 1;
        return 0;
    }
    if (act != EIO_ACT_WS_ACCEPT)
        return http_reject_upgrade(c, act == EIO_ACT_ERROR ? err : EIO_ERR_BAD_REQUEST, msg);
    c->kind = CONN_WS;
    c->established = 0;
    c->s = s; /* NULL: accepted only to be closed (the session is upgrading or upgraded) */
    if (!s)
        c->close_req = 1;
    return 0;
}

int http_on_ws_established(http_conn *c)
{
    c->established = 1;
    if (c->hs_pending) /* no session yet: nothing to send */
        return 0;
    /* The open packet goes out at once, not after a POLLOUT round trip. */
    if (c->s && !c->close_req && !lws_partial_buffered(c->wsi) && http_ws_drain(c) == 0)
        return 0;
    if (c->s && !c->close_req)
        c->close_req = 1; /* http_ws_drain said close */
    lws_callback_on_writable(c->wsi);
    return 0;
}

void http_ws_handshake_done(http_conn *c)
{
    if (c->hs.act == EIO_ACT_WS_ACCEPT) {
        c->s = c->hs.session; /* the engine's flush writes the open packet */
        if (!c->s)
            c->close_req = 1;
    } else {
        c->close_status = LWS_CLOSE_STATUS_POLICY_VIOLATION; /* 1008, with the message */
        c->close_req = 1;
    }
    if (c->close_req && c->established)
        lws_callback_on_writable(c->wsi); /* else ESTABLISHED does it */
}

/* A whole message to the engine; its answer, when this session is the only one with anything
 * queued, leaves from here at once instead of at the end of the loop iteration (the engine's
 * eio_conn_ws_flush; docs/benchmarks.md has the echo latency this saves). */
static int ws_message(http_conn *c, uint8_t *data, size_t len, int binary)
{
    if (eio_conn_ws_message(c->s, c, data, len, binary) < 0)
        return -1;
    if (c->s)
        eio_conn_ws_flush(c->s, c);
    return 0;
}

int http_on_ws_receive(http_conn *c, void *in, size_t len)
{
    /* lws may call again with more inflated bytes of a message already refused: stay refused
     * (and keep the 1009 a later close would otherwise replace) */
    if (!c->s || c->close_status)
        return -1;
    int first = lws_is_first_fragment(c->wsi), final = lws_is_final_fragment(c->wsi);
    int binary = lws_frame_is_binary(c->wsi);
    if (first && final && !c->body_len) {
        if (len > c->http->max_payload)
            goto too_large;
        return ws_message(c, in, len, binary);
    }
    if (c->body_len + len > c->http->max_payload)
        goto too_large;
    if (first)
        c->body_len = 0;
    if (http_body_append(c, in, len) < 0)
        return -1;
    if (!final)
        return 0;
    size_t n = c->body_len;
    c->body_len = 0;
    /* lws_frame_is_binary reflects the first frame's opcode for continuations */
    return ws_message(c, c->body, n, binary);
too_large:
    c->close_status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
    eio_session_close(c->s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
}

/* A data frame's header announces its length (scripts/lws-patches/0009): refuse one above
 * maxPayload before reading any of it, as Node's ws does. */
int http_on_ws_frame_length(http_conn *c, size_t len)
{
    if (len <= c->http->max_payload)
        return 0;
    sio_log(SIO_LOG_INFO, "http", "session %s: WebSocket frame of %zu bytes over maxPayload",
            c->s ? eio_session_id(c->s) : "-", len);
    c->close_status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
    if (c->s)
        eio_session_close(c->s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
    return 1;
}

/* RFC 6455 header of an unmasked server frame; returns its length (2, 4 or 10). */
static size_t ws_frame_header(uint8_t *h, size_t len, int binary)
{
    h[0] = (uint8_t)(0x80 | (binary ? 2 : 1));
    if (len < 126) {
        h[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static int ws_close_now(http_conn *c)
{
    /* a refused handshake carries its message in the close frame (at most 123 bytes) */
    int refused = c->close_status == LWS_CLOSE_STATUS_POLICY_VIOLATION;
    size_t n = refused ? strlen(c->hs_msg) : 0;
    lws_close_reason(
        c->wsi, c->close_status ? (enum lws_close_status)c->close_status : LWS_CLOSE_STATUS_NORMAL,
        refused ? (unsigned char *)c->hs_msg : NULL, n);
    return -1;
}

/* Writes several queued frames with one send: we frame them ourselves into a scratch buffer and
 * hand lws raw bytes (lws buffers whatever the socket does not take). Only without
 * permessage-deflate, where lws would have to compress each message. */
static int ws_write_coalesced(http_conn *c, sio_buf *first, sio_buf *second, int *close_after)
{
    sio_http *h = c->http;
    size_t used = LWS_PRE;
    sio_buf *b = first;
    int n_frames = 0;
    while (b) {
        size_t need = used + 10 + b->len;
        if (need > h->scratch_cap) {
            size_t cap = h->scratch_cap ? h->scratch_cap : 65536;
            while (cap < need)
                cap *= 2;
            uint8_t *ns = realloc(h->scratch, cap);
            if (!ns) {
                sio_buf_unref(b);
                if (b == first)
                    sio_buf_unref(second);
                return -1;
            }
            h->scratch = ns;
            h->scratch_cap = cap;
        }
        used += ws_frame_header(h->scratch + used, b->len, b->binary);
        memcpy(h->scratch + used, sio_buf_data(b), b->len);
        used += b->len;
        sio_buf_unref(b);
        n_frames++;
        if (b == first) {
            b = second;
        } else if (used - LWS_PRE >= 256 * 1024 || *close_after) {
            b = NULL; /* enough for one callback; the rest on the next */
        } else {
            b = eio_conn_ws_next(c->s, c, close_after);
        }
    }
    return lws_write(c->wsi, h->scratch + LWS_PRE, used - LWS_PRE, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* Writes what is queued; returns -1 when the connection must now be closed. */
int http_ws_drain(http_conn *c)
{
    int close_after = 0;
    sio_buf *first = eio_conn_ws_next(c->s, c, &close_after);
    if (!first)
        return close_after ? -1 : 0;
    sio_buf *second = close_after ? NULL : eio_conn_ws_next(c->s, c, &close_after);
    int rc;
    if (!second || c->http->opts.per_message_deflate) {
        /* one frame (or compression on): lws frames it in the buffer's headroom */
        rc = lws_write(c->wsi, sio_buf_data(first), first->len,
                       first->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        sio_buf_unref(first);
        if (second) {
            lws_callback_on_writable(c->wsi);
            rc = rc < 0 ? rc
                        : lws_write(c->wsi, sio_buf_data(second), second->len,
                                    second->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            sio_buf_unref(second);
        }
    } else {
        rc = ws_write_coalesced(c, first, second, &close_after);
    }
    if (rc < 0 || close_after)
        return -1;
    if (eio_session_queued_packets(c->s))
        lws_callback_on_writable(c->wsi);
    return 0;
}

int http_on_ws_writable(http_conn *c)
{
    if (c->hs_pending)
        return 0;
    if (!c->s || c->close_req)
        return ws_close_now(c);
    return http_ws_drain(c) < 0 ? ws_close_now(c) : 0;
}

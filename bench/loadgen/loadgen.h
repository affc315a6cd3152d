/* sio-loadgen: shared types of the benchmark load generator (libc only, epoll, one loop per
 * process). The parent process only coordinates and samples the server; each child owns a slice
 * of the clients, drives them through a scenario and reports over a pipe. Not part of the
 * library: nothing here may include sio headers. */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LG_MAX_PROCS 16
#define LG_MAX_SRC 16
#define LG_MAX_FRAME (16u << 20)           /* largest WebSocket message or HTTP body we accept */
#define LG_HIST_SUB 256                    /* sub-buckets per power of two: ~0.4 % resolution */
#define LG_HIST_BUCKETS (20 * LG_HIST_SUB) /* covers 0 .. 2^27 us (134 s) */
#define LG_ECHO_RING 64                    /* outstanding acked echoes per client */
#define LG_MAX_NODES 8  /* servers of a cluster (--port and --server-pid lists) */
#define LG_MAX_EVENTS 4 /* emit: event templates sent in turn */

typedef enum lg_scenario {
    LG_SCN_CONN,
    LG_SCN_HOLD,
    LG_SCN_FANOUT,
    LG_SCN_ECHO,
    LG_SCN_EMIT,
} lg_scenario;

typedef enum lg_transport {
    LG_TRANSPORT_WEBSOCKET,
    LG_TRANSPORT_POLLING,
} lg_transport;

/* Command-line options, read-only after parsing. */
typedef struct lg_opts {
    lg_scenario scenario;
    lg_transport transport;
    const char *host;
    uint16_t port;
    const char *label; /* server name printed in the RESULT line */
    uint32_t clients;  /* conn/hold/echo: clients; fanout: receivers (the sender is extra) */
    double duration_s; /* conn/hold: hold time; echo: send time; fanout: cap on send time */
    double rate;       /* echo: acked messages per second, all clients together */
    uint32_t messages; /* fanout: broadcasts to send */
    uint32_t window;   /* fanout: broadcasts in flight */
    uint32_t payload;  /* payload string length in bytes */
    uint32_t inflight; /* conn: handshakes in flight, all processes together */
    pid_t server_pid;  /* 0 = do not sample the server */
    /* a cluster: client i connects to ports[i % nports] (the fanout sender to ports[0]), and
     * every server_pids[] entry is sampled; port and server_pid are the first entries */
    uint16_t ports[LG_MAX_NODES];
    uint32_t nports;
    pid_t server_pids[LG_MAX_NODES];
    uint32_t npids;
    pid_t aux_pid;     /* another process to sample and report (the cluster's Redis) */
    double bcast_rate; /* fanout: broadcasts per second at most; 0 = only the window */
    char **auth;       /* CONNECT auth objects, client i sends auth[i % nauth] */
    uint32_t nauth;
    const char *setup_event; /* emit: event array sent once when ready ("%C": conversation) */
    const char *setup_reply; /* emit: event name that completes the setup event */
    bool setup_ack;          /* emit: the setup event asks for an ack, which completes it */
    const char *events[LG_MAX_EVENTS]; /* emit: event arrays sent in turn at --rate */
    uint32_t nevents;
    uint32_t group; /* emit: clients per conversation */
    uint32_t procs;
    uint32_t nsrc;
    uint32_t src[LG_MAX_SRC]; /* source IPv4 addresses, network order; 0 = kernel's choice */
    uint32_t dst;             /* server IPv4 address, network order */
    double timeout_s;         /* global deadline for the whole run */
    uint32_t nap_us;          /* run phase: sleep before each poll to read in batches */
} lg_opts;

/* A growable byte buffer; bytes [off, len) are pending. */
typedef struct lg_buf {
    char *data;
    size_t off;
    size_t len;
    size_t cap;
} lg_buf;

int lg_buf_reserve(lg_buf *b, size_t extra);
int lg_buf_append(lg_buf *b, const void *p, size_t n);
void lg_buf_consume(lg_buf *b, size_t n);
void lg_buf_compact(lg_buf *b);
void lg_buf_free(lg_buf *b);

typedef enum lg_conn_kind {
    LG_CONN_WS,        /* WebSocket transport: the only connection of the client */
    LG_CONN_POLL_GET,  /* polling: handshake and long-poll GETs */
    LG_CONN_POLL_POST, /* polling: POSTs of client packets */
} lg_conn_kind;

typedef enum lg_conn_state {
    LG_CS_CLOSED,
    LG_CS_CONNECTING, /* TCP connect in progress, request queued in out */
    LG_CS_HTTP_WAIT,  /* request sent, waiting for the response */
    LG_CS_HTTP_IDLE,  /* keep-alive connection with no request in flight */
    LG_CS_WS_OPEN,    /* 101 received, WebSocket frames flow */
} lg_conn_state;

typedef struct lg_client lg_client;

/* One TCP connection. Owned by its client; the fd is registered in the child's epoll set with
 * the conn pointer as data. */
typedef struct lg_conn {
    int fd;
    uint8_t kind;
    uint8_t state;
    uint8_t frag_op;        /* WebSocket: opcode of the unfinished fragmented message */
    bool out_armed;         /* EPOLLOUT requested */
    uint32_t gen;           /* bumped on every close, so a caller can tell its buffers were reset */
    uint64_t idle_since_ns; /* polling keep-alive: when the last response completed */
    lg_client *client;
    lg_buf in;
    lg_buf out;
    lg_buf frag; /* WebSocket: fragments of an unfinished message */
} lg_conn;

typedef enum lg_client_state {
    LG_CL_IDLE,       /* not started */
    LG_CL_CONNECTING, /* transport handshake or Engine.IO open pending */
    LG_CL_OPEN,       /* Engine.IO open received, "40" sent */
    LG_CL_READY,      /* Socket.IO namespace connected */
    LG_CL_FAILED,     /* never became ready */
    LG_CL_DROPPED,    /* was ready, then lost */
    LG_CL_CLOSED,     /* closed by us at the end */
} lg_client_state;

typedef struct lg_echo_slot {
    uint32_t id;
    uint64_t t_ns;
} lg_echo_slot;

struct lg_client {
    uint32_t idx;
    uint8_t state;
    bool is_sender;
    bool joined;
    bool got_end;     /* fanout: end marker received */
    bool post_busy;   /* polling: a POST is in flight */
    uint8_t node;     /* index into opts->ports */
    uint32_t gidx;    /* index among all processes' clients */
    uint32_t nsent;   /* emit: events sent, picks the next template */
    bool get_pending; /* polling: a long-poll GET is in flight */
    uint8_t sid_len;
    char sid[40];
    lg_conn main;      /* WebSocket, or the polling GET connection */
    lg_conn post;      /* polling POST connection (opened on first use) */
    lg_buf post_q;     /* polling: Engine.IO packets waiting for the next POST, 0x1e-separated */
    uint64_t next_seq; /* fanout: next expected sequence number */
    uint64_t delivered;
    uint64_t ooo;
    uint32_t next_ack; /* next ack id to use (0 is the join) */
    uint32_t acked;
    lg_echo_slot ring[LG_ECHO_RING];
};

/* What a child sends to the parent after each phase. Fixed layout, written in one go. */
typedef enum lg_report_kind {
    LG_REPORT_SETUP = 1,
    LG_REPORT_RUN = 2,
} lg_report_kind;

typedef struct lg_report {
    uint32_t kind;
    uint32_t child;
    uint64_t clients;
    uint64_t ready;
    uint64_t failed;
    uint64_t dropped;
    uint64_t t_first_ns; /* setup: first connect started; run: first broadcast/echo sent */
    uint64_t t_last_ns;  /* setup: last client ready; run: last delivery/ack received */
    uint64_t sent;       /* broadcasts or echoes sent (end marker excluded) */
    uint64_t acked;      /* echo acks received */
    uint64_t delivered;  /* fanout deliveries to receivers (sender excluded) */
    uint64_t receivers;
    uint64_t ooo;
    uint64_t skipped; /* echo: sends skipped because a client had too many outstanding */
    uint64_t rtt_max_us;
    uint64_t polls; /* polling: GET responses received by receivers (sender excluded) */
    uint64_t delivered_node[LG_MAX_NODES]; /* fanout: deliveries to the clients of each node */
    double cpu_s;                          /* this child's user+system CPU so far */
    char error[128];                       /* first fatal error, empty if none */
    uint32_t hist[LG_HIST_BUCKETS];
} lg_report;

/* Per-child state. */
typedef struct lg_ctx {
    const lg_opts *o;
    uint32_t child;
    uint32_t first; /* global index of this child's first client */
    uint32_t src;   /* source address for this child, network order, 0 = any */
    int epfd;
    int ctl_in;  /* parent -> child: 'G' go, 'S' stop */
    int ctl_out; /* child -> parent: reports */
    bool go;
    bool stop;
    bool running; /* run phase active */
    uint64_t deadline_ns;
    lg_client *clients;
    uint32_t nclients;
    uint32_t next_start;
    uint32_t inflight;
    uint32_t inflight_max;
    uint64_t rng;
    lg_report rep;
    char *payload; /* JSON-escaped-safe payload template, opts->payload bytes */
    /* fanout */
    lg_client *sender;
    uint64_t bcast_sent;
    uint64_t bcast_done;
    bool end_sent;
    bool sender_done;
    uint32_t ends_seen;
    uint32_t receivers_alive;
    uint64_t t_run_start;
    uint64_t t_last_msg;
    /* echo */
    double rate_here;
    uint64_t t_send_end;
    uint32_t rr;
    lg_buf scratch;
} lg_ctx;

/* util.c */
uint64_t lg_now_ns(void);
uint64_t lg_rand(uint64_t *state);
double lg_self_cpu_s(void);
int lg_proc_sample(pid_t pid, double *cpu_s, double *sys_s, long *rss_kib);
double lg_machine_busy_s(void);
void lg_hist_add(uint32_t *hist, uint64_t us);
uint64_t lg_hist_quantile(const uint32_t *hist, double q);
int lg_write_all(int fd, const void *p, size_t n);
int lg_read_all(int fd, void *p, size_t n);
void lg_fail(lg_ctx *ctx, const char *what);

/* net.c */
int lg_conn_open(lg_ctx *ctx, lg_conn *c);
void lg_conn_close(lg_ctx *ctx, lg_conn *c, bool abortive);
int lg_conn_flush(lg_ctx *ctx, lg_conn *c);
void lg_conn_down(lg_ctx *ctx, lg_conn *c, const char *why);
int lg_loop_once(lg_ctx *ctx, int timeout_ms);

/* ws.c */
int lg_ws_request(lg_ctx *ctx, lg_conn *c);
int lg_ws_send(lg_ctx *ctx, lg_conn *c, int opcode, const void *p, size_t n);
ssize_t lg_ws_on_data(lg_ctx *ctx, lg_conn *c, char *p, size_t n);

/* http.c */
int lg_poll_handshake(lg_ctx *ctx, lg_client *cl);
int lg_poll_get(lg_ctx *ctx, lg_client *cl);
int lg_poll_kick(lg_ctx *ctx, lg_client *cl);
ssize_t lg_http_on_data(lg_ctx *ctx, lg_conn *c, char *p, size_t n);

/* client.c */
int lg_client_start(lg_ctx *ctx, lg_client *cl);
int lg_client_send(lg_ctx *ctx, lg_client *cl, const char *pkt, size_t n);
void lg_client_on_eio(lg_ctx *ctx, lg_client *cl, char *p, size_t n);
void lg_client_lost(lg_ctx *ctx, lg_client *cl, const char *why);
void lg_client_close(lg_ctx *ctx, lg_client *cl);

/* scenario.c */
int lg_child_main(lg_ctx *ctx);
void lg_scn_on_ready(lg_ctx *ctx, lg_client *cl);
void lg_scn_on_ack(lg_ctx *ctx, lg_client *cl, uint32_t id, const char *p, size_t n);
void lg_scn_on_msg(lg_ctx *ctx, lg_client *cl, const char *p, size_t n);
void lg_scn_on_event(lg_ctx *ctx, lg_client *cl, const char *name, size_t n);
void lg_scn_on_down(lg_ctx *ctx, lg_client *cl, bool was_ready);

#endif

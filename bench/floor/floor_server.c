/*
 * sio-floor-server: the benchmarks' floor (bench/README.md). One thread, one epoll loop, just
 * enough WebSocket (RFC 6455), Engine.IO v4 and Socket.IO v5 text packets for the bench contract,
 * so a run shows what the kernel alone costs. A measuring stick, not a server for users: it never
 * pings, has no polling transport, no binary packets and no fragmented frames, and reads JSON
 * only as far as the contract's three events need.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include "../ws_frame.h"

#define MAX_FRAME 1000000u   /* the maxPayload the open packet announces; larger frames close */
#define MAX_REQUEST 8192u    /* HTTP upgrade request, headers included */
#define MAX_QUEUE (4u << 20) /* unsent bytes per connection before it is closed as too slow */
#define MAX_ROOMS_PER_CONN 64u
#define MAX_ROOM_NAME 256u
#define MAX_KEY 64u /* Sec-WebSocket-Key: 24 characters in practice */
#define READ_SIZE 65536u
#define ROOM_BUCKETS 4096u /* fixed: the bench uses one room */
#define MAX_EVENTS 1024
#define MAX_LOGGED 10 /* abnormal closes logged before going quiet */

/* A byte range that does not own its bytes. */
typedef struct slice {
    const char *p;
    size_t n;
} slice;

/* A growable buffer; bytes [off, len) are pending. Freed whenever it drains, so an idle
 * connection holds no buffer at all. */
typedef struct bytes {
    char *data;
    size_t off;
    size_t len;
    size_t cap;
} bytes;

typedef struct room room;
typedef struct conn conn;

/* One side of the two-way membership index: the room, and this connection's index in it. */
typedef struct membership {
    room *r;
    uint32_t idx;
} membership;

/* One accepted socket. Owned by the server (all list); freed only by reap(), after the event
 * batch in which conn_kill() marked it, so pointers held during a batch stay valid. */
struct conn {
    int fd;
    bool is_ws;     /* upgrade done: bytes in are WebSocket frames */
    bool joined_ns; /* Socket.IO "/" connected */
    bool out_armed; /* EPOLLOUT requested */
    bool dirty;     /* --batch-writes: on the dirty list */
    bool dead;      /* on the dead list, waiting for reap() */
    bytes in;       /* an unfinished request or frame */
    bytes out;      /* what the kernel did not take yet */
    membership *rooms;
    uint32_t nrooms;
    uint32_t caprooms;
    conn *prev;
    conn *next;
    conn *next_dead;
    conn *next_dirty;
};

/* Owned by the server's hash table; freed when its last member leaves. */
struct room {
    room *next;
    conn **members;
    uint32_t n;
    uint32_t cap;
    size_t name_len;
    char name[];
};

typedef struct server {
    int epfd;
    int lfd;
    int spare_fd;     /* given up to shed a connection when out of descriptors */
    bool batch;       /* --batch-writes */
    uint32_t id_salt; /* makes ids differ between runs */
    uint64_t next_id;
    unsigned logged;
    EVP_MD *sha1; /* fetched once: OpenSSL 3's SHA1() looks the algorithm up on every call */
    EVP_MD_CTX *md_ctx;
    conn *all;
    conn *dead;
    conn *dirty;
    room *buckets[ROOM_BUCKETS];
    bytes scratch; /* outgoing frames are built here, once per packet */
    char rbuf[READ_SIZE];
} server;

static volatile sig_atomic_t stopping;

/* ---- buffers ---------------------------------------------------------------------------- */

static int bytes_reserve(bytes *b, size_t extra, size_t limit)
{
    size_t used = b->len - b->off;
    if (used + extra > limit)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        if (used + extra <= b->cap)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 512;
    while (cap < used + extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

static int bytes_append(bytes *b, const void *p, size_t n, size_t limit)
{
    if (bytes_reserve(b, n, limit) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void bytes_free(bytes *b)
{
    free(b->data);
    *b = (bytes){0};
}

static void bytes_consume(bytes *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        bytes_free(b);
}

static bool slice_is(slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* ---- connections ------------------------------------------------------------------------ */

/* Marks c for closing; reap() frees it after the current event batch. why == NULL is an
 * ordinary close (peer went away) and is not logged. */
static void conn_kill(server *s, conn *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = true;
    c->next_dead = s->dead;
    s->dead = c;
    if (why && s->logged < MAX_LOGGED) {
        s->logged++;
        fprintf(stderr, "sio-floor-server: closing fd %d: %s\n", c->fd, why);
    }
}

static void conn_want_write(server *s, conn *c, bool on)
{
    if (c->out_armed == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        conn_kill(s, c, "epoll_ctl failed");
        return;
    }
    c->out_armed = on;
}

/* Writes what is queued. One write: if the kernel takes less, a second one would only see
 * EAGAIN, so wait for EPOLLOUT instead. */
static void conn_flush(server *s, conn *c)
{
    size_t pending = c->out.len - c->out.off;
    if (c->dead || pending == 0)
        return;
    ssize_t w = write(c->fd, c->out.data + c->out.off, pending);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            conn_want_write(s, c, true);
        else
            conn_kill(s, c, NULL);
        return;
    }
    bytes_consume(&c->out, (size_t)w);
    conn_want_write(s, c, (size_t)w < pending);
}

/* The floor's write discipline: one write() per frame, straight away, unless bytes are already
 * queued (then order requires queueing behind them, and EPOLLOUT sends them all in one write).
 * With --batch-writes every frame is queued and each socket written once per loop iteration. */
static void conn_send(server *s, conn *c, const void *p, size_t n)
{
    if (c->dead)
        return;
    const char *src = p;
    if (!s->batch && c->out.len == c->out.off) {
        ssize_t w = write(c->fd, src, n);
        if (w == (ssize_t)n)
            return;
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            conn_kill(s, c, NULL);
            return;
        }
        if (w > 0) {
            src += w;
            n -= (size_t)w;
        }
    }
    if (bytes_append(&c->out, src, n, MAX_QUEUE) < 0) {
        conn_kill(s, c, "slow consumer: send queue over 4 MB");
        return;
    }
    if (!s->batch) {
        conn_want_write(s, c, true);
    } else if (!c->dirty && !c->out_armed) {
        c->dirty = true;
        c->next_dirty = s->dirty;
        s->dirty = c;
    }
}

/* ---- rooms: room -> members and conn -> rooms, so join, leave and close are O(1) per room */

static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static room *room_find(server *s, slice name, bool create)
{
    room **head = &s->buckets[name_hash(name.p, name.n) % ROOM_BUCKETS];
    for (room *r = *head; r; r = r->next)
        if (r->name_len == name.n && memcmp(r->name, name.p, name.n) == 0)
            return r;
    if (!create)
        return NULL;
    room *r = calloc(1, sizeof(*r) + name.n);
    if (!r)
        return NULL;
    memcpy(r->name, name.p, name.n);
    r->name_len = name.n;
    r->next = *head;
    *head = r;
    return r;
}

static void room_free(server *s, room *r)
{
    room **pp = &s->buckets[name_hash(r->name, r->name_len) % ROOM_BUCKETS];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    free(r->members);
    free(r);
}

/* Returns arr with room for need elements (possibly moved), or NULL with arr untouched. */
static void *grow(void *arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    uint32_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(arr, (size_t)ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static int room_join(server *s, conn *c, slice name)
{
    for (uint32_t k = 0; k < c->nrooms; k++)
        if (c->rooms[k].r->name_len == name.n && !memcmp(c->rooms[k].r->name, name.p, name.n))
            return 0;
    if (c->nrooms >= MAX_ROOMS_PER_CONN || name.n > MAX_ROOM_NAME)
        return -1;
    membership *m = grow(c->rooms, &c->caprooms, c->nrooms + 1, sizeof(*c->rooms));
    if (!m)
        return -1;
    c->rooms = m;
    room *r = room_find(s, name, true);
    conn **members = r ? grow(r->members, &r->cap, r->n + 1, sizeof(*r->members)) : NULL;
    if (!members) {
        if (r && r->n == 0)
            room_free(s, r);
        return -1;
    }
    r->members = members;
    r->members[r->n] = c;
    c->rooms[c->nrooms++] = (membership){r, r->n++};
    return 0;
}

/* Removes c's k-th membership: the room's last member takes c's slot (its own index is fixed
 * up), and c's last membership takes slot k. */
static void room_leave_at(server *s, conn *c, uint32_t k)
{
    room *r = c->rooms[k].r;
    uint32_t idx = c->rooms[k].idx;
    conn *last = r->members[--r->n];
    if (last != c) {
        r->members[idx] = last;
        for (uint32_t j = 0; j < last->nrooms; j++)
            if (last->rooms[j].r == r)
                last->rooms[j].idx = idx;
    }
    c->rooms[k] = c->rooms[--c->nrooms];
    if (r->n == 0)
        room_free(s, r);
}

static void room_leave_all(server *s, conn *c)
{
    while (c->nrooms > 0)
        room_leave_at(s, c, c->nrooms - 1);
}

/* ---- frames ----------------------------------------------------------------------------- */

/* Appends one unmasked, final frame (RFC 6455 5.2) made of parts to the scratch buffer. */
static int scratch_frame(server *s, int opcode, const slice *parts, size_t nparts)
{
    size_t len = 0;
    for (size_t i = 0; i < nparts; i++)
        len += parts[i].n;
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    if (bytes_reserve(&s->scratch, hl + len, SIZE_MAX) < 0)
        return -1;
    memcpy(s->scratch.data + s->scratch.len, h, hl);
    s->scratch.len += hl;
    for (size_t i = 0; i < nparts; i++) {
        memcpy(s->scratch.data + s->scratch.len, parts[i].p, parts[i].n);
        s->scratch.len += parts[i].n;
    }
    return 0;
}

/* Builds one frame from parts and sends it to c. */
static void send_frame(server *s, conn *c, int opcode, const slice *parts, size_t nparts)
{
    s->scratch.off = s->scratch.len = 0;
    if (scratch_frame(s, opcode, parts, nparts) < 0) {
        conn_kill(s, c, "out of memory");
        return;
    }
    conn_send(s, c, s->scratch.data, s->scratch.len);
}

static void send_text(server *s, conn *c, const slice *parts, size_t nparts)
{
    send_frame(s, c, WS_OP_TEXT, parts, nparts);
}

/* A 20-character id, unique within the process. */
static void make_id(server *s, char out[21])
{
    snprintf(out, 21, "%08x%012llx", (unsigned)s->id_salt,
             (unsigned long long)(++s->next_id & 0xFFFFFFFFFFFFull));
}

/* ---- JSON: only enough to find where a value ends -------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Returns the end of the JSON value at p (no leading blanks), or NULL if it is cut short.
 * Brackets are counted, not matched: the payload is copied verbatim, never interpreted. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '[' || *p == '{') {
        size_t depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '[' || *p == '{')
                depth++;
            else if ((*p == ']' || *p == '}') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *q = p;
    while (q < end && !strchr(",]} \t\r\n", *q))
        q++;
    return q > p ? q : NULL;
}

/* Reads the next array element after p (p points after '[' when first, else at the ','). */
static const char *next_arg(const char *p, const char *end, bool first, slice *out)
{
    p = skip_ws(p, end);
    if (!first) {
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
    const char *e = skip_value(p, end);
    if (!e)
        return NULL;
    *out = (slice){p, (size_t)(e - p)};
    return e;
}

/* A JSON string's raw contents (escapes are left as they are: room names compare as bytes). */
static bool string_contents(slice v, slice *out)
{
    if (v.n < 2 || v.p[0] != '"')
        return false;
    *out = (slice){v.p + 1, v.n - 2};
    return true;
}

/* ---- Socket.IO: the bench contract ------------------------------------------------------ */

/* Sends 43<ack>[<arg>]: an ack with one argument. */
static void sio_ack(server *s, conn *c, uint32_t ack, slice arg)
{
    char head[16];
    int hn = snprintf(head, sizeof(head), "43%u[", (unsigned)ack);
    slice parts[3] = {{head, (size_t)hn}, arg, {"]", 1}};
    send_text(s, c, parts, 3);
}

/* bcast(room, payload): msg(payload) to every member but skip (NULL: none), encoded once. */
static void on_bcast(server *s, const char *p, const char *end, const conn *skip)
{
    slice rv, name, payload;
    if (!(p = next_arg(p, end, false, &rv)) || !string_contents(rv, &name) ||
        !next_arg(p, end, false, &payload))
        return;
    room *r = room_find(s, name, false);
    if (!r)
        return;
    static const char head[] = "42[\"msg\",";
    slice parts[3] = {{head, sizeof(head) - 1}, payload, {"]", 1}};
    s->scratch.off = s->scratch.len = 0;
    if (scratch_frame(s, WS_OP_TEXT, parts, 3) < 0)
        return;
    /* conn_send only marks failed members dead, so the member array does not change here */
    for (uint32_t i = 0; i < r->n; i++)
        if (r->members[i] != skip)
            conn_send(s, r->members[i], s->scratch.data, s->scratch.len);
}

/* p points after "2": [ack id] '[' "event" (, arg)* ']' */
static void on_event(server *s, conn *c, const char *p, const char *end)
{
    uint32_t ack = 0;
    bool has_ack = false;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (ack > 99999999u)
            return;
        ack = ack * 10 + (uint32_t)(*p - '0');
        has_ack = true;
    }
    slice ev, arg;
    if (p >= end || *p != '[' || !(p = next_arg(p + 1, end, true, &ev)))
        return;
    if (slice_is(ev, "\"bcast\"")) {
        on_bcast(s, p, end, NULL);
    } else if (slice_is(ev, "\"bcast_others\"")) {
        on_bcast(s, p, end, c); /* the floor of the gateway's typing row: the sender excepted */
    } else if (slice_is(ev, "\"join\"")) {
        slice name;
        if (!next_arg(p, end, false, &arg) || !string_contents(arg, &name))
            return;
        if (room_join(s, c, name) < 0) {
            conn_kill(s, c, "join refused: too many rooms, name too long or out of memory");
            return;
        }
        if (has_ack)
            sio_ack(s, c, ack, (slice){"\"ok\"", 4});
    } else if (slice_is(ev, "\"echo\"") && has_ack) {
        if (!next_arg(p, end, false, &arg))
            arg = (slice){"null", 4}; /* ack(undefined) as JSON.stringify writes it */
        sio_ack(s, c, ack, arg);
    }
}

/* p is a Socket.IO packet (docs/protocol.md §2.1) without the Engine.IO "4". Only namespace "/". */
static void on_sio(server *s, conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (n > 1 && p[1] == '/') {
        if (p[0] == '0') {
            /* another namespace: refuse it the way socket.io does */
            const char *comma = memchr(p, ',', n);
            size_t nl = comma ? (size_t)(comma - p) + 1 : n;
            static const char err[] = "{\"message\":\"Invalid namespace\"}";
            slice parts[4] = {{"44", 2},
                              {p + 1, nl - 1},
                              {comma ? "" : ",", comma ? 0u : 1u},
                              {err, sizeof(err) - 1}};
            send_text(s, c, parts, 4);
        }
        return;
    }
    switch (p[0]) {
    case '0': {
        char id[21];
        make_id(s, id);
        c->joined_ns = true;
        slice parts[3] = {{"40{\"sid\":\"", 10}, {id, 20}, {"\"}", 2}};
        send_text(s, c, parts, 3);
        break;
    }
    case '1':
        c->joined_ns = false;
        room_leave_all(s, c);
        break;
    case '2':
        if (c->joined_ns)
            on_event(s, c, p + 1, p + n);
        break;
    default: /* acks from clients, binary packets: unused by the bench */
        break;
    }
}

/* One Engine.IO packet (docs/protocol.md §1.5). The floor never pings, so it sees no pongs to
 * check. */
static void on_eio(server *s, conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    switch (p[0]) {
    case '1':
        conn_kill(s, c, NULL);
        break;
    case '2': { /* an EIO v3 habit; harmless to answer */
        slice parts[2] = {{"3", 1}, {p + 1, n - 1}};
        send_text(s, c, parts, 2);
        break;
    }
    case '4':
        on_sio(s, c, p + 1, n - 1);
        break;
    default: /* 3 pong, 5 upgrade, 6 noop */
        break;
    }
}

/* ---- WebSocket -------------------------------------------------------------------------- */

static void ws_frame(server *s, conn *c, int op, char *p, size_t n)
{
    switch (op) {
    case WS_OP_TEXT:
        on_eio(s, c, p, n);
        break;
    case WS_OP_BINARY: /* attachments: the bench sends none */
    case WS_OP_PONG:
        break;
    case WS_OP_PING: {
        slice part = {p, n};
        send_frame(s, c, WS_OP_PONG, &part, 1);
        break;
    }
    case WS_OP_CLOSE: {
        /* echo the status code (RFC 6455 5.5.1), push it out, then close */
        slice part = {p, n < 2 ? 0 : 2};
        send_frame(s, c, WS_OP_CLOSE, &part, 1);
        conn_flush(s, c);
        conn_kill(s, c, NULL);
        break;
    }
    default:
        conn_kill(s, c, "unknown websocket opcode");
        break;
    }
}

/* Handles every complete frame in p (RFC 6455 5.2); returns the bytes used. Payloads are
 * unmasked in place, so p must be writable. */
static size_t ws_consume(server *s, conn *c, char *p, size_t n)
{
    size_t off = 0;
    while (!c->dead && n - off >= 2) {
        const uint8_t *h = (const uint8_t *)p + off;
        int op = h[0] & 0x0F;
        if ((h[0] & 0xF0) != 0x80 || !(h[1] & 0x80)) {
            /* RSV bits, FIN = 0 (fragments) and unmasked client frames are all refused */
            conn_kill(s, c, "unsupported websocket frame (fragmented, unmasked or RSV set)");
            break;
        }
        uint64_t len;
        size_t hl = bench_ws_length(h, n - off, &len);
        if (!hl)
            break;
        if (len > MAX_FRAME || (op >= WS_OP_CLOSE && len > 125)) {
            conn_kill(s, c, "websocket frame too large");
            break;
        }
        if (n - off < hl + 4 + len)
            break;
        const uint8_t *mask = h + hl;
        char *pl = p + off + hl + 4;
        for (size_t i = 0; i < len; i++)
            pl[i] = (char)(pl[i] ^ mask[i & 3]);
        off += hl + 4 + (size_t)len;
        ws_frame(s, c, op, pl, (size_t)len);
    }
    return off;
}

/* ---- HTTP upgrade ----------------------------------------------------------------------- */

static void http_reject(server *s, conn *c, const char *status)
{
    char resp[160];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    conn_send(s, c, resp, (size_t)n);
    conn_flush(s, c);
    conn_kill(s, c, NULL);
}

/* True if the query string q has the parameter exactly equal to kv ("EIO=4"). */
static bool query_has(slice q, const char *kv)
{
    size_t kn = strlen(kv);
    const char *p = q.p, *end = q.p + q.n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) == kn && memcmp(p, kv, kn) == 0)
            return true;
        p = e + 1;
    }
    return false;
}

/* "GET /socket.io/?...EIO=4...transport=websocket... HTTP/1.1" */
static bool request_line_ok(const char *p, const char *eol)
{
    static const char pre[] = "GET /socket.io/?";
    size_t pn = sizeof(pre) - 1;
    if ((size_t)(eol - p) < pn || memcmp(p, pre, pn) != 0)
        return false;
    const char *q = p + pn;
    const char *sp = memchr(q, ' ', (size_t)(eol - q));
    if (!sp)
        return false;
    slice query = {q, (size_t)(sp - q)};
    return query_has(query, "EIO=4") && query_has(query, "transport=websocket");
}

/* Picks Upgrade and Sec-WebSocket-Key out of the header lines in [p, end). */
static void read_headers(const char *p, const char *end, slice *key, bool *upgrade)
{
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            slice name = {p, (size_t)(colon - p)};
            const char *v = skip_ws(colon + 1, eol);
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (name.n == 17 && !strncasecmp(name.p, "Sec-WebSocket-Key", 17))
                *key = (slice){v, (size_t)(ve - v)};
            else if (name.n == 7 && !strncasecmp(name.p, "Upgrade", 7))
                *upgrade = ve - v == 9 && !strncasecmp(v, "websocket", 9);
        }
        p = eol + 2;
    }
}

/* Answers the request in p[0, n) (n covers the blank line): 101 plus the Engine.IO open packet
 * in one write, or 400 and close. */
static void http_upgrade(server *s, conn *c, const char *p, size_t n)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const char *eol = memmem(p, n, "\r\n", 2);
    slice key = {NULL, 0};
    bool upgrade = false;
    read_headers(eol + 2, p + n - 2, &key, &upgrade);
    if (!request_line_ok(p, eol) || !upgrade || key.n == 0 || key.n > MAX_KEY) {
        http_reject(s, c, "400 Bad Request");
        return;
    }
    char kg[MAX_KEY + sizeof(guid)];
    memcpy(kg, key.p, key.n);
    memcpy(kg + key.n, guid, sizeof(guid) - 1);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    if (!EVP_DigestInit_ex(s->md_ctx, s->sha1, NULL) ||
        !EVP_DigestUpdate(s->md_ctx, kg, key.n + sizeof(guid) - 1) ||
        !EVP_DigestFinal_ex(s->md_ctx, digest, &dn) || dn != 20) {
        http_reject(s, c, "500 Internal Server Error");
        return;
    }
    char accept[32];
    bench_base64(digest, dn, accept);

    char head[192], id[21], open[160];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      accept);
    make_id(s, id);
    int on = snprintf(open, sizeof(open),
                      "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":25000,"
                      "\"pingTimeout\":20000,\"maxPayload\":%u}",
                      id, MAX_FRAME);
    slice part = {open, (size_t)on};
    s->scratch.off = 0;
    s->scratch.len = 0;
    if (bytes_append(&s->scratch, head, (size_t)hn, SIZE_MAX) < 0 ||
        scratch_frame(s, WS_OP_TEXT, &part, 1) < 0) {
        conn_kill(s, c, "out of memory");
        return;
    }
    c->is_ws = true;
    conn_send(s, c, s->scratch.data, s->scratch.len);
}

/* Handles what p holds (the request, then frames); returns the bytes used. */
static size_t conn_consume(server *s, conn *c, char *p, size_t n)
{
    size_t used = 0;
    if (!c->is_ws) {
        const char *end = memmem(p, n, "\r\n\r\n", 4);
        if (!end || (size_t)(end - p) + 4 > MAX_REQUEST) {
            if (n > MAX_REQUEST)
                http_reject(s, c, "431 Request Header Fields Too Large");
            return 0;
        }
        used = (size_t)(end - p) + 4;
        http_upgrade(s, c, p, used);
        if (c->dead)
            return used;
    }
    return used + ws_consume(s, c, p + used, n - used);
}

/* Reads into the shared buffer and parses there; only an unfinished request or frame is copied
 * into the connection's own buffer, to be completed by later reads. */
static void conn_on_readable(server *s, conn *c)
{
    ssize_t r = read(c->fd, s->rbuf, sizeof(s->rbuf));
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            conn_kill(s, c, NULL);
        return;
    }
    const size_t limit = MAX_FRAME + 14 + READ_SIZE;
    char *p = s->rbuf;
    size_t n = (size_t)r;
    bool held = c->in.len > c->in.off;
    if (held) {
        if (bytes_append(&c->in, p, n, limit) < 0) {
            conn_kill(s, c, "input over the frame limit");
            return;
        }
        p = c->in.data + c->in.off;
        n = c->in.len - c->in.off;
    }
    size_t used = conn_consume(s, c, p, n);
    if (c->dead)
        return;
    if (held)
        bytes_consume(&c->in, used);
    else if (used < n && bytes_append(&c->in, p + used, n - used, limit) < 0)
        conn_kill(s, c, "out of memory");
}

static void conn_free(server *s, conn *c)
{
    room_leave_all(s, c);
    close(c->fd);
    bytes_free(&c->in);
    bytes_free(&c->out);
    free(c->rooms);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void reap(server *s)
{
    while (s->dead) {
        conn *c = s->dead;
        s->dead = c->next_dead;
        conn_free(s, c);
    }
}

static void flush_dirty(server *s)
{
    while (s->dirty) {
        conn *c = s->dirty;
        s->dirty = c->next_dirty;
        c->dirty = false;
        conn_flush(s, c);
    }
}

/* ---- listener --------------------------------------------------------------------------- */

/* Out of descriptors: take one connection off the backlog and close it, or the level-triggered
 * listener would report it forever. */
static void accept_shed(server *s)
{
    if (s->spare_fd < 0)
        return;
    close(s->spare_fd);
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->logged++ < MAX_LOGGED)
        fprintf(stderr, "sio-floor-server: out of file descriptors, shedding a connection\n");
}

static void accept_all(server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                accept_shed(s);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = calloc(1, sizeof(*c));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->next = s->all;
        if (s->all)
            s->all->prev = c;
        s->all = c;
    }
}

static int listen_on(server *s, const char *host, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "sio-floor-server: bad --host '%s'\n", host);
        return -1;
    }
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->lfd, 4096) < 0) {
        perror("sio-floor-server: listen");
        return -1;
    }
    socklen_t sl = sizeof(sa);
    getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
        perror("sio-floor-server: epoll_ctl");
        return -1;
    }
    printf("listening on %s:%u\n", host, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void run(server *s, const sigset_t *waitmask)
{
    static struct epoll_event evs[MAX_EVENTS];
    while (!stopping) {
        /* SIGTERM/SIGINT are blocked except inside epoll_pwait: no lost wake-up */
        int n = epoll_pwait(s->epfd, evs, MAX_EVENTS, -1, waitmask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("sio-floor-server: epoll_pwait");
            return;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all(s);
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                conn_kill(s, c, NULL);
            else if (evs[i].events & EPOLLIN)
                conn_on_readable(s, c);
            if (evs[i].events & EPOLLOUT)
                conn_flush(s, c);
        }
        flush_dirty(s);
        reap(s);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: sio-floor-server [--port N] [--host IPV4] [--batch-writes]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static server s;
    const char *host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535)
                usage();
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
        } else if (!strcmp(argv[i], "--batch-writes")) {
            s.batch = true;
        } else {
            usage();
        }
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    s.id_salt = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
    s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s.epfd = epoll_create1(EPOLL_CLOEXEC);
    /* fetching also loads OpenSSL's provider (about 1 MB): done before the first connect, so
     * the bench's RSS-per-connection figure does not bill it to the clients */
    s.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    s.md_ctx = EVP_MD_CTX_new();
    if (!s.sha1 || !s.md_ctx) {
        fprintf(stderr, "sio-floor-server: no SHA-1 in libcrypto\n");
        return 1;
    }
    if (s.epfd < 0 || listen_on(&s, host, (uint16_t)port) < 0)
        return 1;
    run(&s, &waitmask);

    for (conn *c = s.all; c; c = c->next)
        conn_kill(&s, c, NULL);
    reap(&s);
    bytes_free(&s.scratch);
    EVP_MD_CTX_free(s.md_ctx);
    EVP_MD_free(s.sha1);
    close(s.lfd);
    close(s.epfd);
    if (s.spare_fd >= 0)
        close(s.spare_fd);
    return 0;
}

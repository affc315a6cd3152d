/*
 * Codec for cluster messages exchanged through Redis: @socket.io/redis-adapter 8.3 classic
 * (docs/protocol-adapter.md §2) and sharded (§4) messages, @socket.io/redis-emitter 5.x variants
 * (§2.5) and python-socketio pub/sub messages (§5). Decoding yields plain structs whose slices
 * borrow the input; encoding reproduces Node's bytes. Sans-I/O: libc only, no logging.
 */
#ifndef SIO_ADAPTER_MSG_H
#define SIO_ADAPTER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "msgpack.h"

/** Decoder limits; fill with sio_adapter_limits_init() and then override. */
typedef struct sio_adapter_limits {
    size_t max_bytes;       /* default 16 MiB per message (SIO_ELIMIT beyond) */
    unsigned max_depth;     /* default 32 nesting levels, JSON and msgpack alike */
    size_t max_elements;    /* default 1 Mi msgpack values per message */
    size_t max_list;        /* default 65536 entries per decoded list (rooms, sockets, ...) */
    size_t max_attachments; /* default 256 binary values per converted payload */
} sio_adapter_limits;

/** Sets the defaults above. */
void sio_adapter_limits_init(sio_adapter_limits *l);

/** Encoding of a message or of one embedded value. */
typedef enum sio_adapter_fmt {
    SIO_ADAPTER_FMT_AUTO = 0, /* encoders only: pick what Node would (see sio_adapter_msg_encode) */
    SIO_ADAPTER_FMT_JSON,
    SIO_ADAPTER_FMT_MSGPACK
} sio_adapter_fmt;

/** One binary attachment: a slice of a decoded message, or caller bytes when encoding. */
typedef struct sio_adapter_bin {
    const uint8_t *p;
    size_t n;
} sio_adapter_bin;

/**
 * An arbitrary payload value (event arguments, ack argument, socket data, handshake) kept in its
 * wire encoding: JSON text or one msgpack value. p == NULL means absent. When encoding a JSON
 * value into msgpack, objects {"_placeholder":true,"num":i} become bin att[i] if natt > 0
 * (docs/protocol-adapter.md §3.4); decoders leave att NULL.
 */
typedef struct sio_adapter_value {
    sio_adapter_fmt fmt;
    const uint8_t *p;
    size_t n;
    const sio_adapter_bin *att;
    size_t natt;
} sio_adapter_value;

/** A string as plain UTF-8 bytes (JSON escapes already decoded). p == NULL means absent. */
typedef struct sio_adapter_str {
    const char *p;
    size_t n;
} sio_adapter_str;

/** A list of strings (rooms, socket ids). present is false when the member was missing. */
typedef struct sio_adapter_strs {
    sio_adapter_str *v;
    size_t n;
    bool present;
} sio_adapter_strs;

/** Broadcast flags known to socket.io 4.8 (§2.3). */
typedef enum sio_adapter_flag {
    SIO_ADAPTER_FLAG_VOLATILE = 0,
    SIO_ADAPTER_FLAG_COMPRESS,
    SIO_ADAPTER_FLAG_LOCAL,
    SIO_ADAPTER_FLAG_BROADCAST,
    SIO_ADAPTER_FLAG_TIMEOUT,
    SIO_ADAPTER_FLAG_EXPECT_SINGLE_RESPONSE,
    SIO_ADAPTER_NFLAGS
} sio_adapter_flag;

/**
 * opts.flags. order lists the flags present, in wire order (JS keeps insertion order, and the
 * encoder writes them back in it); the value of a boolean flag is bit (1 << flag) of values and
 * timeout holds the timeout in ms. Unknown flags are skipped.
 */
typedef struct sio_adapter_flags {
    bool present;
    uint8_t count;
    uint8_t order[SIO_ADAPTER_NFLAGS];
    unsigned values;
    uint64_t timeout;
} sio_adapter_flags;

/** True when flag f was present (in which case sio_adapter_flag_on tells a boolean's value). */
bool sio_adapter_flags_has(const sio_adapter_flags *f, sio_adapter_flag flag);
/** True when flag f was present and true (for timeout: present). */
bool sio_adapter_flag_on(const sio_adapter_flags *f, sio_adapter_flag flag);
/** Appends flag f (boolean value v, or timeout ms v) to f->order; replaces it if present. */
void sio_adapter_flags_set(sio_adapter_flags *f, sio_adapter_flag flag, uint64_t v);

/** Broadcast options {rooms, except, flags} (§2.3). except is absent in emitter 3.x messages. */
typedef struct sio_adapter_opts {
    bool present;
    sio_adapter_strs rooms;
    sio_adapter_strs except;
    sio_adapter_flags flags;
} sio_adapter_opts;

/**
 * A Socket.IO packet object {type, data, nsp?, id?} (§2.3). attachments counts the binary values
 * inside data (msgpack bin, or legacy ext type 0); when non-zero the receiver must send a
 * BINARY_EVENT and sio_adapter_value_to_json() yields the placeholders and attachment slices.
 */
typedef struct sio_adapter_packet {
    bool present;
    int type;
    sio_adapter_value data;
    sio_adapter_str nsp; /* absent in sharded messages and old emitters: means "/" */
    int64_t id;          /* -1 when absent */
    unsigned attachments;
} sio_adapter_packet;

/** One entry of a fetchSockets response (§2.4 type 5, §4 type 8). */
typedef struct sio_adapter_socket {
    sio_adapter_str id;
    sio_adapter_value handshake;
    sio_adapter_strs rooms;
    sio_adapter_value data;
} sio_adapter_socket;

/** Which channel family a message belongs to; selects the decoder's grammar. */
typedef enum sio_adapter_kind {
    SIO_ADAPTER_BROADCAST = 1, /* classic socket.io#<nsp>#[<room>#]: msgpack [uid, packet, opts] */
    SIO_ADAPTER_REQUEST,       /* classic socket.io-request#<nsp>#: JSON, or msgpack for type 7 */
    SIO_ADAPTER_RESPONSE,      /* classic socket.io-response#<nsp>#[<uid>#] */
    SIO_ADAPTER_CLUSTER        /* sharded socket.io#<nsp>#...: {type, data, uid, nsp} */
} sio_adapter_kind;

/** Classic request/response types (§2.4). */
enum {
    SIO_ADAPTER_REQ_SOCKETS = 0,
    SIO_ADAPTER_REQ_ALL_ROOMS = 1,
    SIO_ADAPTER_REQ_REMOTE_JOIN = 2,
    SIO_ADAPTER_REQ_REMOTE_LEAVE = 3,
    SIO_ADAPTER_REQ_REMOTE_DISCONNECT = 4,
    SIO_ADAPTER_REQ_REMOTE_FETCH = 5,
    SIO_ADAPTER_REQ_SERVER_SIDE_EMIT = 6,
    SIO_ADAPTER_REQ_BROADCAST = 7,
    SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT = 8,
    SIO_ADAPTER_REQ_BROADCAST_ACK = 9
};

/** Sharded (ClusterAdapter) message types (§4.2). */
enum {
    SIO_ADAPTER_CL_INITIAL_HEARTBEAT = 1,
    SIO_ADAPTER_CL_HEARTBEAT = 2,
    SIO_ADAPTER_CL_BROADCAST = 3,
    SIO_ADAPTER_CL_SOCKETS_JOIN = 4,
    SIO_ADAPTER_CL_SOCKETS_LEAVE = 5,
    SIO_ADAPTER_CL_DISCONNECT_SOCKETS = 6,
    SIO_ADAPTER_CL_FETCH_SOCKETS = 7,
    SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE = 8,
    SIO_ADAPTER_CL_SERVER_SIDE_EMIT = 9,
    SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE = 10,
    SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT = 11,
    SIO_ADAPTER_CL_BROADCAST_ACK = 12,
    SIO_ADAPTER_CL_ADAPTER_CLOSE = 13
};

/**
 * A decoded (or to-be-encoded) cluster message: the union of every field any kind uses; absent
 * strings and values have p == NULL. Which fields a type uses is tabled in
 * docs/protocol-adapter.md §2.4 and §4.2. Owner: a decoded message owns the arrays and unescaped
 * strings it points to (free with sio_adapter_msg_deinit()); every other slice borrows the
 * decoded input. A message built by hand for encoding owns nothing; only its fields are read.
 */
typedef struct sio_adapter_msg {
    sio_adapter_kind kind;
    sio_adapter_fmt fmt; /* wire format it came in, or the one to encode (AUTO: Node's choice) */
    int type;            /* request/cluster type; -1 for classic broadcasts and untyped responses */
    sio_adapter_str uid;
    sio_adapter_str nsp;        /* cluster messages only */
    sio_adapter_str request_id; /* classic 6-char / sharded 16-hex ids */
    sio_adapter_packet packet;  /* broadcasts: classic [1], request 7, cluster 3 */
    sio_adapter_opts opts;      /* broadcasts, join/leave/disconnect/fetch */
    sio_adapter_strs rooms;     /* join/leave target rooms; SOCKETS request; ALL_ROOMS response */
    int close;                  /* disconnect: -1 absent, 0 or 1 */
    sio_adapter_value data;     /* server-side emit args/ack, broadcast ack arg (see §2.4/§4.2) */
    int64_t client_count;       /* BROADCAST_CLIENT_COUNT; -1 absent */
    sio_adapter_socket *sockets; /* fetch response entries */
    size_t nsockets;
    bool has_sockets;            /* a sockets member was present (objects or ids) */
    sio_adapter_strs socket_ids; /* SOCKETS (type 0) response: sockets as plain ids */
    sio_adapter_str sid;         /* legacy single-socket join/leave/disconnect (adapter <= 7) */
    sio_adapter_str room;
    void *arena_; /* private: owned allocations */
} sio_adapter_msg;

/** Zeroes m and sets every "absent" marker (type, close, client_count, packet.id = -1). */
void sio_adapter_msg_init(sio_adapter_msg *m, sio_adapter_kind kind);

/** Frees what a decode allocated; m is then as after sio_adapter_msg_init(). Idempotent. */
void sio_adapter_msg_deinit(sio_adapter_msg *m);

/**
 * Decodes one payload received on a channel of family kind. Requests, responses and cluster
 * messages starting with '{' are JSON, anything else msgpack (as Node decides); classic
 * broadcasts are always msgpack. Keys may come in any order and unknown keys are ignored; the
 * last of duplicate keys wins (JSON.parse and notepack alike). Emitter variants are accepted:
 * uid "emitter", missing or nil; missing rooms/except/flags; a packet without nsp.
 * Borrows p (the message's slices point into it); lim may be NULL. Returns 0 and fills *m, or
 * SIO_EPROTO / SIO_ELIMIT / SIO_ENOMEM with *reason (if not NULL) set to a static string; m is
 * then deinitialised (nothing to free). Call sio_adapter_msg_deinit() after a success.
 */
int sio_adapter_msg_decode(sio_adapter_kind kind, const uint8_t *p, size_t n,
                           const sio_adapter_limits *lim, sio_adapter_msg *m, const char **reason);

/**
 * Appends the wire form of m to out, in the key order Node's adapter 8.3 uses (§2.3, §2.4, §4.2).
 * Format: classic broadcasts and request 7 / response 9 are msgpack, other classic messages
 * JSON; cluster messages JSON unless m->fmt says MSGPACK, or it is AUTO and a payload carries
 * binary (msgpack values with attachments or JSON values with natt > 0). Values are copied when
 * their format matches, else converted (a msgpack value holding binary cannot become JSON:
 * SIO_EINVAL). Borrows m. Returns 0, SIO_EINVAL (type unknown for the kind, required field
 * missing), or out's sticky error; *reason set on error.
 */
int sio_adapter_msg_encode(const sio_adapter_msg *m, sio_mp_buf *out, const char **reason);

/**
 * Writes value v as JSON text to out. JSON values are copied. msgpack values are converted the
 * way Node would print what notepack decoded: bin (and legacy ext type 0) become
 * {"_placeholder":true,"num":N} with the slice appended to att[] (caller storage of cap entries,
 * *natt counts them; more than cap or lim->max_attachments gives SIO_ELIMIT), nil and legacy
 * undefined become null (undefined members are dropped), numbers are printed like JS
 * Number#toString (NaN/Infinity as null), timestamps (ext -1) as ISO-8601 strings like
 * Date#toJSON, other ext types as [type, <binary>]; map keys must be strings or scalars. Borrows
 * v; slices in att point into v. Returns 0, SIO_EPROTO, SIO_ELIMIT or out's error; *reason set.
 */
int sio_adapter_value_to_json(const sio_adapter_value *v, const sio_adapter_limits *lim,
                              sio_mp_buf *out, sio_adapter_bin *att, size_t cap, size_t *natt,
                              const char **reason);

/**
 * Writes value v as one msgpack value to out: msgpack values are copied; JSON is converted with
 * notepack's rules (sio_mp_write_number for numbers) and, when v->natt > 0, placeholder objects
 * replaced by bin v->att[num] (a num out of range is SIO_EPROTO, as socket.io-parser rejects it).
 * Borrows v. Returns 0, SIO_EPROTO, SIO_ELIMIT or out's error; *reason set.
 */
int sio_adapter_value_to_msgpack(const sio_adapter_value *v, const sio_adapter_limits *lim,
                                 sio_mp_buf *out, const char **reason);

/* ---- python-socketio pub/sub messages (docs/protocol-adapter.md §5) ---- */

typedef enum sio_py_method {
    SIO_PY_EMIT = 1,
    SIO_PY_DISCONNECT,
    SIO_PY_ENTER_ROOM,
    SIO_PY_LEAVE_ROOM,
    SIO_PY_CLOSE_ROOM,
    SIO_PY_CALLBACK
} sio_py_method;

/**
 * One python-socketio message. room and skip_sid may each be null, one string or a list: both
 * forms land in the strs (present = false for null/absent). data and args are JSON slices of the
 * input. Ownership as for sio_adapter_msg; free with sio_py_msg_deinit().
 */
typedef struct sio_py_msg {
    sio_py_method method;
    sio_adapter_str event;
    sio_adapter_str nsp; /* "namespace"; absent means "/" */
    sio_adapter_str sid;
    sio_adapter_str host_id;
    sio_adapter_strs room;
    sio_adapter_strs skip_sid;
    sio_adapter_value data; /* emit: list of args (>= 5.14.2), or the raw value before */
    int binary;             /* emit: -1 absent, 0, 1 (data ends with base64 attachments) */
    bool has_callback;      /* emit: callback = [room, namespace, id] */
    sio_adapter_str cb_room;
    sio_adapter_str cb_nsp;
    int64_t cb_id;
    int64_t id;             /* callback: ack id, -1 absent */
    sio_adapter_value args; /* callback: ack args */
    void *arena_;
} sio_py_msg;

/**
 * Decodes a python-socketio message (JSON object with a known "method"). A payload starting with
 * 0x80, the pickle protocol marker (publishers <= 5.13), fails with SIO_EUNSUPPORTED so the
 * caller can log and drop it; other malformed input SIO_EPROTO / SIO_ELIMIT. Borrows p; returns
 * 0 (free with sio_py_msg_deinit()) or an error with *reason set.
 */
int sio_py_msg_decode(const uint8_t *p, size_t n, const sio_adapter_limits *lim, sio_py_msg *m,
                      const char **reason);

/** Frees what sio_py_msg_decode() allocated. Idempotent. */
void sio_py_msg_deinit(sio_py_msg *m);

/**
 * Appends m as compact JSON with python-socketio's member order (docs/protocol-adapter.md §5.3):
 * a room or skip_sid list of one entry is written as a plain string, an absent one as null;
 * data and args are copied (msgpack values are converted, binary is SIO_ELIMIT). Python's
 * json.loads accepts it from any publisher version. Borrows m. Returns 0, SIO_EINVAL (unknown
 * method) or an error from the conversion or out; *reason set.
 */
int sio_py_msg_encode(const sio_py_msg *m, sio_mp_buf *out, const char **reason);

#endif

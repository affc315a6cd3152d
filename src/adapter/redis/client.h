/*
 * Redis client layer of the Redis adapter: URL parsing, one connection (sio_redis: commands,
 * pub/sub, reconnect) and a slot-routing front end (sio_redis_cluster) that is a "cluster of one"
 * for a plain server. Our own libevent connections; hiredis is used only as a RESP2 reader and
 * command formatter (its async API cannot do sharded pub/sub, see docs/architecture.md).
 * Everything runs on the loop thread of the event_base given at creation; nothing blocks.
 */
#ifndef SIO_ADAPTER_REDIS_CLIENT_H
#define SIO_ADAPTER_REDIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct evdns_base;

/* ---- URLs ----------------------------------------------------------------------------------- */

#define SIO_REDIS_HOST_MAX 255
#define SIO_REDIS_CRED_MAX 255

/** A parsed Redis URL. Strings are NUL-terminated and percent-decoded; empty when absent. */
typedef struct sio_redis_url {
    int tls;                           /* rediss:// */
    int is_unix;                       /* unix:///path: host holds the socket path */
    char host[SIO_REDIS_HOST_MAX + 1]; /* host name, IPv4 or IPv6 (no brackets), or path */
    uint16_t port;                     /* 6379 when absent; 0 for unix sockets */
    char user[SIO_REDIS_CRED_MAX + 1];
    char password[SIO_REDIS_CRED_MAX + 1];
    int has_password; /* a password was given (it may be empty) */
    int db;           /* 0 when absent */
} sio_redis_url;

/**
 * Parses redis://[user[:password]@]host[:port][/db], rediss://... (TLS) and
 * unix://[user[:password]@]/path[?db=N]. IPv6 hosts are bracketed ([::1]:6379). A lone
 * "redis://:pw@host" gives a password without user (AUTH pw). Pure: no I/O, no allocation.
 * Borrows url (NUL-terminated); fills *out. Returns 0, or SIO_EINVAL with *reason set to a static
 * string (reason may be NULL).
 */
int sio_redis_url_parse(const char *url, sio_redis_url *out, const char **reason);

/* ---- key slots (Redis Cluster) -------------------------------------------------------------- */

#define SIO_REDIS_SLOTS 16384

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum of Redis Cluster. */
uint16_t sio_redis_crc16(const void *buf, size_t len);
/** The cluster slot of a key: CRC16 of the key, or of its hash tag (the bytes between the first
 *  '{' and the first '}' after it, when not empty), mod 16384. */
unsigned sio_redis_key_slot(const void *key, size_t len);

/* ---- replies -------------------------------------------------------------------------------- */

enum sio_redis_reply_type {
    SIO_REDIS_REPLY_STRING = 1, /* bulk string: str/len, binary safe */
    SIO_REDIS_REPLY_ARRAY,      /* element[0..elements) */
    SIO_REDIS_REPLY_INTEGER,    /* integer */
    SIO_REDIS_REPLY_NIL,        /* nil bulk or nil array */
    SIO_REDIS_REPLY_STATUS,     /* +OK: str/len */
    SIO_REDIS_REPLY_ERROR,      /* -ERR ...: str/len; a reply, not a failed call */
};

/** A RESP2 reply, our own tree (built by the hiredis reader through our object functions, so
 *  array sizes are bounded before allocating). str is NUL-terminated after len bytes. */
typedef struct sio_redis_reply {
    int type;
    long long integer;
    size_t len;
    char *str;
    size_t elements;
    struct sio_redis_reply **element;
} sio_redis_reply;

/** True when reply is an ERROR whose text starts with prefix (e.g. "MOVED", "WRONGPASS"). */
int sio_redis_reply_is_error(const sio_redis_reply *reply, const char *prefix);

/* ---- one connection ------------------------------------------------------------------------- */

typedef struct sio_redis sio_redis;

/**
 * The result of one command. status is 0 with reply (borrowed, valid until the callback returns;
 * a Redis error is status 0 with an ERROR reply), or a negative code with reply NULL:
 * SIO_ECLOSED (the connection dropped before the reply, or sio_redis_free), SIO_ETIMEDOUT
 * (command_timeout_ms passed; a late reply is discarded). Runs exactly once for every call that
 * returned 0, never for one that returned an error; never from inside the call that queued it
 * nor from inside sio_redis_free.
 */
typedef void (*sio_redis_reply_cb)(sio_redis *r, int status, const sio_redis_reply *reply,
                                   void *user);

/** Subscription kinds: classic channel, classic pattern, sharded channel (Redis 7). */
enum sio_redis_sub_kind { SIO_REDIS_SUBSCRIBE = 0, SIO_REDIS_PSUBSCRIBE, SIO_REDIS_SSUBSCRIBE };

/** A published message: message (pattern NULL), pmessage or smessage. All bytes borrowed for the
 *  call; lengths travel with them (payloads are binary). */
typedef void (*sio_redis_message_cb)(sio_redis *r, int kind, const char *pattern, size_t plen,
                                     const char *channel, size_t clen, const char *payload,
                                     size_t len, void *user);
/** A subscription confirmed by Redis (after sio_redis_subscribe and again after every
 *  reconnect): count is Redis's count of this connection's subscriptions. */
typedef void (*sio_redis_subscribed_cb)(sio_redis *r, int kind, const char *channel, size_t len,
                                        long long count, void *user);
/**
 * A remembered subscription that Redis dropped: a server-initiated sunsubscribe (its slot moved
 * to another node; reply is that push) or an error reply to subscribing (reply: e.g. -MOVED for
 * SSUBSCRIBE sent to a node that does not own the slot). The subscription is already forgotten
 * when this runs (it is not re-sent after a reconnect); the cluster layer subscribes it again on
 * the new owner.
 */
typedef void (*sio_redis_sub_lost_cb)(sio_redis *r, int kind, const char *channel, size_t len,
                                      const sio_redis_reply *reply, void *user);
/** The connection came up (up = 1: connected, authenticated, db selected, subscriptions re-sent)
 *  or went down (up = 0, reason a static or internal string valid for the call). */
typedef void (*sio_redis_state_cb)(sio_redis *r, int up, const char *reason, void *user);

typedef struct sio_redis_options {
    const char *url;         /* required; copied */
    const char *tls_ca_file; /* rediss: CA bundle to trust instead of the system store */
    const char *client_name; /* CLIENT SETNAME after connecting; NULL: none */
    const char *log_name;    /* tag for log lines ("redis" by default); copied */
    struct evdns_base *dns;  /* borrowed resolver; NULL: one of our own when host is a name */
    int connect_timeout_ms;  /* TCP + TLS + AUTH/SELECT; default 5000 */
    int command_timeout_ms;  /* per command; 0 = none; default 5000 */
    int ping_interval_ms;    /* keepalive PING when idle this long, drop when one goes
                                unanswered as long; 0 = off; default 15000 */
    int reconnect_min_ms;    /* backoff: first delay (jittered to [d/2, d]); default 100 */
    int reconnect_max_ms;    /* backoff cap; default 5000 */
    size_t max_out_bytes;    /* unsent request bytes cap; default 64 MiB */
    size_t max_in_bytes;     /* one incomplete reply cap; default 512 MiB (proto-max-bulk-len) */
    size_t max_pending;      /* commands awaiting a reply; default 1 << 20 */
    size_t max_array;        /* elements of one reply array; default 1 << 24 */
    sio_redis_state_cb on_state;
    sio_redis_message_cb on_message;
    sio_redis_subscribed_cb on_subscribed;
    sio_redis_sub_lost_cb on_sub_lost;
    void *user; /* passed to every callback; never freed by the connection */
} sio_redis_options;

/** Counters since creation. */
typedef struct sio_redis_stats {
    uint64_t commands;    /* accepted by sio_redis_command / subscribe / unsubscribe */
    uint64_t limit_drops; /* refused with SIO_ELIMIT (max_out_bytes or max_pending) */
    uint64_t timeouts;    /* callbacks run with SIO_ETIMEDOUT */
    uint64_t connects;    /* times the connection came up */
    uint64_t disconnects; /* times an up connection went down */
    uint64_t messages;    /* message/pmessage/smessage pushes delivered */
} sio_redis_stats;

/** Fills o with the defaults above (url NULL). */
void sio_redis_options_init(sio_redis_options *o);

/**
 * Creates a connection and starts connecting on base (borrowed; must outlive the connection).
 * Borrows o for the call (strings copied). The first attempt starts immediately; on_state(up)
 * reports success. Returns the connection, or NULL with *err (may be NULL) set to SIO_EINVAL (bad
 * URL or options) or SIO_ENOMEM. Never runs a callback from inside this call.
 */
sio_redis *sio_redis_new(struct event_base *base, const sio_redis_options *o, int *err);

/**
 * Closes the connection and frees it. Safe at any time, also from inside any of its callbacks;
 * NULL is a no-op. No callback of the connection runs from inside this call; every pending
 * command's callback runs once with SIO_ECLOSED later, from the loop (so the base must run one
 * more iteration before it is freed, or those callbacks and the memory are lost). on_state,
 * on_message and on_sub_lost never run after this call.
 */
void sio_redis_free(sio_redis *r);

/**
 * Queues one command (argv[i] of lens[i] bytes, binary safe; lens NULL: strlen). Borrows argv for
 * the call (the request is formatted into the output buffer at once). Replies are matched in
 * order. cb may be NULL (the reply is discarded). Returns 0 (cb runs exactly once later), or:
 * SIO_ECLOSED (the connection is not up: commands are never queued during an outage), SIO_ELIMIT
 * (max_out_bytes or max_pending; counted in limit_drops), SIO_EINVAL (argc < 1, or a command
 * other than PING on a connection with subscriptions: Redis refuses them in RESP2), SIO_ENOMEM.
 */
int sio_redis_command(sio_redis *r, sio_redis_reply_cb cb, void *arg, int argc, const char **argv,
                      const size_t *lens);

/**
 * Subscribes (kind SIO_REDIS_SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE) to one channel or pattern
 * (copied; binary safe). From the first call on, the connection is a subscriber: it takes no
 * command but PING (RESP2 refuses them in subscribed mode). The subscription is remembered and
 * re-sent after every reconnect until unsubscribed or lost; when the connection is down it is
 * sent on the next connect. Each confirmation runs on_subscribed; an error reply (e.g. -MOVED)
 * runs on_sub_lost. Never runs a callback from inside. Returns 0 (also when already remembered),
 * SIO_EINVAL (bad kind), SIO_ELIMIT (max_out_bytes: then nothing is remembered) or SIO_ENOMEM.
 */
int sio_redis_subscribe(sio_redis *r, int kind, const char *channel, size_t len);
/** Whether kind (SIO_REDIS_SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE) and channel[0..len) make a
 *  subscription: the argument check of sio_redis_subscribe and of the cluster's. */
int sio_redis_sub_is_valid(int kind, const char *channel, size_t len);
struct sio_map;
/** Looks the subscription up in subs, the map a connection and the cluster each keep, keyed by
 *  the kind's digit and the channel; removes it when remove is set. Returns its value, or NULL
 *  (none, or out of memory for a long channel's key). */
void *sio_redis_sub_find(struct sio_map *subs, int kind, const char *channel, size_t len,
                         int remove);
/** Forgets a subscription and sends the matching (P|S)UNSUBSCRIBE when up (its confirmation is
 *  consumed). Returns 0, or SIO_ENOTFOUND when it was not remembered. */
int sio_redis_unsubscribe(sio_redis *r, int kind, const char *channel, size_t len);
/** Number of remembered subscriptions. */
size_t sio_redis_subscription_count(const sio_redis *r);

/** 1 when connected, authenticated and ready for commands. */
int sio_redis_is_up(const sio_redis *r);
/** The last connection error ("" when none yet): a static or stored string, valid until the next
 *  state change. Redis's own text for AUTH failures (e.g. "WRONGPASS invalid username-password").
 */
const char *sio_redis_last_error(const sio_redis *r);
/** The address the connection was made for ("host:port" or the socket path). */
const char *sio_redis_address(const sio_redis *r);
void sio_redis_get_stats(const sio_redis *r, sio_redis_stats *out);

/* ---- cluster (or a single server behind the same API) -------------------------------------- */

typedef struct sio_redis_cluster sio_redis_cluster;

/** The result of a routed command: as sio_redis_reply_cb (MOVED and ASK are followed, up to 5
 *  redirects; other errors, TRYAGAIN and CLUSTERDOWN included, are passed through). */
typedef void (*sio_redis_cluster_reply_cb)(sio_redis_cluster *c, int status,
                                           const sio_redis_reply *reply, void *user);
/** The result of a fan-out sum: status 0 with the sum over every master of every integer of the
 *  replies (top-level integer or integer array elements), or the first failure (negative status,
 *  or SIO_EPROTO when a master answered with an ERROR reply). */
typedef void (*sio_redis_cluster_sum_cb)(sio_redis_cluster *c, int status, long long sum,
                                         void *user);
/** A pub/sub message received on any node. */
typedef void (*sio_redis_cluster_message_cb)(sio_redis_cluster *c, int kind, const char *pattern,
                                             size_t plen, const char *channel, size_t clen,
                                             const char *payload, size_t len, void *user);
/** Ready (up = 1: every slot has a live master, or the single server is up) or not; called at
 *  each change only. */
typedef void (*sio_redis_cluster_state_cb)(sio_redis_cluster *c, int up, void *user);

typedef struct sio_redis_cluster_options {
    const char *const *urls; /* seed URLs (nodes copy their scheme, user, password) */
    size_t nurls;
    int cluster;            /* 1: Redis Cluster (CLUSTER SLOTS); 0: one plain server urls[0] */
    sio_redis_options node; /* template for each connection (url, callbacks, user ignored) */
    int refresh_min_ms;     /* delay between slot map refreshes while unhealthy; default 100 */
    sio_redis_cluster_message_cb on_message;
    sio_redis_cluster_state_cb on_state;
    void *user;
} sio_redis_cluster_options;

void sio_redis_cluster_options_init(sio_redis_cluster_options *o);

/** Creates the cluster front end and starts connecting to the seeds. Borrows o (copied). Returns
 *  NULL with *err = SIO_EINVAL (no or bad URL) or SIO_ENOMEM. No callback from inside. */
sio_redis_cluster *sio_redis_cluster_new(struct event_base *base,
                                         const sio_redis_cluster_options *o, int *err);
/** The most seed URLs sio_redis_cluster_new_list takes (the rest of the list is ignored). */
#define SIO_REDIS_CLUSTER_MAX_SEEDS 16
/** As sio_redis_cluster_new, with the seeds given as one comma-separated list (urls borrowed;
 *  o->urls and o->nurls are ignored): how the programs and the adapter spell them. */
sio_redis_cluster *sio_redis_cluster_new_list(struct event_base *base, const char *urls,
                                              const sio_redis_cluster_options *o, int *err);
/** Frees every connection (as sio_redis_free: safe from callbacks; the callbacks of requests in
 *  flight run later from the loop with SIO_ECLOSED and c == NULL, never from inside this call,
 *  so the base must run one more iteration). on_message and on_state never run after it. NULL
 *  is a no-op. */
void sio_redis_cluster_free(sio_redis_cluster *c);

/**
 * Sends one command to the master owning key's slot (key borrowed; in plain mode the server).
 * argv is copied so that redirects can re-send it. Returns 0 (cb runs exactly once later), or
 * SIO_ECLOSED (no live connection for the slot), SIO_ELIMIT, SIO_EINVAL, SIO_ENOMEM (cb never
 * runs).
 */
int sio_redis_cluster_command(sio_redis_cluster *c, const char *key, size_t klen,
                              sio_redis_cluster_reply_cb cb, void *arg, int argc, const char **argv,
                              const size_t *lens);
/**
 * Sends one command to every master (in plain mode: the server) and sums the integers of the
 * replies: PUBSUB NUMSUB / SHARDNUMSUB with one channel, whose counts are per node in a cluster.
 * Returns 0 (cb runs exactly once), or SIO_ECLOSED when some master is not up, SIO_EINVAL,
 * SIO_ELIMIT, SIO_ENOMEM.
 */
int sio_redis_cluster_sum(sio_redis_cluster *c, sio_redis_cluster_sum_cb cb, void *arg, int argc,
                          const char **argv, const size_t *lens);
/**
 * Subscribes to a channel (kind SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE; copied). Each subscription
 * is held by the subscriber connection of the master owning the channel's slot (classic PUBLISH
 * reaches every node of a cluster, so classic ones are spread the same way), and moved when the
 * slot moves (sunsubscribe push, MOVED) or its master fails over. Returns 0, SIO_EINVAL or
 * SIO_ENOMEM. No callback: delivery starts once the owner confirms.
 */
int sio_redis_cluster_subscribe(sio_redis_cluster *c, int kind, const char *channel, size_t len);
/** Convenience: sio_redis_cluster_subscribe(c, SIO_REDIS_SSUBSCRIBE, channel, len). */
int sio_redis_cluster_ssubscribe(sio_redis_cluster *c, const char *channel, size_t len);
/** Forgets a subscription (and unsubscribes it where it is held). Returns 0 or SIO_ENOTFOUND. */
int sio_redis_cluster_unsubscribe(sio_redis_cluster *c, int kind, const char *channel, size_t len);
/** 1 when every slot has a live master (plain mode: the server is up). */
int sio_redis_cluster_is_up(const sio_redis_cluster *c);
/** Number of masters currently known. */
size_t sio_redis_cluster_master_count(const sio_redis_cluster *c);
/** Number of subscriptions confirmed where they belong (for tests and health reports). */
size_t sio_redis_cluster_confirmed_count(const sio_redis_cluster *c);

#endif

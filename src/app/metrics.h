/*
 * Operator routes of sio-server (docs/metrics.md): GET /metrics in the Prometheus text format
 * and GET /status as JSON, both answered from the counters the layers keep (sio_server_stats and
 * the sources the program adds), never by walking sessions. Also measures the event loop's lag.
 * Built on the public API only.
 */
#ifndef SIO_APP_METRICS_H
#define SIO_APP_METRICS_H

#include <sio/http.h>
#include <sio/sio.h>

#include "app/text.h"

#include <stddef.h>

typedef struct sio_app_metrics sio_app_metrics;

/** A family of samples: writes "# HELP", "# TYPE" and the first sample line. */
void sio_app_metric(sio_app_text *t, const char *name, const char *type, const char *help,
                    const char *labels, double value);
/** Another sample of the family just started (labels like "code=\"TOKEN_INVALID\""). */
void sio_app_sample(sio_app_text *t, const char *name, const char *labels, double value);

/** A sample of a family with one label: the label's value (any text) and the sample. */
typedef struct sio_app_labelled {
    const char *label;
    double value;
} sio_app_labelled;
/** A family with one label (label: its name, e.g. "code"): "# HELP", "# TYPE" and a sample for
 *  each of the n entries of v, the label values escaped as the text format wants; nothing when n
 *  is 0. */
void sio_app_family(sio_app_text *t, const char *name, const char *type, const char *help,
                    const char *label, const sio_app_labelled *v, size_t n);
/** sio_app_family over an array. */
#define SIO_APP_FAMILY(t, name, type, help, label, v)                                              \
    sio_app_family(t, name, type, help, label, v, sizeof(v) / sizeof((v)[0]))
/** "# HELP" and "# TYPE" of a family whose samples follow (sio_app_labelled_sample). */
void sio_app_family_head(sio_app_text *t, const char *name, const char *type, const char *help);
/** One sample with one label (label="value", the value escaped). */
void sio_app_labelled_sample(sio_app_text *t, const char *name, const char *label,
                             const char *label_value, double value);

/** Answers req with the text t holds, as content_type (500 when t ran out of memory), and frees
 *  it. */
void sio_app_text_respond(sio_http_request *req, sio_app_text *t, const char *content_type);

/** A module's own counters (auth, gateway, relay, presence): appends its families to t. */
typedef void (*sio_app_metrics_source)(sio_app_text *t, void *user);

/**
 * Registers the routes on srv (metrics_path and status_path; either may be NULL = off) and
 * starts the loop-lag probe. node_id names this node in /status (copied). NULL on failure.
 */
sio_app_metrics *sio_app_metrics_new(sio_server *srv, const char *metrics_path,
                                     const char *status_path, const char *node_id);
/** Adds a namespace whose connected sockets are reported (sio_socket_count by namespace). */
int sio_app_metrics_add_namespace(sio_app_metrics *m, sio_namespace *nsp);
/** Adds a source of further metric families, written after the server's own. */
int sio_app_metrics_add_source(sio_app_metrics *m, sio_app_metrics_source fn, void *user);
/** Where /status reads the number of users online (presence: cluster-wide with Redis); without
 *  one, "users" is null. */
void sio_app_metrics_set_users(sio_app_metrics *m, size_t (*fn)(void *user), void *user);
void sio_app_metrics_free(sio_app_metrics *m);

#endif

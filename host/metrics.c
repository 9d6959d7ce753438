/* metrics.c -- host.metrics_listen: `GET /metrics` in the Prometheus text
 * format (version 0.0.4), served by libevent's HTTP server on the host's
 * own loop. A scrape reads counters the host keeps anyway, so it costs one
 * pass over them and over the connections; nothing blocks.
 *
 * The host's counters are read from the same reply `maybep2pctl stats`
 * builds, so a counter added there appears here without a second list; the
 * table below only gives the well-known ones their Prometheus names.
 *
 * Whoever can reach the port is a stranger: connections are capped in all
 * and per address (see admit()), so a peer holding connections open can
 * neither exhaust the host's descriptors nor keep a scraper out alone. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

/* An HTTP request is small; a client that dawdles or sends more is cut off. */
#define METRICS_TIMEOUT 10
#define METRICS_MAX_HEADERS 8192
/* A scraper needs one connection. The port takes this many at once, at
 * most a quarter of them from one address; a connection over either limit
 * is closed as soon as it is accepted. */
#define METRICS_MAX_CONNS 16
#define METRICS_MAX_PER_IP 4

/* How a top-level field of `stats` is named and typed for Prometheus.
 * Entries sharing a name form one family and must stay adjacent. */
struct stat_metric {
	const char *key;             /* the field of `maybep2pctl stats` */
	const char *name;
	const char *labels;          /* NULL, or label="value" pairs */
	const char *type;            /* "counter" or "gauge" */
	const char *help;
};

static const struct stat_metric stat_metrics[] = {
	{ "connections", "maybep2p_connections", NULL, "gauge",
	  "Open connections, inbound and outbound." },
	{ "accepted", "maybep2p_connections_accepted_total", NULL, "counter",
	  "Inbound connections accepted." },
	{ "closed", "maybep2p_connections_closed_total", NULL, "counter",
	  "Connections closed, for any reason." },
	{ "inbound", "maybep2p_connections_inbound", NULL, "gauge",
	  "Open connections peers opened (limits.max_inbound)." },
	{ "outbound", "maybep2p_connections_outbound", NULL, "gauge",
	  "Open connections plugins dialled (limits.max_outbound)." },
	{ "buffered", "maybep2p_buffered_budget_bytes", NULL, "gauge",
	  "Bytes counted against limits.max_buffered: every connection's buffers." },
	{ "refused_max_inbound", "maybep2p_connections_refused_total",
	  "reason=\"max_inbound\"", "counter",
	  "Connections closed at once, by the limit that refused them." },
	{ "refused_per_ip", "maybep2p_connections_refused_total", "reason=\"per_ip\"", "counter",
	  "Connections closed at once, by the limit that refused them." },
	{ "frames_in", "maybep2p_host_frames_received_total", NULL, "counter",
	  "Frames received by the host, for every plugin." },
	{ "frames_out", "maybep2p_host_frames_sent_total", NULL, "counter",
	  "Frames sent by the host, for every plugin." },
	{ "bytes_in", "maybep2p_host_bytes_received_total", NULL, "counter",
	  "Bytes received by the host, frame headers included." },
	{ "bytes_out", "maybep2p_host_bytes_sent_total", NULL, "counter",
	  "Bytes sent by the host, frame headers included." },
	{ "bad_frames", "maybep2p_bad_frames_total", NULL, "counter",
	  "Connections closed for a header that cannot be a frame." },
	{ "unknown_protocol", "maybep2p_unknown_protocol_frames_total", NULL, "counter",
	  "Connections closed for a frame of a protocol no plugin registered." },
	{ "oversize_frames", "maybep2p_oversize_frames_total", NULL, "counter",
	  "Connections closed for a payload over max_frame." },
	{ "timeouts_idle", "maybep2p_timeouts_total", "kind=\"idle\"", "counter",
	  "Connections closed by a timeout, by kind." },
	{ "timeouts_frame", "maybep2p_timeouts_total", "kind=\"frame\"", "counter",
	  "Connections closed by a timeout, by kind." },
	{ "timeouts_write", "maybep2p_timeouts_total", "kind=\"write\"", "counter",
	  "Connections closed by a timeout, by kind." },
	{ "timeouts_connect", "maybep2p_timeouts_total", "kind=\"connect\"", "counter",
	  "Connections closed by a timeout, by kind." },
	{ "output_overflows", "maybep2p_output_overflows_total", NULL, "counter",
	  "Peers dropped for not reading their output (max_output)." },
	{ "dial_failures", "maybep2p_dial_failures_total", NULL, "counter",
	  "Outbound dials that failed." },
	{ "reloads", "maybep2p_reloads_total", NULL, "counter",
	  "Reloads that swapped the plugins." },
	{ "reload_failures", "maybep2p_reload_failures_total", NULL, "counter",
	  "Reloads refused, leaving the plugins unchanged." },
};

#define N_STAT_METRICS (sizeof(stat_metrics) / sizeof(stat_metrics[0]))

/* The per-instance frame and byte counts the host keeps for each plugin. */
struct plugin_metric {
	const char *name;
	const char *help;
	size_t offset;
};

static const struct plugin_metric plugin_metrics[] = {
	{ "maybep2p_frames_received_total", "Frames routed to each plugin instance.",
	  offsetof(struct mp2p_host, frames_in) },
	{ "maybep2p_frames_sent_total", "Frames each plugin instance sent.",
	  offsetof(struct mp2p_host, frames_out) },
	{ "maybep2p_bytes_received_total", "Bytes of the frames routed to each plugin instance, headers included.",
	  offsetof(struct mp2p_host, bytes_in) },
	{ "maybep2p_bytes_sent_total", "Bytes of the frames each plugin instance sent, headers included.",
	  offsetof(struct mp2p_host, bytes_out) },
};

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, quote and newline escaped as the format asks;
 * any other byte outside printable ASCII (a plugin's version string may
 * hold anything) becomes '?', so the output is always valid UTF-8. */
static void label_value(struct evbuffer *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == '"')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (*p < 0x20 || *p >= 0x7f)
			evbuffer_add(out, "?", 1);
		else
			evbuffer_add(out, p, 1);
	}
}

/* A counter name a plugin chose, as the tail of a metric name: anything
 * but [A-Za-z0-9_] becomes '_', and a trailing "_total" is dropped since
 * the family adds its own. */
static char *metric_tail(const char *name)
{
	size_t n = strlen(name);
	char *t;

	if (n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	if ((t = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		t[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
	}
	t[n] = '\0';
	return t;
}

static void render_host_stats(struct host *h, struct evbuffer *out)
{
	struct mp2p_reply *r = reply_new();
	const char *const argv[] = { "stats" };
	const char *prev = "";

	if (r == NULL)
		return;
	control_dispatch(h, r, 1, argv);
	for (size_t i = 0; i < N_STAT_METRICS; i++) {
		const struct stat_metric *m = &stat_metrics[i];
		const char *value = reply_lookup(r, m->key);
		if (value == NULL)
			continue;
		if (strcmp(prev, m->name) != 0)
			family(out, m->name, m->type, m->help);
		prev = m->name;
		evbuffer_add_printf(out, "%s%s%s%s %s\n", m->name, m->labels ? "{" : "",
		                    m->labels ? m->labels : "", m->labels ? "}" : "", value);
	}
	/* Counters `stats` gained after this table was written: named after
	 * their key, so none is left out. */
	for (int i = 0;; i++) {
		const char *key, *value;
		int number, known = 0;
		char *tail;
		if ((key = reply_field(r, i, &value, &number)) == NULL)
			break;
		for (size_t k = 0; k < N_STAT_METRICS; k++)
			known |= strcmp(stat_metrics[k].key, key) == 0;
		if (known || !number || (tail = metric_tail(key)) == NULL)
			continue;
		evbuffer_add_printf(out, "# HELP maybep2p_%s_total The host's %s counter "
		                    "(maybep2pctl stats).\n# TYPE maybep2p_%s_total counter\n"
		                    "maybep2p_%s_total %s\n", tail, key, tail, tail, value);
		free(tail);
	}
	reply_free(r);
}

static void render_plugins(struct host *h, struct evbuffer *out)
{
	family(out, "maybep2p_plugin_info", "gauge",
	       "Each running plugin instance: its file, plugin name and version; always 1.");
	for (int i = 0; i < MAX_INSTANCES; i++) {
		struct mp2p_host *in = h->core.slots[i];
		if (in == NULL)
			continue;
		evbuffer_add_printf(out, "maybep2p_plugin_info{plugin=\"");
		label_value(out, in->name);
		evbuffer_add_printf(out, "\",file=\"");
		label_value(out, in->mod->path);
		evbuffer_add_printf(out, "\",name=\"");
		label_value(out, in->mod->desc.name ? in->mod->desc.name : "");
		evbuffer_add_printf(out, "\",version=\"");
		label_value(out, in->mod->desc.version ? in->mod->desc.version : "");
		evbuffer_add_printf(out, "\"} 1\n");
	}
	for (size_t k = 0; k < sizeof(plugin_metrics) / sizeof(plugin_metrics[0]); k++) {
		family(out, plugin_metrics[k].name, "counter", plugin_metrics[k].help);
		for (int i = 0; i < MAX_INSTANCES; i++) {
			struct mp2p_host *in = h->core.slots[i];
			if (in == NULL)
				continue;
			evbuffer_add_printf(out, "%s{plugin=\"", plugin_metrics[k].name);
			label_value(out, in->name);
			evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)
			                    *(const uint64_t *)((const char *)in + plugin_metrics[k].offset));
		}
	}
}

/* A plugin's own counters, one family per counter name, each with a
 * series per instance that has it. The counters are sorted by family so
 * each family is written in one piece, as the format requires. */
struct pc_entry {
	char *family;
	const char *instance, *name;
	uint64_t value;
};

static int pc_compare(const void *a, const void *b)
{
	const struct pc_entry *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	return c ? c : strcmp(x->instance, y->instance);
}

struct pc_list {
	struct pc_entry *e;
	size_t n, cap;
	int failed;
};

static void pc_add(void *arg, const char *instance, const char *name, uint64_t value)
{
	struct pc_list *l = arg;
	char *tail;

	if (l->failed)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct pc_entry *ne = realloc(l->e, sizeof(*ne) * cap);
		if (ne == NULL) {
			l->failed = 1;
			return;
		}
		l->e = ne;
		l->cap = cap;
	}
	if ((tail = metric_tail(name)) == NULL) {
		l->failed = 1;
		return;
	}
	l->e[l->n].family = str_printf("maybep2p_plugin_%s_total", tail);
	free(tail);
	if (l->e[l->n].family == NULL) {
		l->failed = 1;
		return;
	}
	l->e[l->n].instance = instance;
	l->e[l->n].name = name;
	l->e[l->n].value = value;
	l->n++;
}

static void render_plugin_counters(struct host *h, struct evbuffer *out)
{
	struct pc_list l = { 0 };
	struct pc_entry *e;
	size_t n;

	counters_each(&h->core, pc_add, &l);
	e = l.e;
	n = l.n;
	if (n > 0)
		qsort(e, n, sizeof(*e), pc_compare);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(e[i].family, e[i - 1].family) == 0 &&
		    strcmp(e[i].instance, e[i - 1].instance) == 0)
			continue;   /* two names that differ only in characters '_' replaced */
		if (i == 0 || strcmp(e[i].family, e[i - 1].family) != 0) {
			evbuffer_add_printf(out, "# HELP %s The plugin counter '", e[i].family);
			label_value(out, e[i].name);
			evbuffer_add_printf(out, "' (maybep2pctl stats).\n# TYPE %s counter\n", e[i].family);
		}
		evbuffer_add_printf(out, "%s{plugin=\"", e[i].family);
		label_value(out, e[i].instance);
		evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)e[i].value);
	}
	for (size_t i = 0; i < n; i++)
		free(e[i].family);
	free(e);
}

static void render(struct host *h, struct evbuffer *out)
{
	size_t in_bytes = 0, out_bytes = 0;

	family(out, "maybep2p_build_info", "gauge",
	       "The maybep2pd version and the plugin ABI it speaks; always 1.");
	evbuffer_add_printf(out, "maybep2p_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
	                    HOST_VERSION, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
	family(out, "maybep2p_uptime_seconds", "gauge", "Seconds since this host started.");
	evbuffer_add_printf(out, "maybep2p_uptime_seconds %.3f\n", host_now(h) - h->started);
	conns_buffered(h, &in_bytes, &out_bytes);
	family(out, "maybep2p_buffered_bytes", "gauge",
	       "Bytes held in connection buffers: received and not yet a whole frame, "
	       "or queued and not yet sent.");
	evbuffer_add_printf(out, "maybep2p_buffered_bytes{direction=\"in\"} %zu\n", in_bytes);
	evbuffer_add_printf(out, "maybep2p_buffered_bytes{direction=\"out\"} %zu\n", out_bytes);
	render_host_stats(h, out);
	render_plugins(h, out);
	render_plugin_counters(h, out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct host *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served here");
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	render(h, body);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* libevent 2.1's HTTP server has no connection limit and no hook where a
 * connection ends. So the server's bufferevent for each connection is made
 * here (evhttp_set_bevcb), and a reference to it kept: the server frees a
 * bufferevent by clearing its callbacks and dropping its reference, which
 * metrics_tick() sees and then drops ours. The peer's address is known
 * only once the server has set the socket, so the admission is made on the
 * loop turn after the accept, by metrics_tick() too. */
struct metrics_conn {
	struct bufferevent *bev;
	uint64_t ip_key;
	int judged, admitted;            /* admit() ran; it let the connection in */
	struct metrics_conn *next;
};

/* Lets in, or closes, a connection the server just took. */
static void admit(struct host *h, struct metrics_conn *mc, int open_now)
{
	evutil_socket_t fd = bufferevent_getfd(mc->bev);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char peer[INET6_ADDRSTRLEN + 8] = "?";
	int same = 0;

	static struct ratelog rl;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;          /* the server is letting it go already */
	mc->ip_key = addr_ip_key((struct sockaddr *)&ss, h->cfg.ipv6_prefix);
	addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
	for (struct metrics_conn *o = h->metrics_conns; o != NULL; o = o->next)
		same += o->admitted && o->ip_key == mc->ip_key;
	if (open_now < METRICS_MAX_CONNS && same < METRICS_MAX_PER_IP) {
		mc->admitted = 1;
		return;
	}
	/* The server reads an end of stream and frees the connection. */
	shutdown(fd, SHUT_RDWR);
	h->stats.metrics_refused++;
	log_rated(&rl, HLOG_WARN, "metrics: refused a connection from %s: %d open of %d, "
	          "%d from its address of %d", peer, open_now, METRICS_MAX_CONNS, same, METRICS_MAX_PER_IP);
}

static void metrics_tick(evutil_socket_t unused, short what, void *arg)
{
	struct host *h = arg;
	struct metrics_conn **pp = &h->metrics_conns, *mc;
	int open_now = 0;

	(void)unused;
	(void)what;
	while ((mc = *pp) != NULL) {
		bufferevent_event_cb eventcb;
		bufferevent_getcb(mc->bev, NULL, NULL, &eventcb, NULL);
		if (eventcb == NULL) {
			/* Freed by the server: ours was the last reference. */
			*pp = mc->next;
			bufferevent_decref(mc->bev);
			free(mc);
			continue;
		}
		open_now += mc->admitted;
		pp = &mc->next;
	}
	/* The list is oldest first, so connections are let in in the order
	 * they came. A connection not let in now never will be. */
	for (mc = h->metrics_conns; mc != NULL; mc = mc->next) {
		if (mc->admitted || mc->judged)
			continue;
		mc->judged = 1;
		admit(h, mc, open_now);
		open_now += mc->admitted;
	}
	if (h->metrics_conns == NULL)
		event_del(h->metrics_tick);
}

static struct bufferevent *mconn_new(struct event_base *base, void *arg)
{
	struct host *h = arg;
	struct metrics_conn *mc = calloc(1, sizeof(*mc)), **pp;
	struct timeval second = { 1, 0 };

	/* NULL makes the server use a bufferevent of its own: one connection
	 * goes uncounted rather than refused for a shortage of ours. */
	if (mc == NULL)
		return NULL;
	if ((mc->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(mc);
		return NULL;
	}
	bufferevent_incref(mc->bev);
	for (pp = &h->metrics_conns; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = mc;
	event_add(h->metrics_tick, &second);
	event_active(h->metrics_tick, EV_TIMEOUT, 1);
	return mc->bev;
}

int metrics_open(struct host *h, struct diag *errs)
{
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	int len;

	if (h->cfg.metrics_listen == NULL)
		return 0;
	if (addr_parse_listen(h->cfg.metrics_listen, &ss, &len) < 0) {
		diag_add(errs, "%s: host.metrics_listen '%s' is not a numeric ADDR:PORT", h->cfg.path,
		         h->cfg.metrics_listen);
		return -1;
	}
	if ((h->metrics_http = evhttp_new(h->base)) == NULL) {
		diag_add(errs, "cannot create the metrics HTTP server");
		return -1;
	}
	l = evconnlistener_new_bind(h->base, NULL, NULL,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	                            64, (struct sockaddr *)&ss, len);
	if (l == NULL) {
		diag_add(errs, "%s: cannot serve metrics on %s (host.metrics_listen): %s", h->cfg.path,
		         h->cfg.metrics_listen, strerror(errno));
		metrics_close(h);
		return -1;
	}
	if (evhttp_bind_listener(h->metrics_http, l) == NULL) {
		evconnlistener_free(l);
		diag_add(errs, "cannot serve metrics on %s", h->cfg.metrics_listen);
		metrics_close(h);
		return -1;
	}
	evhttp_set_allowed_methods(h->metrics_http, EVHTTP_REQ_GET);
	evhttp_set_timeout(h->metrics_http, METRICS_TIMEOUT);
	evhttp_set_max_headers_size(h->metrics_http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(h->metrics_http, 1024);
	evhttp_set_gencb(h->metrics_http, on_request, h);
	if ((h->metrics_tick = event_new(h->base, -1, EV_PERSIST, metrics_tick, h)) == NULL) {
		diag_add(errs, "cannot serve metrics on %s", h->cfg.metrics_listen);
		metrics_close(h);
		return -1;
	}
	evhttp_set_bevcb(h->metrics_http, mconn_new, h);
	log_msg(HLOG_INFO, "metrics on http://%s/metrics", h->cfg.metrics_listen);
	return 0;
}

void metrics_close(struct host *h)
{
	struct metrics_conn *mc;

	if (h->metrics_http != NULL) {
		evhttp_free(h->metrics_http);
		h->metrics_http = NULL;
	}
	/* The server freed every connection; ours are the last references. */
	while ((mc = h->metrics_conns) != NULL) {
		h->metrics_conns = mc->next;
		bufferevent_decref(mc->bev);
		free(mc);
	}
	if (h->metrics_tick != NULL) {
		event_free(h->metrics_tick);
		h->metrics_tick = NULL;
	}
}

/* cv1_plugin.c -- the classicv1 plugin's descriptor and its glue to the
 * host: settings, lifecycle, control commands and the service table.
 *
 * Settings (the plugin's `config` group; any other key is an error):
 *   bootstrap              list of "ADDR:PORT" to join at start
 *   dns_seed               a DNS name whose TXT records are "ADDR:PORT"
 *   dns_server             "ADDR:PORT" of the resolver (default: system's)
 *   max_peers              peer table size, 1..256 (default 16)
 *   broadcast_hops         hop limit of a broadcast, 1..255 (default 32)
 *   peer_timeout           seconds of silence before a peer is dropped
 *                          (default 30; probes start after a third of it)
 *   persistent_connections keep connections to hosts of ours (default true)
 */
#include "cv1_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CV1_VERSION
#define CV1_VERSION "1.0.0"
#endif
#define CV1_DEDUP_ENTRIES 8192
#define CV1_DEDUP_SECONDS 600.0

static const char *const cv1_settings[] = {
	"bootstrap", "dns_seed", "dns_server", "max_peers", "broadcast_hops",
	"peer_timeout", "persistent_connections", NULL
};

/* ---- settings ---------------------------------------------------------- */

/* An address to dial, by the host's rule (<maybep2p/util.h>). */
static int read_hostport(const struct mp2p_host_api *api, const mp2p_config *cfg,
                         const char *key, const char *text, char **error_text)
{
	const char *why;

	if (mp2p_addr_check(text, NULL, &why) == 0)
		return 0;
	*error_text = api->config_error(cfg, key, "'%s': %s", text, why);
	return -1;
}

static int read_settings(struct cv1 *c, const mp2p_config *cfg, char **error_text)
{
	const struct mp2p_host_api *api = c->api;
	long long v;
	double t;
	const char *s;
	int n, rc;

	if (api->config_check_keys(cfg, cv1_settings, error_text) < 0)
		return -1;
	v = 16;
	if (mp2p_config_int(api, cfg, "max_peers", 1, CV1_LIST_MAX, &v, error_text) < 0)
		return -1;
	c->max_peers = (size_t)v;
	c->want_peers = (c->max_peers + 1) / 2;
	v = 32;
	if (mp2p_config_int(api, cfg, "broadcast_hops", 1, CV1_HOPS_MAX, &v, error_text) < 0)
		return -1;
	c->broadcast_hops = (unsigned)v;
	t = 30;
	if (mp2p_config_float(api, cfg, "peer_timeout", 0.5, 86400, &t, error_text) < 0)
		return -1;
	c->peer_timeout = t;
	c->persistent = 1;
	if (api->config_get_bool(cfg, "persistent_connections", &c->persistent, error_text) < 0)
		return -1;

	if ((n = api->config_list_length(cfg, "bootstrap", error_text)) < 0)
		return -1;
	if (n > 0 && (c->bootstrap = calloc((size_t)n, sizeof(char *))) == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		s = api->config_list_string(cfg, "bootstrap", i);
		if (s == NULL || read_hostport(api, cfg, "bootstrap", s, error_text) < 0)
			return -1;
		if ((c->bootstrap[i] = strdup(s)) == NULL)
			return -1;
		c->nbootstrap++;
	}

	s = NULL;
	if ((rc = api->config_get_string(cfg, "dns_seed", &s, error_text)) < 0)
		return -1;
	if (rc == 1) {
		if (s[0] == '\0' || strlen(s) > 253 || !cv1_text_ok(s, strlen(s))) {
			*error_text = api->config_error(cfg, "dns_seed", "not a DNS name");
			return -1;
		}
		if ((c->dns_seed = strdup(s)) == NULL)
			return -1;
	}
	s = NULL;
	if ((rc = api->config_get_string(cfg, "dns_server", &s, error_text)) < 0)
		return -1;
	if (rc == 1) {
		if (read_hostport(api, cfg, "dns_server", s, error_text) < 0)
			return -1;
		if ((c->dns_server = strdup(s)) == NULL)
			return -1;
	}
	return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

static void free_settings(struct cv1 *c)
{
	for (size_t i = 0; i < c->nbootstrap; i++)
		free(c->bootstrap[i]);
	free(c->bootstrap);
	free(c->dns_seed);
	free(c->dns_server);
}

static void cv1_destroy(void *self)
{
	struct cv1 *c = self;

	if (c == NULL)
		return;
	cv1_dns_free(c->dns);
	cv1_inbox_clear(&c->inbox);
	cv1_peers_free(&c->peers);
	cv1_dedup_free(&c->dedup);
	free_settings(c);
	free(c);
}

/* A UUID4 in text, like the original's pids. */
static void new_pid(struct cv1 *c)
{
	uint8_t b[16];

	c->api->random_bytes(c->host, b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(c->pid, sizeof(c->pid),
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
	         b[12], b[13], b[14], b[15]);
}

static int cv1_init(const struct mp2p_host_api *api, mp2p_host *host,
                    const mp2p_config *config, void **self_out, char **error_text)
{
	struct cv1 *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->api = api;
	c->host = host;
	if (read_settings(c, config, error_text) < 0)
		goto fail;
	if (cv1_peers_init(&c->peers, c->max_peers) < 0 ||
	    cv1_dedup_init(&c->dedup, CV1_DEDUP_ENTRIES, CV1_DEDUP_SECONDS) < 0)
		goto fail;
	/* Over TLS our pid is the host's peer id, which peers check against
	 * the connection's key; in mode "plain" a random UUID, as the
	 * original peers use. */
	if (api->security(host) != MP2P_SECURITY_PLAIN)
		snprintf(c->pid, sizeof(c->pid), "%s", api->peer_id(host));
	else
		new_pid(c);
	c->n.malformed = api->counter(host, "malformed");
	c->n.unknown_type = api->counter(host, "unknown_type");
	c->n.delivered_direct = api->counter(host, "delivered_direct");
	c->n.delivered_broadcast = api->counter(host, "delivered_broadcast");
	c->n.delivered_quiet = api->counter(host, "delivered_quiet");
	c->n.duplicate_broadcast = api->counter(host, "duplicate_broadcast");
	c->n.frames_sent = api->counter(host, "frames_sent");
	c->n.for_sent = api->counter(host, "for_sent");
	c->n.send_failed = api->counter(host, "send_failed");
	c->n.dial_failed = api->counter(host, "dial_failed");
	c->n.peers_dead = api->counter(host, "peers_dead");
	c->n.peers_quit = api->counter(host, "peers_quit");
	c->n.peers_refused = api->counter(host, "peers_refused");
	c->n.claims_refused = api->counter(host, "claims_refused");
	c->n.quit_refused = api->counter(host, "quit_refused");
	c->n.pid_mismatch = api->counter(host, "pid_mismatch");
	c->n.unasked_list = api->counter(host, "unasked_list");
	uint64_t **all = (uint64_t **)&c->n;
	for (size_t i = 0; i < sizeof(c->n) / sizeof(uint64_t *); i++)
		if (all[i] == NULL)
			goto fail;
	*self_out = c;
	return 0;
fail:
	cv1_destroy(c);
	return -1;
}

static int cv1_save_state(void *self, void **data_out, size_t *length_out,
                          uint32_t *format_out)
{
	*format_out = CV1_STATE_FORMAT;
	return cv1_state_save(self, data_out, length_out);
}

static int cv1_restore_state(void *self, const void *data, size_t length,
                             uint32_t format, char **error_text)
{
	if (format != CV1_STATE_FORMAT) {
		char *msg = malloc(64);
		if (msg)
			snprintf(msg, 64, "classicv1 state format %u is unknown", (unsigned)format);
		*error_text = msg;
		return -1;
	}
	return cv1_state_restore(self, data, length, error_text);
}

/* ---- the service ------------------------------------------------------- */

static int svc_broadcast(void *provider, const char *text, size_t length, char *id_out)
{
	return cv1_node_broadcast(provider, text, length, id_out);
}

static int svc_send(void *provider, const char *pid, const char *text, size_t length)
{
	return cv1_node_send(provider, pid, text, length);
}

static const char *svc_self_pid(void *provider)
{
	return ((struct cv1 *)provider)->pid;
}

static int svc_peer_addr(void *provider, const char *pid, char *addr_out, size_t size)
{
	struct cv1 *c = provider;
	struct cv1_peer *p = pid != NULL ? cv1_peers_find(&c->peers, pid) : NULL;

	if (p == NULL || addr_out == NULL || strlen(p->hostport) >= size)
		return -1;
	memcpy(addr_out, p->hostport, strlen(p->hostport) + 1);
	return 0;
}

static int svc_broadcast_quiet(void *provider, const void *data, size_t length, char *id_out)
{
	return cv1_node_broadcast_quiet(provider, data, length, id_out);
}

static int svc_peer_count(void *provider)
{
	return (int)((struct cv1 *)provider)->peers.count;
}

static const struct mp2p_classicv1_service cv1_service = {
	.size = sizeof(struct mp2p_classicv1_service),
	.broadcast = svc_broadcast,
	.send = svc_send,
	.self_pid = svc_self_pid,
	.peer_count = svc_peer_count,
	.peer_addr = svc_peer_addr,
	.broadcast_quiet = svc_broadcast_quiet,
};

static int cv1_start(void *self, char **error_text)
{
	struct cv1 *c = self;
	const char *adv = c->api->advertise(c->host);

	/* Peers dial what we announce: an unspecified address would send
	 * them to their own machine. */
	if (adv == NULL || cv1_parse_hostport(adv, c->addr, &c->port) < 0 ||
	    strcmp(c->addr, "0.0.0.0") == 0 || strcmp(c->addr, "::") == 0) {
		size_t len = 128 + (adv ? strlen(adv) : 0);
		if ((*error_text = malloc(len)) != NULL)
			snprintf(*error_text, len,
			         "classicv1 needs host.advertise to be an ADDR:PORT peers can dial, "
			         "not '%s'", adv ? adv : "");
		return -1;
	}
	cv1_hostport(c->hostport, sizeof(c->hostport), c->addr, c->port);
	if (c->dns_seed != NULL && (c->dns = cv1_dns_new(c, c->dns_server, error_text)) == NULL)
		return -1;
	if (c->api->service_offer(c->host, MP2P_CLASSICV1_SERVICE, MP2P_CLASSICV1_VERSION,
	                           &cv1_service, c) < 0)
		c->api->log(c->host, MP2P_LOG_WARN, "service %s is offered by another instance",
		             MP2P_CLASSICV1_SERVICE);
	c->tick_seconds = c->peer_timeout / 6;
	if (c->tick_seconds < 0.2)
		c->tick_seconds = 0.2;
	if (c->tick_seconds > 5)
		c->tick_seconds = 5;
	if ((c->tick = c->api->timer_new(c->host, cv1_node_tick, c)) == NULL)
		return -1;
	c->api->timer_start(c->host, c->tick, c->tick_seconds, MP2P_TIMER_REPEAT);
	if ((c->join_wait = c->api->timer_new(c->host, cv1_node_join_wait, c)) == NULL)
		return -1;
	c->running = 1;
	c->api->log(c->host, MP2P_LOG_INFO, "pid %s at %s, %zu peer%s restored", c->pid,
	             c->hostport, c->peers.count, c->peers.count == 1 ? "" : "s");

	/* Peers restored from a restart may have dropped us: join them again
	 * (a peer that still knows us ignores it). */
	for (size_t i = 0; i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		if (p->used) {
			p->last_heard = c->api->now(c->host);
			cv1_node_join(c, p->hostport);
		}
	}
	cv1_node_bootstrap(c);
	return 0;
}

static void cv1_stop(void *self, enum mp2p_stop_reason reason)
{
	struct cv1 *c = self;

	c->running = 0;
	if (reason != MP2P_STOP_RELOAD)
		cv1_node_quit_all(c);
	c->api->timer_free(c->host, c->tick);
	c->tick = NULL;
	cv1_dns_free(c->dns);
	c->dns = NULL;
}

static void cv1_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	cv1_node_frame(self, conn, f);
}

static void cv1_on_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	cv1_node_conn(self, conn, ev);
}

/* ---- control ----------------------------------------------------------- */

static const char *kind_name(int kind)
{
	switch (kind) {
	case CV1_KIND_OURS: return "ours";
	case CV1_KIND_CLASSIC: return "classic";
	}
	return "unknown";
}

static void control_peers(struct cv1 *c, mp2p_reply *r)
{
	double now = c->api->now(c->host);

	c->api->reply_str(r, "pid", c->pid);
	c->api->reply_str(r, "addr", c->hostport);
	c->api->reply_int(r, "count", (long long)c->peers.count);
	c->api->reply_int(r, "max", (long long)c->max_peers);
	for (size_t i = 0; i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		if (!p->used)
			continue;
		c->api->reply_row(r);
		c->api->reply_str(r, "pid", p->pid);
		c->api->reply_str(r, "addr", p->hostport);
		c->api->reply_str(r, "kind", kind_name(p->kind));
		c->api->reply_float(r, "silent", now - p->last_heard);
		c->api->reply_int(r, "fails", p->fails);
	}
}

static void control_inbox(struct cv1 *c, mp2p_reply *r)
{
	c->api->reply_int(r, "count", (long long)c->inbox.count);
	for (size_t i = 0; i < c->inbox.count; i++) {
		struct cv1_inbox_entry *e = cv1_inbox_at(&c->inbox, i);
		c->api->reply_row(r);
		c->api->reply_int(r, "seq", (long long)e->seq);
		c->api->reply_str(r, "kind", e->kind == MP2P_CLASSICV1_BROADCAST ? "broadcast" : "direct");
		c->api->reply_str(r, "from", e->sender);
		c->api->reply_str(r, "id", e->id);
		c->api->reply_int(r, "hops", e->hops);
		c->api->reply_int(r, "at_us", (long long)(e->wall * 1e6 + 0.5));
		c->api->reply_str(r, "text", e->text);
	}
}

/* Joins argv[from..] with single spaces into a malloc'd string. */
static char *join_args(int argc, const char *const *argv, int from)
{
	size_t len = 1;
	char *s;

	for (int i = from; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (int i = from; i < argc; i++) {
		if (i > from)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void cv1_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct cv1 *c = self;
	char id[CV1_ID_HEX + 1];
	char *text;

	if (argc < 1) {
		c->api->reply_usage(r, "commands: peers, join ADDR:PORT, send PID TEXT, "
		                        "broadcast TEXT, inbox");
	} else if (strcmp(argv[0], "peers") == 0 && argc == 1) {
		control_peers(c, r);
	} else if (strcmp(argv[0], "inbox") == 0 && argc == 1) {
		control_inbox(c, r);
	} else if (strcmp(argv[0], "join") == 0 && argc == 2) {
		if (cv1_node_join(c, argv[1]) < 0)
			c->api->reply_error(r, "'%s' is not a numeric ADDR:PORT", argv[1]);
	} else if (strcmp(argv[0], "send") == 0 && argc >= 3) {
		if ((text = join_args(argc, argv, 2)) == NULL) {
			c->api->reply_error(r, "out of memory");
			return;
		}
		if (!cv1_text_ok(text, strlen(text)))
			c->api->reply_error(r, "text must be printable ASCII");
		else if (cv1_peers_find(&c->peers, argv[1]) == NULL)
			c->api->reply_error(r, "no peer %s in the table", argv[1]);
		else if (cv1_node_send(c, argv[1], text, strlen(text)) < 0)
			c->api->reply_error(r, "could not send to %s", argv[1]);
		free(text);
	} else if (strcmp(argv[0], "broadcast") == 0 && argc >= 2) {
		if ((text = join_args(argc, argv, 1)) == NULL) {
			c->api->reply_error(r, "out of memory");
			return;
		}
		if (cv1_node_broadcast(c, text, strlen(text), id) < 0) {
			c->api->reply_error(r, "text must be printable ASCII");
		} else {
			struct cv1_inbox_entry *e = cv1_inbox_at(&c->inbox, c->inbox.count - 1);
			c->api->reply_str(r, "id", id);
			if (e != NULL)
				c->api->reply_int(r, "at_us", (long long)(e->wall * 1e6 + 0.5));
		}
		free(text);
	} else {
		c->api->reply_usage(r, "usage: peers | join ADDR:PORT | send PID TEXT | "
		                        "broadcast TEXT | inbox");
	}
}

static const char *const cv1_protocols[] = { "ClassicV1", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "classicv1",
	.version = CV1_VERSION,
	.description = "the original MaybeP2P protocol, with a flood broadcast and liveness",
	.protocols = cv1_protocols,
	.init = cv1_init,                    /* settings, empty tables, a new pid */
	.start = cv1_start,                  /* service, timer, bootstrap */
	.on_frame = cv1_on_frame,            /* JOIN LIST QUIT MESG CAPA GONE */
	.on_conn = cv1_on_conn,              /* dial failures, classic peers */
	.stop = cv1_stop,                    /* QUIT to every peer unless reloading */
	.destroy = cv1_destroy,
	.save_state = cv1_save_state,        /* pid, peers, inbox, ids seen */
	.restore_state = cv1_restore_state,
	.control = cv1_control,              /* peers join send broadcast inbox */
};
_Static_assert(CV1_QUIET_MAX == MP2P_CLASSICV1_QUIET_MAX, "the quiet limit is the one classicv1.h promises");

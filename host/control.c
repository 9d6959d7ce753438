/* control.c -- the unix socket maybep2pctl talks to, and the host's own
 * commands. A request is a 4-byte big-endian length and that many bytes of
 * NUL-terminated strings: the output form ("json" or "text"), then the
 * command and its arguments. The answer is one status byte ('0' done,
 * '1' failed, '2' usage) and the rendered reply, then the socket closes. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>

#define MAX_REQUEST 65536
#define MAX_ARGS 256

struct client {
	struct client *next, **pprev;   /* the host's list, freed at exit */
	struct host *h;
	struct bufferevent *bev;
	struct mp2p_reply *pending;  /* a deferred reply still owed to this client */
	int json;
};

static void client_free(struct client *cl)
{
	*cl->pprev = cl->next;
	if (cl->next)
		cl->next->pprev = cl->pprev;
	bufferevent_free(cl->bev);
	free(cl);
}

static void client_write(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	(void)bev;
	if (cl->pending == NULL)
		client_free(cl);
}

static void reply_discard(struct mp2p_reply *r, void *arg)
{
	(void)arg;
	reply_free(r);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;

	(void)bev;
	(void)what;
	/* The client left. A plugin may still finish its deferred reply:
	 * let that go nowhere instead of into freed memory. */
	if (cl->pending != NULL)
		reply_set_done(cl->pending, reply_discard, NULL);
	client_free(cl);
}

static void reply_send(struct mp2p_reply *r, void *arg)
{
	struct client *cl = arg;
	char status = (char)('0' + reply_status(r));
	char *text = reply_render(r, cl->json);

	cl->pending = NULL;
	bufferevent_write(cl->bev, &status, 1);
	if (text != NULL)
		bufferevent_write(cl->bev, text, strlen(text));
	free(text);
	reply_free(r);
	bufferevent_disable(cl->bev, EV_READ);
	bufferevent_enable(cl->bev, EV_WRITE);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *argv[MAX_ARGS];
	uint8_t lenb[4];
	uint32_t len;
	char *buf;
	int argc = 0;
	size_t off;
	struct mp2p_reply *r;

	if (evbuffer_get_length(in) < 4)
		return;
	evbuffer_copyout(in, lenb, 4);
	len = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 | lenb[3];
	if (len == 0 || len > MAX_REQUEST) {
		client_free(cl);
		return;
	}
	if (evbuffer_get_length(in) < 4 + (size_t)len)
		return;
	bufferevent_disable(bev, EV_READ);
	buf = (char *)evbuffer_pullup(in, 4 + (ev_ssize_t)len) + 4;
	if (buf[len - 1] != '\0') {
		client_free(cl);
		return;
	}
	for (off = 0; off < len && argc < MAX_ARGS; off += strlen(buf + off) + 1)
		argv[argc++] = buf + off;
	r = reply_new();
	if (r == NULL) {
		client_free(cl);
		return;
	}
	cl->json = strcmp(argv[0], "json") == 0;
	cl->pending = r;
	reply_set_done(r, reply_send, cl);
	if (argc < 2)
		reply_usage(r, "no command given");
	else
		control_dispatch(cl->h, r, argc - 1, argv + 1);
	if (!reply_is_deferred(r))
		reply_finish(r);
}

static void on_control_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
	struct host *h = arg;
	struct client *cl = calloc(1, sizeof(*cl));

	(void)l;
	(void)sa;
	(void)salen;
	if (cl == NULL || (cl->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(cl);
		evutil_closesocket(fd);
		return;
	}
	cl->h = h;
	cl->next = h->control_clients;
	if (cl->next)
		cl->next->pprev = &cl->next;
	cl->pprev = &h->control_clients;
	h->control_clients = cl;
	bufferevent_setcb(cl->bev, client_read, client_write, client_event, cl);
	bufferevent_set_timeouts(cl->bev, &h->tv_write, &h->tv_write);
	bufferevent_enable(cl->bev, EV_READ);
}

/* --- the host's commands --------------------------------------------- */

static void cmd_status(struct host *h, struct mp2p_reply *r)
{
	char listen[1024] = "", abi[16];
	size_t off = 0;
	int n = 0;

	for (int i = 0; i < h->nlisteners && off < sizeof(listen); i++) {
		int w = snprintf(listen + off, sizeof(listen) - off, "%s%s", i ? "," : "", h->listen_names[i]);
		if (w > 0)
			off += (size_t)w;
	}
	for (int i = 0; i < MAX_INSTANCES; i++)
		n += h->core.slots[i] != NULL;
	snprintf(abi, sizeof(abi), "%d.%d", MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
	reply_str(r, "id", h->id);
	reply_str(r, "peer_id", h->peer_id);
	reply_str(r, "security", security_mode_name(h->cfg.security_mode));
	reply_str(r, "version", HOST_VERSION);
	reply_str(r, "abi", abi);
	reply_int(r, "pid", (long long)getpid());
	reply_float(r, "uptime", host_now(h) - h->started);
	reply_str(r, "listen", listen);
	reply_str(r, "advertise", h->advertise);
	reply_int(r, "connections", h->nconns);
	reply_int(r, "plugins", n);
	reply_str(r, "config", h->config_path);
}

static void cmd_plugins(struct host *h, struct mp2p_reply *r)
{
	static const char *const states[] = { "new", "initialised", "running", "stopped" };

	for (int i = 0; i < MAX_INSTANCES; i++) {
		struct mp2p_host *in = h->core.slots[i];
		char protos[256] = "", abi[16];
		size_t off = 0;
		if (in == NULL)
			continue;
		for (const char *const *p = in->mod->desc.protocols; *p && off < sizeof(protos); p++) {
			int w = snprintf(protos + off, sizeof(protos) - off, "%s%s", off ? "," : "", *p);
			if (w > 0)
				off += (size_t)w;
		}
		snprintf(abi, sizeof(abi), "%u.%u", in->mod->desc.abi_major, in->mod->desc.abi_minor);
		reply_row(r);
		reply_str(r, "name", in->name);
		reply_str(r, "file", in->mod->path);
		reply_str(r, "plugin", in->mod->desc.name);
		reply_str(r, "version", in->mod->desc.version);
		reply_str(r, "abi", abi);
		reply_str(r, "protocols", protos);
		reply_str(r, "state", states[in->state]);
	}
}

static void cmd_stats(struct host *h, struct mp2p_reply *r)
{
	const struct host_stats *s = &h->stats;

	reply_int(r, "connections", h->nconns);
	reply_int(r, "inbound", h->nin);
	reply_int(r, "outbound", h->nout);
	reply_int(r, "accepted", (long long)s->accepted);
	reply_int(r, "closed", (long long)s->closed);
	reply_int(r, "refused_max_inbound", (long long)s->refused_limit);
	reply_int(r, "evicted_silent", (long long)s->evicted_silent);
	reply_int(r, "refused_per_ip", (long long)s->refused_per_ip);
	reply_int(r, "frames_in", (long long)s->frames_in);
	reply_int(r, "frames_out", (long long)s->frames_out);
	reply_int(r, "bytes_in", (long long)s->bytes_in);
	reply_int(r, "bytes_out", (long long)s->bytes_out);
	reply_int(r, "bad_frames", (long long)s->bad_frames);
	reply_int(r, "unknown_protocol", (long long)s->unknown_protocol);
	reply_int(r, "oversize_frames", (long long)s->oversize);
	reply_int(r, "timeouts_idle", (long long)s->timeouts_idle);
	reply_int(r, "timeouts_frame", (long long)s->timeouts_frame);
	reply_int(r, "timeouts_first_frame", (long long)s->timeouts_first_frame);
	reply_int(r, "timeouts_write", (long long)s->timeouts_write);
	reply_int(r, "timeouts_connect", (long long)s->timeouts_connect);
	reply_int(r, "output_overflows", (long long)s->output_overflow);
	reply_int(r, "buffered", (long long)h->buffered);
	reply_int(r, "dropped_buffered", (long long)s->dropped_buffered);
	reply_int(r, "dial_failures", (long long)s->dial_failures);
	reply_int(r, "dial_refused_claim", (long long)s->dial_refused_claim);
	reply_int(r, "dial_refused_deny", (long long)s->dial_refused_deny);
	reply_int(r, "dial_refused_self", (long long)s->dial_refused_self);
	reply_int(r, "dial_refused_rate", (long long)s->dial_refused_rate);
	reply_int(r, "dial_refused_pending", (long long)s->dial_refused_pending);
	reply_int(r, "dial_refused_outbound", (long long)s->dial_refused_outbound);
	reply_int(r, "reloads", (long long)s->reloads);
	reply_int(r, "reload_failures", (long long)s->reload_failures);
	reply_int(r, "tls_handshakes", (long long)s->tls_handshakes);
	reply_int(r, "tls_refused", (long long)s->tls_refused);
	reply_int(r, "metrics_refused", (long long)s->metrics_refused);
	for (int i = 0; i < MAX_INSTANCES; i++) {
		struct mp2p_host *in = h->core.slots[i];
		if (in == NULL)
			continue;
		const struct { const char *name; uint64_t value; } per[] = {
			{ "frames_in", in->frames_in }, { "frames_out", in->frames_out },
			{ "bytes_in", in->bytes_in }, { "bytes_out", in->bytes_out },
		};
		for (size_t k = 0; k < sizeof(per) / sizeof(per[0]); k++) {
			reply_row(r);
			reply_str(r, "plugin", in->name);
			reply_str(r, "counter", per[k].name);
			reply_int(r, "value", (long long)per[k].value);
		}
	}
	counters_list(&h->core, r);
}

static void stop_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	host_request_stop(arg);
}

void control_dispatch(struct host *h, struct mp2p_reply *r, int argc, const char *const *argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "plugins") == 0 ||
	    strcmp(cmd, "connections") == 0 || strcmp(cmd, "stats") == 0 ||
	    strcmp(cmd, "stop") == 0 || strcmp(cmd, "reload") == 0) {
		if (argc != 1) {
			reply_usage(r, "'%s' takes no arguments", cmd);
			return;
		}
	}
	if (strcmp(cmd, "status") == 0) {
		cmd_status(h, r);
	} else if (strcmp(cmd, "plugins") == 0) {
		cmd_plugins(h, r);
	} else if (strcmp(cmd, "connections") == 0) {
		conns_list(h, r);
	} else if (strcmp(cmd, "stats") == 0) {
		cmd_stats(h, r);
	} else if (strcmp(cmd, "reload") == 0) {
		char *error_text = NULL;
		int done = host_reload(h, &error_text);
		if (done == RELOAD_PARTIAL)
			reply_error(r, "reload applied, but not every plugin started:\n%s",
			            error_text ? error_text : "?");
		else if (done < 0)
			reply_error(r, "reload failed; the running plugins are unchanged:\n%s",
			            error_text ? error_text : "?");
		else
			reply_str(r, "reload", "done");
		free(error_text);
	} else if (strcmp(cmd, "stop") == 0) {
		reply_str(r, "stop", "stopping");
		/* After this reply is on its way, not before. */
		event_base_once(h->base, -1, EV_TIMEOUT, stop_soon, h, NULL);
	} else if (core_dispatch(&h->core, r, argc, argv) < 0) {
		reply_usage(r, "unknown command '%s': try status, plugins, connections, stats, "
		            "reload, stop, or a plugin instance name", cmd);
	}
}

/* --- the socket ------------------------------------------------------ */

/* A live daemon answers on the socket; a dead one left only the file. */
static int socket_in_use(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

int control_open(struct host *h, struct diag *errs)
{
	const char *path = h->cfg.control;
	struct sockaddr_un sun;
	char *dir, *slash, *error_text = NULL;
	struct stat st;
	mode_t old;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		diag_add(errs, "%s: control socket path '%s' is too long", h->cfg.path, path);
		return -1;
	}
	dir = strdup(path);
	if (dir != NULL && (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (state_mkdirs(dir, &error_text) < 0) {
			diag_add(errs, "control socket: %s", error_text);
			free(error_text);
			free(dir);
			return -1;
		}
	}
	free(dir);
	if (socket_in_use(path)) {
		diag_add(errs, "control socket %s is in use by another maybep2pd: stop it first or "
		         "set host.control to another path", path);
		return -1;
	}
	/* A stale socket from a daemon that died is replaced; anything else
	 * at that path is someone's file, and is left alone. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			diag_add(errs, "%s: host.control %s is %s, not a socket: refusing to replace it",
			         h->cfg.path, path, file_kind(st.st_mode));
			return -1;
		}
		unlink(path);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask(0077);
	h->control_listener = evconnlistener_new_bind(h->base, on_control_accept, h,
	                                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	                                              (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (h->control_listener == NULL) {
		diag_add(errs, "cannot create control socket %s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, 0600);
	h->control_path = strdup(path);
	return 0;
}

void control_close(struct host *h)
{
	while (h->control_clients != NULL) {
		struct client *cl = h->control_clients;
		if (cl->pending != NULL)
			reply_set_done(cl->pending, reply_discard, NULL);
		client_free(cl);
	}
	if (h->control_listener != NULL) {
		evconnlistener_free(h->control_listener);
		h->control_listener = NULL;
	}
	if (h->control_path != NULL) {
		unlink(h->control_path);
		free(h->control_path);
		h->control_path = NULL;
	}
}

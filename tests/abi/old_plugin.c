/* old_plugin.c -- a plugin built against the oldest 1.x headers
 * (tests/abi/include-1.0), which oldabi_test.py compiles and runs in the
 * current host to prove that every later 1.x host still loads it and that
 * each part of the 1.0 host API still does what it did.
 *
 * Protocol `abi10`. Every request frame is answered on its connection:
 *   PING x      PONG x                      (send; a counter; saved state)
 *   INFO        INFO "instance|host id|advertise|peer|state dir name|in"
 *   TICK        TOCK after a one-shot timer of 50 ms; TOCK again 3 times
 *               from a repeating timer when the payload is "repeat"
 *   DIAL a:p    DIAL "queued"; then a HELO frame goes to a:p (send_to),
 *               and on_conn(OPENED) sends OPEN to the requester
 *   SERV        SERV "5": the instance's own service, found and called
 *   PUBL x      PUBL "1:x": published on a topic it subscribes to
 *   RAND        RAND with 16 random bytes
 *   WTCH        WTCH "ready" once a pipe watched with watch_new is readable
 *   CLOS        BYE!, then the connection is closed after the flush
 * Control: `settings`, `pings`, `conns` (a table), `fail`, and anything
 * else is a usage error.
 */
#include <maybep2p/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if MP2P_ABI_MAJOR != 1 || MP2P_ABI_MINOR != 0
#error "old_plugin.c must be built against the 1.0 headers in tests/abi/include-1.0"
#endif

#define OLD_CONNS 16

struct old_service {             /* the service this plugin offers itself */
	uint32_t size;
	int (*add)(void *provider, int a, int b);
};

struct old {
	mp2p_host *host;
	long long number;            /* settings, echoed by `settings` */
	double ratio;
	int flag;
	char *word;
	char *list;                  /* the list setting joined with ',' */
	uint64_t *pings;             /* counter */
	uint64_t restored;           /* pings read back by restore_state */
	mp2p_timer *once, *repeat;
	mp2p_conn_id tick_conn, repeat_conn, dial_requester;
	int repeats;
	int pipe_fds[2];
	mp2p_watch *watch;
	mp2p_conn_id watch_conn;
	mp2p_conn_id conns[OLD_CONNS];   /* connections seen, for `conns` */
	char last_published[64];
};

static const struct mp2p_host_api *api;

static int old_add(void *provider, int a, int b)
{
	(void)provider;
	return a + b;
}

static const struct old_service old_service_table = { sizeof(struct old_service), old_add };

/* ---- settings and lifecycle ----------------------------------------------- */

static int old_init(const struct mp2p_host_api *host_api, mp2p_host *host,
                    const mp2p_config *cfg, void **self_out, char **error_text)
{
	static const char *const known[] = { "number", "ratio", "flag", "word", "list", NULL };
	const char *word = "none";
	struct old *o;
	int n;
	size_t len = 1;

	api = host_api;
	if (api->size < sizeof(struct mp2p_host_api) || api->abi_major != 1) {
		*error_text = strdup("host API table smaller than 1.0's");
		return -1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return -1;
	o->host = host;
	o->pipe_fds[0] = o->pipe_fds[1] = -1;
	if (api->config_check_keys(cfg, known, error_text) < 0 ||
	    api->config_get_int(cfg, "number", &o->number, error_text) < 0 ||
	    api->config_get_float(cfg, "ratio", &o->ratio, error_text) < 0 ||
	    api->config_get_bool(cfg, "flag", &o->flag, error_text) < 0 ||
	    api->config_get_string(cfg, "word", &word, error_text) < 0 ||
	    (n = api->config_list_length(cfg, "list", error_text)) < 0)
		goto fail;
	if (o->number < 0) {
		*error_text = api->config_error(cfg, "number", "must not be negative");
		goto fail;
	}
	if ((o->word = strdup(word)) == NULL)
		goto fail;
	for (int i = 0; i < n; i++)
		len += strlen(api->config_list_string(cfg, "list", i)) + 1;
	if ((o->list = calloc(1, len)) == NULL)
		goto fail;
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strcat(o->list, ",");
		strcat(o->list, api->config_list_string(cfg, "list", i));
	}
	o->pings = api->counter(host, "pings");
	*self_out = o;
	return 0;
fail:
	/* destroy() is not called when init() fails: free here. */
	free(o->word);
	free(o->list);
	free(o);
	return -1;
}

static void old_fire_once(void *arg);
static void old_fire_repeat(void *arg);

static int old_start(void *self, char **error_text)
{
	struct old *o = self;

	o->once = api->timer_new(o->host, old_fire_once, o);
	o->repeat = api->timer_new(o->host, old_fire_repeat, o);
	if (o->once == NULL || o->repeat == NULL ||
	    api->service_offer(o->host, "abi10.math", (1u << 16) | 0, &old_service_table, o) < 0) {
		*error_text = strdup("cannot create timers or offer the service");
		return -1;
	}
	return 0;
}

static void old_stop(void *self, enum mp2p_stop_reason reason)
{
	struct old *o = self;

	api->log(o->host, MP2P_LOG_INFO, "stopping (reason %d) after %llu pings", (int)reason,
	         o->pings ? (unsigned long long)*o->pings : 0ULL);
}

static void old_destroy(void *self)
{
	struct old *o = self;

	/* Timers and the watch are the host's to release; the pipe is ours. */
	if (o->pipe_fds[0] >= 0)
		close(o->pipe_fds[0]);
	if (o->pipe_fds[1] >= 0)
		close(o->pipe_fds[1]);
	free(o->word);
	free(o->list);
	free(o);
}

static int old_save(void *self, void **data_out, size_t *length_out, uint32_t *format_out)
{
	struct old *o = self;
	uint64_t total = (o->pings ? *o->pings : 0);
	unsigned char *b = malloc(8);

	if (b == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(total >> (56 - 8 * i));
	*data_out = b;
	*length_out = 8;
	*format_out = 10;
	return 0;
}

static int old_restore(void *self, const void *data, size_t length, uint32_t format,
                       char **error_text)
{
	struct old *o = self;
	const unsigned char *b = data;

	if (format != 10 || length != 8) {
		*error_text = strdup("not a state this build wrote");
		return -1;
	}
	o->restored = 0;
	for (int i = 0; i < 8; i++)
		o->restored = (o->restored << 8) | b[i];
	return 0;
}

/* ---- frames ------------------------------------------------------------------ */

static void old_fire_once(void *arg)
{
	struct old *o = arg;

	api->send(o->host, o->tick_conn, NULL, "TOCK", "once", 4);
}

static void old_fire_repeat(void *arg)
{
	struct old *o = arg;

	api->send(o->host, o->repeat_conn, NULL, "TOCK", "repeat", 6);
	if (++o->repeats == 3)
		api->timer_stop(o->host, o->repeat);
}

static void old_on_topic(void *arg, const char *topic, const void *data, size_t length)
{
	struct old *o = arg;

	snprintf(o->last_published, sizeof(o->last_published), "%.*s",
	         (int)(length < 60 ? length : 60), (const char *)data);
}

static void old_watch_ready(void *arg, int fd, unsigned events)
{
	struct old *o = arg;
	char c;

	if ((events & MP2P_WATCH_READ) && read(fd, &c, 1) == 1) {
		api->watch_free(o->host, o->watch);
		o->watch = NULL;
		api->send(o->host, o->watch_conn, NULL, "WTCH", "ready", 5);
	}
}

static void old_remember(struct old *o, mp2p_conn_id conn)
{
	for (int i = 0; i < OLD_CONNS; i++)
		if (o->conns[i] == conn)
			return;
	for (int i = 0; i < OLD_CONNS; i++)
		if (o->conns[i] == 0) {
			o->conns[i] = conn;
			return;
		}
}

static void old_info(struct old *o, mp2p_conn_id conn)
{
	struct mp2p_conn_info info;
	const char *dir = api->state_dir(o->host), *base = strrchr(dir, '/');
	char text[512];
	int n;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (api->conn_info(o->host, conn, &info) < 0)
		snprintf(info.peer, sizeof(info.peer), "?");
	n = snprintf(text, sizeof(text), "%s|%s|%s|%s|%s|%s", api->instance_name(o->host),
	             api->host_id(o->host), api->advertise(o->host), info.peer,
	             base ? base + 1 : dir, info.inbound ? "in" : "out");
	api->send(o->host, conn, NULL, "INFO", text, (size_t)n);
}

static void old_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct old *o = self;
	char text[128];
	void *provider = NULL;
	const struct old_service *svc;
	unsigned char rnd[16];
	int n;

	old_remember(o, conn);
	if (mp2p_type_is(f->type, "PING")) {
		if (api->send(o->host, conn, NULL, "PONG", f->payload, f->length) == 0 && o->pings)
			(*o->pings)++;
	} else if (mp2p_type_is(f->type, "INFO")) {
		old_info(o, conn);
	} else if (mp2p_type_is(f->type, "TICK")) {
		if (f->length == 6 && memcmp(f->payload, "repeat", 6) == 0) {
			o->repeat_conn = conn;
			o->repeats = 0;
			api->timer_start(o->host, o->repeat, 0.05, MP2P_TIMER_REPEAT);
		} else {
			o->tick_conn = conn;
			api->timer_start(o->host, o->once, 0.05, MP2P_TIMER_ONCE);
		}
	} else if (mp2p_type_is(f->type, "DIAL") && f->length > 0 && f->length < 64) {
		mp2p_conn_id out = 0;
		snprintf(text, sizeof(text), "%.*s", (int)f->length, (const char *)f->payload);
		o->dial_requester = conn;
		if (api->send_to(o->host, text, NULL, "HELO", "from abi10", 10, MP2P_SEND_REUSE, &out) == 0 &&
		    out != 0)
			api->send(o->host, conn, NULL, "DIAL", "queued", 6);
		else
			api->send(o->host, conn, NULL, "DIAL", "refused", 7);
	} else if (mp2p_type_is(f->type, "SERV")) {
		svc = api->service_find(o->host, "abi10.math", 1, 0, &provider);
		n = snprintf(text, sizeof(text), "%d", svc && provider == o ? svc->add(provider, 2, 3) : -1);
		api->send(o->host, conn, NULL, "SERV", text, (size_t)n);
	} else if (mp2p_type_is(f->type, "PUBL") && f->length < 60) {
		if (api->subscribe(o->host, "abi10.topic", old_on_topic, o) < 0)
			return;
		n = api->publish(o->host, "abi10.topic", f->payload, f->length);
		n = snprintf(text, sizeof(text), "%d:%s", n, o->last_published);
		api->send(o->host, conn, NULL, "PUBL", text, (size_t)n);
	} else if (mp2p_type_is(f->type, "RAND")) {
		api->random_bytes(o->host, rnd, sizeof(rnd));
		api->send(o->host, conn, NULL, "RAND", rnd, sizeof(rnd));
	} else if (mp2p_type_is(f->type, "WTCH")) {
		/* A pipe stands in for a worker thread's wake-up. */
		if (o->pipe_fds[0] < 0 && pipe(o->pipe_fds) < 0)
			return;
		o->watch_conn = conn;
		o->watch = api->watch_new(o->host, o->pipe_fds[0], MP2P_WATCH_READ, old_watch_ready, o);
		if (o->watch == NULL || write(o->pipe_fds[1], "x", 1) != 1)
			api->send(o->host, conn, NULL, "WTCH", "failed", 6);
	} else if (mp2p_type_is(f->type, "CLOS")) {
		api->send(o->host, conn, NULL, "BYE!", "", 0);
		api->conn_close(o->host, conn, 1);
	} else {
		api->log(o->host, MP2P_LOG_DEBUG, "dropped %.4s", f->type);
	}
}

static void old_on_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	struct old *o = self;
	char text[128];
	int n;

	if (ev->kind == MP2P_CONN_OPENED && o->dial_requester != 0) {
		n = snprintf(text, sizeof(text), "%s", ev->peer ? ev->peer : "?");
		api->send(o->host, o->dial_requester, NULL, "OPEN", text, (size_t)n);
	} else if (ev->kind == MP2P_CONN_CLOSED) {
		for (int i = 0; i < OLD_CONNS; i++)
			if (o->conns[i] == conn)
				o->conns[i] = 0;
	}
}

/* ---- control ----------------------------------------------------------------- */

static void old_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct old *o = self;
	struct mp2p_conn_info info;

	if (strcmp(argv[0], "settings") == 0) {
		api->reply_int(r, "number", o->number);
		api->reply_float(r, "ratio", o->ratio);
		api->reply_int(r, "flag", o->flag);
		api->reply_str(r, "word", o->word);
		api->reply_str(r, "list", o->list);
	} else if (strcmp(argv[0], "pings") == 0) {
		api->reply_int(r, "pings", o->pings ? (long long)*o->pings : -1);
		api->reply_int(r, "restored", (long long)o->restored);
	} else if (strcmp(argv[0], "conns") == 0) {
		for (int i = 0; i < OLD_CONNS; i++) {
			memset(&info, 0, sizeof(info));
			info.size = sizeof(info);
			if (o->conns[i] == 0 || api->conn_info(o->host, o->conns[i], &info) < 0)
				continue;
			api->reply_row(r);
			api->reply_int(r, "id", (long long)o->conns[i]);
			api->reply_str(r, "peer", info.peer);
		}
	} else if (strcmp(argv[0], "fail") == 0) {
		api->reply_error(r, "failed on purpose with %d argument%s", argc - 1, argc == 2 ? "" : "s");
	} else {
		api->reply_usage(r, "usage: settings | pings | conns | fail");
	}
}

static const char *const old_protocols[] = { "abi10", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "abi10",
	.version = "1.0.0",
	.description = "built against the 1.0 headers",
	.protocols = old_protocols,
	.init = old_init,
	.start = old_start,
	.on_frame = old_on_frame,
	.on_conn = old_on_conn,
	.stop = old_stop,
	.destroy = old_destroy,
	.save_state = old_save,
	.restore_state = old_restore,
	.control = old_control,
};

/* testplugin.c -- one source, built into the plugins the loader tests need:
 * a good one, and one for each way a plugin can be wrong. TP_KIND picks. */
#include <maybep2p/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_GOOD 0
#define TP_BAD_MAGIC 1
#define TP_MAJOR2 2
#define TP_NEW_MINOR 3
#define TP_NO_SYMBOL 4
#define TP_INIT_FAILS 5
#define TP_CLAIMS_ECHO 6
#define TP_FLAGS 7
#define TP_START_FAILS 8
#define TP_INIT_CRASH 9

#ifndef TP_KIND
#define TP_KIND TP_GOOD
#endif

static const struct mp2p_host_api *api;

struct tp {
	mp2p_host *host;
	long long answer;
	uint64_t asked;              /* kept across reloads and restarts */
	/* The last ANSR heard, and who the host says sent it. */
	char last_answer[32];
	struct mp2p_conn_info last_info;
	char last_closed[256];       /* why the last connection we dialled closed */
	uint64_t noisy;              /* NOIS frames heard: each one logs */
};

static int tp_init(const struct mp2p_host_api *a, mp2p_host *host, const mp2p_config *config,
                   void **self_out, char **error_text)
{
	static const char *const known[] = { "answer", NULL };
	struct tp *t;

	api = a;
	if (TP_KIND == TP_INIT_CRASH) {
		/* A plugin with a bug in init(): the host must survive it. */
		volatile int *nowhere = NULL;
		*nowhere = 1;
	}
	if (TP_KIND == TP_INIT_FAILS) {
		*error_text = strdup("the test plugin refuses to start: no frobnicator");
		return -1;
	}
	if (api->config_check_keys(config, known, error_text) < 0)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->host = host;
	t->answer = 42;
	if (api->config_get_int(config, "answer", &t->answer, error_text) < 0) {
		free(t);
		return -1;
	}
	if (t->answer < 0) {
		*error_text = api->config_error(config, "answer", "must not be negative");
		free(t);
		return -1;
	}
	*self_out = t;
	return 0;
}

/* ASK is answered with ANSR carrying the configured number. */
static void tp_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct tp *t = self;
	char buf[32];

	if (mp2p_type_is(f->type, "ASK ")) {
		t->asked++;
		snprintf(buf, sizeof(buf), "%lld", t->answer);
		api->send(t->host, conn, NULL, "ANSR", buf, strlen(buf));
	} else if (mp2p_type_is(f->type, "DIAL") && f->length < 64) {
		/* The most naive plugin there is: it dials whatever address a
		 * peer names, so the tests see the host's dial guard alone. The
		 * answer says whether the host agreed. */
		char addr[64];
		int rc;
		memcpy(addr, f->payload, f->length);
		addr[f->length] = '\0';
		rc = api->send_to(t->host, addr, NULL, "HELO", "", 0, MP2P_SEND_ONESHOT, NULL);
		api->send(t->host, conn, NULL, "DIAL", rc == 0 ? "ok" : "refused", rc == 0 ? 2 : 7);
	} else if (mp2p_type_is(f->type, "NOIS")) {
		/* A plugin that logs on every frame a peer sends: the host must
		 * hold the warnings to one a second, and keep every debug line. */
		t->noisy++;
		api->log(t->host, MP2P_LOG_WARN, "noisy frame %llu on conn %llu",
		         (unsigned long long)t->noisy, (unsigned long long)conn);
		api->log(t->host, MP2P_LOG_DEBUG, "quiet frame %llu", (unsigned long long)t->noisy);
	} else if (mp2p_type_is(f->type, "ANSR")) {
		snprintf(t->last_answer, sizeof(t->last_answer), "%.*s",
		         (int)(f->length < 31 ? f->length : 31), (const char *)f->payload);
		memset(&t->last_info, 0, sizeof(t->last_info));
		t->last_info.size = sizeof(t->last_info);
		api->conn_info(t->host, conn, &t->last_info);
	}
}

static void tp_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	struct tp *t = self;

	(void)conn;
	if (ev->kind == MP2P_CONN_CLOSED)
		snprintf(t->last_closed, sizeof(t->last_closed), "%s%s",
		         ev->established ? "" : "never established: ", ev->reason ? ev->reason : "");
}

/* State format 1: the number of questions asked, 8 bytes big-endian. */
static int tp_save(void *self, void **data_out, size_t *length_out, uint32_t *format_out)
{
	struct tp *t = self;
	unsigned char *b = malloc(8);

	if (b == NULL)
		return -1;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(t->asked >> (56 - 8 * i));
	*data_out = b;
	*length_out = 8;
	*format_out = 1;
	return 0;
}

static int tp_restore(void *self, const void *data, size_t length, uint32_t format,
                      char **error_text)
{
	struct tp *t = self;
	const unsigned char *b = data;

	if (format != 1 || length != 8) {
		*error_text = strdup("unknown state format");
		return -1;
	}
	t->asked = 0;
	for (int i = 0; i < 8; i++)
		t->asked = t->asked << 8 | b[i];
	return 0;
}

#if TP_KIND == TP_GOOD
/* An instance's handle kept past its life, as a plugin's deferred work
 * might keep one: the simulator's churn test kills the instance and then
 * calls the API with it (`keep`, then `poke ADDR`). A test plugin alone
 * may have such a global; a shipped plugin never does. */
static mp2p_host *kept;

static void tp_tick(void *arg)
{
	(void)arg;
}

static void stale_poke(mp2p_reply *reply, const char *addr)
{
	mp2p_timer *tm;
	uint64_t *pokes;
	int rc;

	if (kept == NULL) {
		api->reply_error(reply, "nothing kept");
		return;
	}
	rc = api->send_to_v2(kept, addr, NULL, "PING", "", 0, 0, NULL);
	api->reply_int(reply, "send_to", rc);
	api->reply_int(reply, "checkpoint", api->checkpoint(kept));
	api->reply_int(reply, "alive", api->instance_alive(kept, api->instance_id(kept)));
	if ((tm = api->timer_new(kept, tp_tick, NULL)) != NULL) {
		api->timer_start(kept, tm, 1.0, 0);
		api->timer_free(kept, tm);
	}
	if ((pokes = api->counter(kept, "pokes")) != NULL)
		(*pokes)++;
	if (rc != MP2P_OK)
		api->reply_error(reply, "send_to from the kept instance: %d", rc);
}
#endif

static void tp_control(void *self, mp2p_reply *reply, int argc, const char *const *argv)
{
	struct tp *t = self;

	mp2p_conn_id conn = 0;

	if (strcmp(argv[0], "asked") == 0 && argc == 1) {
		api->reply_int(reply, "asked", (long long)t->asked);
	} else if (strcmp(argv[0], "noisy") == 0 && argc == 1) {
		api->reply_int(reply, "noisy", (long long)t->noisy);
	} else if (strcmp(argv[0], "hang") == 0 && argc == 1) {
		/* A deferred reply that never comes: the host answers it only
		 * when this instance stops, so maybep2pctl -T must give up. */
		api->reply_defer(reply);
	} else if (strcmp(argv[0], "bytes") == 0 && argc == 1) {
		/* Text that is not UTF-8, as a peer's message may be: a stray
		 * byte, a truncated sequence, an overlong '/', a UTF-16
		 * surrogate, a code point past U+10FFFF, and valid text between. */
		api->reply_str(reply, "text", "ok \xff caf\xc3\xa9 \xe2\x82 \xc0\xaf \xed\xa0\x80 "
		               "\xf4\x90\x80\x80 \xf0\x9f\x99\x82 \x01 end");
	} else if (strcmp(argv[0], "ask") == 0 && (argc == 2 || argc == 3)) {
		/* ask ADDR [PEERID]: an ASK over a fresh connection, to that
		 * peer only if PEERID is given. */
		t->last_answer[0] = '\0';
		t->last_closed[0] = '\0';
		if (api->send_to_peer(t->host, argv[1], argc == 3 ? argv[2] : NULL, NULL, "ASK ", "", 0,
		                      MP2P_SEND_REUSE, &conn) < 0)
			api->reply_error(reply, "send_to_peer refused");
		else
			api->reply_int(reply, "conn", (long long)conn);
#if TP_KIND == TP_GOOD
	} else if (strcmp(argv[0], "keep") == 0 && argc == 1) {
		kept = t->host;
		api->reply_str(reply, "kept", api->instance_name(t->host));
	} else if (strcmp(argv[0], "poke") == 0 && argc == 2) {
		stale_poke(reply, argv[1]);
	} else if (strcmp(argv[0], "hello") == 0 && argc == 3) {
		/* hello ADDR N: N one-shot frames to ADDR at once, each on a
		 * connection of its own, for the simulator's limit tests. */
		long n = strtol(argv[2], NULL, 10), sent = 0;
		for (long i = 0; i < n && i < 1000; i++)
			sent += api->send_to(t->host, argv[1], NULL, "HELO", "", 0, MP2P_SEND_ONESHOT,
			                     NULL) == MP2P_OK;
		api->reply_int(reply, "sent", sent);
		api->reply_int(reply, "refused", n - sent);
#endif
	} else if (strcmp(argv[0], "last") == 0 && argc == 1) {
		api->reply_str(reply, "answer", t->last_answer);
		api->reply_int(reply, "authenticated", t->last_info.authenticated);
		api->reply_int(reply, "tls", t->last_info.tls);
		api->reply_str(reply, "peer_id", t->last_info.peer_id);
		api->reply_str(reply, "closed", t->last_closed);
	} else {
		api->reply_usage(reply, "usage: asked | noisy | hang | bytes | ask ADDR [PEERID] | last");
	}
}

static int tp_start(void *self, char **error_text)
{
	(void)self;
	if (TP_KIND == TP_START_FAILS) {
		*error_text = strdup("the test plugin cannot start: no frobnicator");
		return -1;
	}
	return 0;
}

/* Three lines from one call site: the host writes every line a plugin
 * logs from stop(), so all three must be in the log. */
static void tp_stop(void *self, enum mp2p_stop_reason why)
{
	struct tp *t = self;

	for (int i = 1; i <= 3; i++)
		api->log(t->host, MP2P_LOG_INFO, "stopping (reason %d): line %d of 3", (int)why, i);
}

static void tp_destroy(void *self)
{
	free(self);
}

static const char *const tp_protocols[] = { TP_KIND == TP_CLAIMS_ECHO ? "echo" : "tplug", NULL };

#if TP_KIND == TP_MAJOR2
/* What a plugin of a future major would export. */
MP2P_EXPORT extern const struct mp2p_plugin mp2p_plugin_v2;
MP2P_EXPORT const struct mp2p_plugin mp2p_plugin_v2 = {
	.magic = MP2P_PLUGIN_MAGIC, .abi_major = 2, .abi_minor = 0,
	.size = sizeof(struct mp2p_plugin),
#elif TP_KIND == TP_NO_SYMBOL
static const struct mp2p_plugin unexported __attribute__((used)) = {
	MP2P_PLUGIN_HEADER,
#elif TP_KIND == TP_BAD_MAGIC
MP2P_PLUGIN_DEFINE = {
	.magic = 0x12345678u, .abi_major = MP2P_ABI_MAJOR, .abi_minor = MP2P_ABI_MINOR,
	.size = sizeof(struct mp2p_plugin),
#elif TP_KIND == TP_FLAGS
/* A bit of the reserved flags set, as a later minor might define one. */
MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.flags = 0x4,
#elif TP_KIND == TP_NEW_MINOR
MP2P_PLUGIN_DEFINE = {
	.magic = MP2P_PLUGIN_MAGIC, .abi_major = MP2P_ABI_MAJOR, .abi_minor = MP2P_ABI_MINOR + 1,
	.size = sizeof(struct mp2p_plugin),
#else
MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
#endif
	.name = "testplugin",
	.version = "0.0.1",
	.protocols = tp_protocols,
	.init = tp_init,
	.start = tp_start,
	.stop = tp_stop,
	.on_frame = tp_frame,
	.on_conn = tp_conn,
	.destroy = tp_destroy,
	.save_state = tp_save,
	.restore_state = tp_restore,
	.control = tp_control,
};

/* echo.c -- the smallest complete plugin: PING is answered with PONG.
 *
 * Protocol `echo`: a PING frame is answered on the same connection with a
 * PONG frame carrying the same payload; a VERS frame is answered with a
 * VERS frame carrying this build's version, so a test can see which build
 * of the plugin is serving after a hot swap. It keeps no state and reads
 * no settings, which makes it the plugin to copy when starting a new one.
 */
#include <maybep2p/plugin.h>
#include <stdlib.h>
#include <string.h>

#ifndef ECHO_VERSION
#define ECHO_VERSION "1.0.0"
#endif

struct echo {
	const struct mp2p_host_api *api; /* kept here: a plugin keeps no globals */
	mp2p_host *host;
	uint64_t *pings;             /* frames answered, for `maybep2pctl stats` */
};

static int echo_init(const struct mp2p_host_api *api, mp2p_host *host,
                     const mp2p_config *config, void **self_out, char **error_text)
{
	static const char *const known[] = { NULL };
	struct echo *e;

	if (api->config_check_keys(config, known, error_text) < 0)
		return -1;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	e->api = api;
	e->host = host;
	e->pings = api->counter(host, "pings");
	*self_out = e;
	return 0;
}

static void echo_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct echo *e = self;
	const struct mp2p_host_api *api = e->api;

	if (mp2p_type_is(f->type, "PING")) {
		if (api->send(e->host, conn, NULL, "PONG", f->payload, f->length) == 0 && e->pings)
			(*e->pings)++;
	} else if (mp2p_type_is(f->type, "VERS")) {
		api->send(e->host, conn, NULL, "VERS", ECHO_VERSION, strlen(ECHO_VERSION));
	} else {
		api->log(e->host, MP2P_LOG_DEBUG, "dropped a %.4s frame", f->type);
	}
}

static void echo_control(void *self, mp2p_reply *reply, int argc, const char *const *argv)
{
	struct echo *e = self;
	const struct mp2p_host_api *api = e->api;

	if (strcmp(argv[0], "version") == 0) {
		api->reply_str(reply, "version", ECHO_VERSION);
	} else if (strcmp(argv[0], "stats") == 0) {
		api->reply_int(reply, "pings", e->pings ? (long long)*e->pings : 0);
	} else {
		api->reply_usage(reply, "unknown command '%s' (try: version, stats)", argv[0]);
	}
}

static void echo_destroy(void *self)
{
	free(self);
}

static const char *const echo_protocols[] = { "echo", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "echo",
	.version = ECHO_VERSION,
	.description = "answers PING with PONG; the example plugin",
	.protocols = echo_protocols,
	.init = echo_init,
	.on_frame = echo_on_frame,
	.control = echo_control,
	.destroy = echo_destroy,
};

/* greet.c -- a complete MaybeP2P plugin: a HELO frame is answered with a greeting. */
#include <maybep2p/plugin.h>
#include <stdlib.h>
#include <string.h>
enum { GREET_NAME_MAX = 64, GREET_TEXT_MAX = 200 };   /* longest name, greeting */

struct greet {
	const struct mp2p_host_api *api;   /* the host's functions: no globals */
	mp2p_host *host;         /* ours from init() to destroy() */
	char *greeting;          /* copied: config strings die with init() */
	uint64_t *greeted;       /* a counter `maybep2pctl stats` shows */
};

static int greet_init(const struct mp2p_host_api *api, mp2p_host *host,
                      const mp2p_config *config, void **self_out, char **error_text)
{
	static const char *const known[] = { "greeting", NULL };
	const char *greeting = "hello";          /* the default, kept if unset */
	struct greet *g;

	if (api->config_check_keys(config, known, error_text) < 0 ||
	    api->config_get_string(config, "greeting", &greeting, error_text) < 0)
		return -1;
	if (strlen(greeting) > GREET_TEXT_MAX) {
		*error_text = api->config_error(config, "greeting", "over %d bytes", GREET_TEXT_MAX);
		return -1;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->greeting = strdup(greeting)) == NULL) {
		free(g);
		return -1;
	}
	g->api = api;
	g->host = host;
	g->greeted = api->counter(host, "greeted");
	*self_out = g;
	return 0;
}

static void greet_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct greet *g = self;
	char text[GREET_TEXT_MAX + 2 + GREET_NAME_MAX];
	size_t len = strlen(g->greeting);

	if (!mp2p_type_is(f->type, "HELO") || f->length > GREET_NAME_MAX) {   /* from the network: check */
		g->api->log(g->host, MP2P_LOG_DEBUG, "dropped %.4s frame of %u bytes", f->type, f->length);
		return;
	}
	memcpy(text, g->greeting, len);
	memcpy(text + len, ", ", 2);
	memcpy(text + len + 2, f->payload, f->length);
	if (g->api->send(g->host, conn, NULL, "HELO", text, len + 2 + f->length) == 0 && g->greeted)
		(*g->greeted)++;
}

static void greet_control(void *self, mp2p_reply *reply, int argc, const char *const *argv)
{
	struct greet *g = self;
	if (strcmp(argv[0], "greeted") == 0 && argc == 1)
		g->api->reply_int(reply, "greeted", g->greeted ? (long long)*g->greeted : 0);
	else
		g->api->reply_usage(reply, "usage: greeted");
}

static void greet_destroy(void *self)
{
	free(((struct greet *)self)->greeting);
	free(self);
}

MP2P_PLUGIN_DEFINE = {          /* the one exported symbol: what the host reads first */
	MP2P_PLUGIN_HEADER, .name = "greet", .version = "1.0.0",
	.protocols = (const char *const[]){ "greet", NULL },
	.init = greet_init,
	.on_frame = greet_on_frame,
	.control = greet_control,
	.destroy = greet_destroy,
};

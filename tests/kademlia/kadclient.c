/* kadclient.c -- a test plugin that uses the kademlia service (put, get,
 * find_node) the way another plugin would, driven by control commands.
 *
 *   put KEY VALUE      deferred; answers {"status", "stored"}
 *   get KEY            deferred; answers {"status", "value"}
 *   find HEXID         deferred; answers {"status", "count"} and rows of ids
 *   start-get KEY      starts a get and answers at once; the result is kept
 *   result             the kept result: {"calls", "status", "value"}
 *
 * Its only protocol name is never spoken: it exists to be a service caller
 * that can be reloaded while its requests are outstanding. */
#include <maybep2p/kademlia.h>
#include <maybep2p/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mp2p_host_api *api;

struct client {
	mp2p_host *host;
	int calls;
	int status;
	char value[256];
};

static const struct mp2p_kademlia_service *find_kad(struct client *c, void **prov)
{
	return api->service_find(c->host, MP2P_KADEMLIA_SERVICE, MP2P_KADEMLIA_MAJOR,
	                         MP2P_KADEMLIA_MINOR, prov);
}

static void put_done(void *arg, int status, int stored)
{
	mp2p_reply *r = arg;

	api->reply_int(r, "status", status);
	api->reply_int(r, "stored", stored);
	api->reply_finish(r);
}

static void get_done(void *arg, int status, const void *value, size_t len)
{
	mp2p_reply *r = arg;
	char text[256];

	api->reply_int(r, "status", status);
	if (value != NULL) {
		snprintf(text, sizeof(text), "%.*s", (int)(len < 255 ? len : 255), (const char *)value);
		api->reply_str(r, "value", text);
	}
	api->reply_finish(r);
}

static void nodes_done(void *arg, int status, const struct mp2p_kad_node *nodes, int count)
{
	mp2p_reply *r = arg;
	char hex[2 * MP2P_KAD_ID_LEN + 1];

	api->reply_int(r, "status", status);
	api->reply_int(r, "count", count);
	for (int i = 0; i < count; i++) {
		for (int j = 0; j < MP2P_KAD_ID_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", nodes[i].id[j]);
		api->reply_row(r);
		api->reply_str(r, "id", hex);
		api->reply_str(r, "addr", nodes[i].addr);
	}
	api->reply_finish(r);
}

static void kept_done(void *arg, int status, const void *value, size_t len)
{
	struct client *c = arg;

	c->calls++;
	c->status = status;
	snprintf(c->value, sizeof(c->value), "%.*s", value ? (int)(len < 255 ? len : 255) : 0,
	         value ? (const char *)value : "");
}

static int parse_id(const char *hex, uint8_t id[MP2P_KAD_ID_LEN])
{
	if (strlen(hex) != 2 * MP2P_KAD_ID_LEN)
		return -1;
	for (int i = 0; i < MP2P_KAD_ID_LEN; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
	}
	return 0;
}

static void client_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct client *c = self;
	const struct mp2p_kademlia_service *kad;
	void *prov;
	int rc = -1;

	if (strcmp(argv[0], "result") == 0) {
		api->reply_int(r, "calls", c->calls);
		api->reply_int(r, "status", c->status);
		api->reply_str(r, "value", c->value);
		return;
	}
	if ((kad = find_kad(c, &prov)) == NULL) {
		api->reply_error(r, "no kademlia service");
		return;
	}
	if (strcmp(argv[0], "put") == 0 && argc == 3) {
		api->reply_defer(r);
		rc = kad->put(prov, c->host, argv[1], strlen(argv[1]), argv[2], strlen(argv[2]), 0,
		              put_done, r);
	} else if (strcmp(argv[0], "get") == 0 && argc == 2) {
		api->reply_defer(r);
		rc = kad->get(prov, c->host, argv[1], strlen(argv[1]), get_done, r);
	} else if (strcmp(argv[0], "find") == 0 && argc == 2) {
		uint8_t id[MP2P_KAD_ID_LEN];
		if (parse_id(argv[1], id) < 0) {
			api->reply_usage(r, "find HEXID");
			return;
		}
		api->reply_defer(r);
		rc = kad->find_node(prov, c->host, id, nodes_done, r);
	} else if (strcmp(argv[0], "start-get") == 0 && argc == 2) {
		if (kad->get(prov, c->host, argv[1], strlen(argv[1]), kept_done, c) < 0)
			api->reply_error(r, "refused");
		return;
	} else {
		api->reply_usage(r, "put K V | get K | find HEXID | start-get K | result");
		return;
	}
	if (rc < 0) {
		/* Refused at once: no callback will come, so answer now. */
		api->reply_error(r, "refused");
		api->reply_finish(r);
	}
}

static int client_init(const struct mp2p_host_api *a, mp2p_host *host,
                       const mp2p_config *config, void **self_out, char **error_text)
{
	static const char *const known[] = { "generation", NULL };
	struct client *c;

	api = a;
	if (api->config_check_keys(config, known, error_text) < 0)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->host = host;
	c->status = -1;
	*self_out = c;
	return 0;
}

static void client_destroy(void *self)
{
	free(self);
}

static const char *const client_protocols[] = { "kadclient", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "kadclient",
	.version = "1.0.0",
	.description = "test plugin: calls the kademlia service",
	.protocols = client_protocols,
	.init = client_init,
	.destroy = client_destroy,
	.control = client_control,
};

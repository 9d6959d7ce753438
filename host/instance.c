/* instance.c -- a plugin instance's life: load, init, restore, start, save,
 * stop, destroy; and the table that routes a protocol name to it. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *plugin_path(const struct host_config *c, const char *file)
{
	if (file[0] == '/')
		return strdup(file);
	return str_printf("%s/%s", c->plugin_dir, file);
}

/* init()'s own text, placed at the plugin's entry in the config unless it
 * already names a place (config_error() texts do). */
static void init_failed(struct diag *errs, const struct host_config *c,
                        const struct plugin_conf *pc, char *text)
{
	size_t n = strlen(c->path);

	if (text != NULL && strncmp(text, c->path, n) == 0 && text[n] == ':')
		diag_add(errs, "%s", text);
	else
		diag_add(errs, "%s:%d: plugin '%s': init failed: %s", c->path, pc->line, pc->name,
		         text ? text : "(no reason given)");
	free(text);
}

struct mp2p_host *instance_create_from(struct core *core, const struct host_config *c,
                                       const struct plugin_conf *pc, struct module *mod,
                                       const struct config_override *over, int nover,
                                       struct diag *errs)
{
	struct mp2p_config cfg = { pc->config, pc->name, c->path, pc->line, over, nover };
	struct mp2p_host *in;
	char *error_text = NULL;
	int rc;

	in = calloc(1, sizeof(*in));
	if (in == NULL) {
		diag_add(errs, "out of memory");
		return NULL;
	}
	in->core = core;
	in->slot = -1;
	in->id = ++core->next_instance_id;
	in->name = strdup(pc->name);
	in->file = strdup(pc->file);
	in->config_text = strdup(pc->config_text ? pc->config_text : "{}");
	/* c, not core->cfg: during a reload the new config is not yet the host's. */
	if (c->state_dir != NULL)
		in->state_dir = str_printf("%s/%s", c->state_dir, pc->name);
	mod->refs++;
	in->mod = mod;
	in->config = &cfg;
	in->lifecycle++;
	rc = in->mod->desc.init(&host_api, in, &cfg, &in->self, &error_text);
	in->lifecycle--;
	if (rc != 0) {
		in->config = NULL;
		init_failed(errs, c, pc, error_text);
		/* init() failed and owns nothing we could free: drop the module. */
		timers_release(in);
		instance_destroy(in);
		return NULL;
	}
	in->config = NULL;
	in->state = INST_INITED;
	return in;
}

int instance_restore(struct mp2p_host *in, const void *data, size_t len, uint32_t format)
{
	char *error_text = NULL;
	int rc;

	if (in->mod->desc.restore_state == NULL)
		return 0;
	if (in->origin == MP2P_ORIGIN_FRESH)
		in->origin = MP2P_ORIGIN_RESTART;
	in->lifecycle++;
	rc = in->mod->desc.restore_state(in->self, data, len, format, &error_text);
	in->lifecycle--;
	if (rc != 0) {
		log_msg(HLOG_WARN, "%s: could not read its saved state (format %u, %zu bytes): %s; "
		        "starting empty", in->name, format, len, error_text ? error_text : "no reason given");
		free(error_text);
		return -1;
	}
	return 0;
}

int instance_start(struct mp2p_host *in, struct diag *errs)
{
	char *error_text = NULL;
	int rc;

	if (in->state_dir != NULL)
		state_mkdirs(in->state_dir, &error_text);
	if (error_text != NULL) {
		log_msg(HLOG_WARN, "%s: %s", in->name, error_text);
		free(error_text);
		error_text = NULL;
	}
	in->state = INST_RUNNING;
	in->lifecycle++;
	rc = in->mod->desc.start != NULL ? in->mod->desc.start(in->self, &error_text) : 0;
	in->lifecycle--;
	if (rc != 0) {
		diag_add(errs, "plugin '%s' (%s): start failed: %s", in->name, in->mod->path,
		         error_text ? error_text : "(no reason given)");
		free(error_text);
		in->state = INST_STOPPED;
		return -1;
	}
	return 0;
}

/* 0 with the blob (which may be empty), or -1: nothing to save. */
int instance_save(struct mp2p_host *in, void **data, size_t *len, uint32_t *format)
{
	int rc;

	*data = NULL;
	*len = 0;
	*format = 0;
	if (in->mod->desc.save_state == NULL || in->self == NULL)
		return -1;
	in->lifecycle++;
	rc = in->mod->desc.save_state(in->self, data, len, format);
	in->lifecycle--;
	if (rc != 0) {
		free(*data);
		*data = NULL;
		*len = 0;
		return -1;
	}
	return 0;
}

/* Stopping is two steps so that at shutdown every instance's stop() runs
 * while every service is still offered (plugin.h, ORDER): the host calls
 * stop() on each, and only then withdraws what they offered. */
void instance_stop_begin(struct mp2p_host *in, enum mp2p_stop_reason why)
{
	if (in->state != INST_RUNNING || in->stop_called)
		return;
	in->stop_called = 1;
	in->lifecycle++;
	if (in->mod->desc.stop != NULL)
		in->mod->desc.stop(in->self, why);
	in->lifecycle--;
}

void instance_stop_end(struct mp2p_host *in)
{
	if (in->state != INST_RUNNING)
		return;
	in->state = INST_STOPPED;
	timers_pause(in);
	services_release(in->core, in);
}

void instance_stop(struct mp2p_host *in, enum mp2p_stop_reason why)
{
	instance_stop_begin(in, why);
	instance_stop_end(in);
}

void instance_destroy(struct mp2p_host *in)
{
	if (in == NULL)
		return;
	if (in->state == INST_RUNNING)
		instance_stop(in, MP2P_STOP_SHUTDOWN);
	services_release(in->core, in);
	reply_abandon_owner(in);
	in->lifecycle++;
	if (in->self != NULL && in->mod != NULL)
		in->mod->desc.destroy(in->self);
	in->lifecycle--;
	in->self = NULL;
	plog_release(in);       /* quotes the module's formats: before it goes */
	timers_release(in);
	if (in->slot >= 0 && in->core->slots[in->slot] == in)
		in->core->slots[in->slot] = NULL;
	loader_close(in->mod);
	free(in->name);
	free(in->file);
	free(in->config_text);
	free(in->state_dir);
	free(in);
}

struct mp2p_host *instance_by_name(struct core *h, const char *name)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (h->slots[i] != NULL && strcmp(h->slots[i]->name, name) == 0)
			return h->slots[i];
	return NULL;
}

struct mp2p_host *route_protocol(struct core *h, const char *protocol)
{
	for (int i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].protocol, protocol) == 0)
			return h->routes[i].inst;
	return NULL;
}

/* Builds the routing table for a set of instances, refusing two that claim
 * one protocol. Only on success does it replace the host's table. */
int routes_build(struct core *h, struct mp2p_host **set, int n, struct diag *errs)
{
	struct route *routes = NULL;
	int nroutes = 0, before = errs->count;

	for (int i = 0; i < n; i++) {
		if (set[i] == NULL)
			continue;
		for (const char *const *p = set[i]->mod->desc.protocols; *p; p++) {
			struct route *r;
			for (int j = 0; j < nroutes; j++)
				if (strcmp(routes[j].protocol, *p) == 0)
					diag_add(errs, "protocol '%s' is claimed by both plugin '%s' (%s) and plugin '%s' (%s)",
					         *p, routes[j].inst->name, routes[j].inst->mod->path,
					         set[i]->name, set[i]->mod->path);
			r = realloc(routes, sizeof(*routes) * (size_t)(nroutes + 1));
			if (r == NULL) {
				free(routes);
				diag_add(errs, "out of memory");
				return -1;
			}
			routes = r;
			snprintf(routes[nroutes].protocol, sizeof(routes[nroutes].protocol), "%s", *p);
			routes[nroutes++].inst = set[i];
		}
	}
	if (errs->count > before) {
		free(routes);
		return -1;
	}
	free(h->routes);
	h->routes = routes;
	h->nroutes = nroutes;
	return 0;
}

int core_dispatch(struct core *core, struct mp2p_reply *r, int argc, const char *const *argv)
{
	struct mp2p_host *in = instance_by_name(core, argv[0]);

	if (in == NULL)
		return -1;
	if (argc < 2) {
		reply_usage(r, "usage: %s COMMAND [ARG...]", argv[0]);
	} else if (in->mod->desc.control == NULL || in->state != INST_RUNNING) {
		reply_error(r, "plugin '%s' takes no commands", argv[0]);
	} else {
		reply_set_owner(r, in);
		in->mod->desc.control(in->self, r, argc - 1, argv + 1);
	}
	return 0;
}

/* The protocol a frame from `in` travels under: `protocol` if the plugin
 * declared it, its first protocol when `protocol` is NULL. Both front ends
 * send through this, so a plugin can never speak another's protocol. */
int instance_protocol(struct mp2p_host *in, const char *protocol, const char **out)
{
	const char *const *p = in->mod->desc.protocols;

	if (protocol == NULL) {
		*out = p[0];
		return 0;
	}
	for (; *p; p++) {
		if (strcmp(*p, protocol) == 0) {
			*out = *p;
			return 0;
		}
	}
	return -1;
}

/* api.c -- the table of host functions every plugin receives at init. Each
 * entry checks what a plugin hands it and fails politely: a plugin's
 * mistake must not become the host's crash. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- identity, time, logs, counters -------------------------------- */

/* A peer can make a plugin log: plog.c holds each call site to its share. */
static void api_log(mp2p_host *in, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	plog_vlog(in, level, fmt, ap);
	va_end(ap);
}

static void api_vlog(mp2p_host *in, int level, const char *fmt, va_list ap)
{
	plog_vlog(in, level, fmt, ap);
}

static const char *api_instance_name(mp2p_host *in) { return in->name; }
static const char *api_host_id(mp2p_host *in) { return in->core->id; }
static const char *api_advertise(mp2p_host *in) { return in->core->advertise; }
static const char *api_state_dir(mp2p_host *in) { return in->state_dir; }
static const char *api_peer_id(mp2p_host *in) { return in->core->peer_id; }
static int api_security(mp2p_host *in) { return in->core->cfg->security_mode; }

/* Signing is the front end's: the daemon holds the host key; a front
 * end without keys leaves io->sign NULL and plugins keep their own. */
static int api_sign(mp2p_host *in, const void *msg, size_t len,
                    uint8_t sig_out[MP2P_SIGNATURE_LEN], uint8_t pub_out[MP2P_PUBLIC_KEY_LEN])
{
	if ((sig_out == NULL && pub_out == NULL) || in->core->io->sign == NULL)
		return -1;
	return in->core->io->sign(in->core, msg, len, sig_out, pub_out) == 0 ? MP2P_OK : -1;
}

/* Time and randomness come from the front end: the daemon's clocks and
 * getrandom(), or the simulator's virtual clock and per-node streams. */
static double api_now(mp2p_host *in) { return in->core->io->now(in->core); }
static double api_wall_now(mp2p_host *in) { return in->core->io->wall_now(in->core); }

static void api_random_bytes(mp2p_host *in, void *buf, size_t len)
{
	in->core->io->random_bytes(in->core, buf, len);
}

/* Counters live with the host, keyed by instance and counter name, so a
 * swapped instance's successor carries on counting where it left off. */
struct counter_set {
	struct counter_set *next;
	char *instance;
	char *name;
	uint64_t value;
};

uint64_t *counters_get(struct core *h, const char *instance, const char *name)
{
	struct counter_set *c;

	for (c = h->counters; c != NULL; c = c->next)
		if (strcmp(c->instance, instance) == 0 && strcmp(c->name, name) == 0)
			return &c->value;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->instance = strdup(instance);
	c->name = strdup(name);
	if (c->instance == NULL || c->name == NULL) {
		free(c->instance);
		free(c->name);
		free(c);
		return NULL;
	}
	c->next = h->counters;
	h->counters = c;
	return &c->value;
}

void counters_list(struct core *h, struct mp2p_reply *r)
{
	for (struct counter_set *c = h->counters; c != NULL; c = c->next) {
		reply_row(r);
		reply_str(r, "plugin", c->instance);
		reply_str(r, "counter", c->name);
		reply_int(r, "value", (long long)c->value);
	}
}

void counters_each(struct core *h, void (*fn)(void *, const char *, const char *, uint64_t),
                    void *arg)
{
	for (struct counter_set *c = h->counters; c != NULL; c = c->next)
		fn(arg, c->instance, c->name, c->value);
}

void counters_free(struct core *h)
{
	while (h->counters != NULL) {
		struct counter_set *c = h->counters;
		h->counters = c->next;
		free(c->instance);
		free(c->name);
		free(c);
	}
}

static uint64_t *api_counter(mp2p_host *in, const char *name)
{
	return counters_get(in->core, in->name, name);
}

/* --- config --------------------------------------------------------- */

static const config_setting_t *member(const mp2p_config *c, const char *key)
{
	if (c == NULL || c->group == NULL || key == NULL)
		return NULL;
	return config_setting_get_member(c->group, key);
}

static char *vwhere(const mp2p_config *c, const char *key, const char *fmt, va_list ap)
{
	const config_setting_t *s = member(c, key);
	char *msg = str_vprintf(fmt, ap), *out;
	int line = c->line;

	if (s != NULL)
		line = (int)config_setting_source_line(s);
	else if (c->group != NULL)
		line = (int)config_setting_source_line(c->group);
	if (key != NULL)
		out = str_printf("%s:%d: plugin %s: setting '%s': %s", c->file, line, c->instance, key,
		                 msg ? msg : "?");
	else
		out = str_printf("%s:%d: plugin %s: %s", c->file, line, c->instance, msg ? msg : "?");
	free(msg);
	return out;
}

static char *api_config_error(const mp2p_config *c, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vwhere(c, key, fmt, ap);
	va_end(ap);
	return s;
}

static int type_error(const mp2p_config *c, const char *key, const char *want, char **error_text)
{
	if (error_text != NULL)
		*error_text = api_config_error(c, key, "must be %s", want);
	return -1;
}

static int api_config_check_keys(const mp2p_config *c, const char *const *known, char **error_text)
{
	if (c == NULL || c->group == NULL)
		return 0;
	for (int i = 0; i < config_setting_length(c->group); i++) {
		const config_setting_t *s = config_setting_get_elem(c->group, (unsigned)i);
		const char *name = config_setting_name(s);
		int ok = 0;
		for (const char *const *k = known; k && *k; k++)
			if (name != NULL && strcmp(name, *k) == 0)
				ok = 1;
		if (!ok) {
			if (error_text != NULL)
				*error_text = api_config_error(c, name, "unknown setting");
			return -1;
		}
	}
	return 0;
}

static int api_config_get_int(const mp2p_config *c, const char *key, long long *out, char **error_text)
{
	const config_setting_t *s = member(c, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return type_error(c, key, "an integer", error_text);
	*out = config_setting_get_int64(s);
	return 1;
}

static int api_config_get_float(const mp2p_config *c, const char *key, double *out, char **error_text)
{
	const config_setting_t *s = member(c, key);

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT: *out = config_setting_get_float(s); return 1;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: *out = (double)config_setting_get_int64(s); return 1;
	default: return type_error(c, key, "a number", error_text);
	}
}

static int api_config_get_bool(const mp2p_config *c, const char *key, int *out, char **error_text)
{
	const config_setting_t *s = member(c, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return type_error(c, key, "true or false", error_text);
	*out = config_setting_get_bool(s);
	return 1;
}

static int api_config_get_string(const mp2p_config *c, const char *key, const char **out,
                                 char **error_text)
{
	const config_setting_t *s = member(c, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return type_error(c, key, "a string", error_text);
	*out = config_setting_get_string(s);
	return 1;
}

/* A front end's value for `key` in place of the shared group's, or NULL. */
static const struct config_override *override_of(const mp2p_config *c, const char *key)
{
	if (c == NULL || key == NULL)
		return NULL;
	for (int i = 0; i < c->nover; i++)
		if (strcmp(c->over[i].key, key) == 0)
			return &c->over[i];
	return NULL;
}

static int api_config_list_length(const mp2p_config *c, const char *key, char **error_text)
{
	const struct config_override *o = override_of(c, key);
	const config_setting_t *s = member(c, key);
	int n;

	if (o != NULL)
		return o->n;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return type_error(c, key, "a list of strings [ \"...\", ... ]", error_text);
	n = config_setting_length(s);
	for (int i = 0; i < n; i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
			return type_error(c, key, "a list of strings [ \"...\", ... ]", error_text);
	return n;
}

static const char *api_config_list_string(const mp2p_config *c, const char *key, int index)
{
	const struct config_override *o = override_of(c, key);
	const config_setting_t *s = member(c, key), *e;

	if (o != NULL)
		return index >= 0 && index < o->n ? o->list[index] : NULL;
	if (s == NULL || index < 0 || (e = config_setting_get_elem(s, (unsigned)index)) == NULL)
		return NULL;
	return config_setting_get_string(e);
}

/* --- frames and connections ----------------------------------------- */

/* The flags a host of this minor knows; others are refused, not ignored,
 * so a plugin never believes a request was honoured. */
#define SEND_FLAGS (MP2P_SEND_ONESHOT | MP2P_SEND_NOWAIT | MP2P_SEND_OWNED | MP2P_SEND_PLAINTEXT)

static int api_send_v2(mp2p_host *in, mp2p_conn_id conn, const char *protocol, const char *type,
                       const void *payload, size_t length, unsigned flags)
{
	if ((flags & ~(unsigned)(MP2P_SEND_NOWAIT | MP2P_SEND_OWNED)) || type == NULL ||
	    (payload == NULL && length > 0))
		return MP2P_ERR_INVALID;
	if (in->state != INST_RUNNING)
		return MP2P_ERR_REFUSED;
	return in->core->io->send(in->core, in, conn, protocol, type, payload, length, flags);
}

static int api_send_to_v2(mp2p_host *in, const char *addr, const char *protocol, const char *type,
                          const void *payload, size_t length, unsigned flags,
                          mp2p_conn_id *conn_out)
{
	if (addr == NULL || (flags & ~(unsigned)SEND_FLAGS) || type == NULL ||
	    (payload == NULL && length > 0))
		return MP2P_ERR_INVALID;
	if (in->state != INST_RUNNING)
		return MP2P_ERR_REFUSED;
	return in->core->io->send_to(in->core, in, addr, 0, protocol, type, payload, length, flags, NULL,
	                    conn_out);
}

/* The 1.0 entries: the same, with one -1 for every failure. */
static int api_send(mp2p_host *in, mp2p_conn_id conn, const char *protocol, const char *type,
                    const void *payload, size_t length)
{
	return api_send_v2(in, conn, protocol, type, payload, length, 0) < 0 ? -1 : 0;
}

static int api_send_to(mp2p_host *in, const char *addr, const char *protocol, const char *type,
                       const void *payload, size_t length, unsigned flags, mp2p_conn_id *conn_out)
{
	/* A 1.0 plugin knew one flag and 1.0 hosts ignored the other bits. */
	if (in->mod->desc.abi_minor == 0)
		flags &= MP2P_SEND_ONESHOT;
	return api_send_to_v2(in, addr, protocol, type, payload, length, flags, conn_out) < 0 ? -1 : 0;
}

static int api_send_claimed(mp2p_host *in, mp2p_conn_id claimed_on, const char *addr,
                            const char *protocol, const char *type, const void *payload,
                            size_t length, unsigned flags, mp2p_conn_id *conn_out)
{
	/* 0 is never a connection: a claim with no connection is no claim. */
	if (in->state != INST_RUNNING || addr == NULL || claimed_on == 0 ||
	    (flags & ~(unsigned)SEND_FLAGS))
		return -1;
	return in->core->io->send_to(in->core, in, addr, claimed_on, protocol, type, payload, length,
	                    flags, NULL, conn_out) < 0 ? -1 : 0;
}

static int api_send_to_peer(mp2p_host *in, const char *addr, const char *peer_id,
                            const char *protocol, const char *type, const void *payload,
                            size_t length, unsigned flags, mp2p_conn_id *conn_out)
{
	if (in->state != INST_RUNNING || addr == NULL || type == NULL ||
	    (payload == NULL && length > 0) || (flags & ~(unsigned)SEND_FLAGS))
		return -1;
	return in->core->io->send_to(in->core, in, addr, 0, protocol, type, payload, length, flags, peer_id,
	                    conn_out) < 0 ? -1 : 0;
}

static int api_conn_close(mp2p_host *in, mp2p_conn_id conn, int flush)
{
	return in->core->io->close(in->core, in, conn, flush, "closed by plugin");
}

static int64_t api_conn_pending(mp2p_host *in, mp2p_conn_id conn)
{
	return in->core->io->pending(in->core, conn);
}

static int api_conn_set_low_water(mp2p_host *in, mp2p_conn_id conn, size_t low_water)
{
	return in->core->io->set_low_water(in->core, in, conn, low_water);
}

static int api_limits(mp2p_host *in, struct mp2p_limits *out)
{
	const struct host_config *c = in->core->cfg;
	struct mp2p_limits full;

	if (out == NULL || out->size < offsetof(struct mp2p_limits, max_output))
		return MP2P_ERR_INVALID;
	memset(&full, 0, sizeof(full));
	full.size = out->size < sizeof(full) ? out->size : (uint32_t)sizeof(full);
	full.max_frame = (uint64_t)c->max_frame;
	full.max_output = (uint64_t)c->max_output;
	full.max_buffered = (uint64_t)c->max_buffered;
	full.max_inbound = (uint64_t)c->max_inbound;
	full.max_outbound = (uint64_t)c->max_outbound;
	full.max_connections_per_ip = (uint64_t)c->max_connections_per_ip;
	full.connect_timeout = c->t_connect;
	full.idle_timeout = c->t_idle;
	full.frame_timeout = c->t_frame;
	full.write_timeout = c->t_write;
	full.first_frame_timeout = c->t_first_frame;
	full.checkpoint_interval = c->checkpoint_interval;
	memcpy(out, &full, full.size);
	return MP2P_OK;
}

/* --- state ---------------------------------------------------------- */

static int api_origin(mp2p_host *in) { return in->origin; }

static int api_checkpoint(mp2p_host *in)
{
	if (in->state != INST_RUNNING || in->mod->desc.save_state == NULL ||
	    in->core->io->save == NULL)
		return MP2P_ERR_REFUSED;
	return in->core->io->save(in->core, in) < 0 ? MP2P_ERR_FAILED : MP2P_OK;
}

static int api_conn_info(mp2p_host *in, mp2p_conn_id conn, struct mp2p_conn_info *info)
{
	return in->core->io->conn_info(in->core, conn, info);
}

/* --- services ------------------------------------------------------- */

static uint64_t api_instance_id(mp2p_host *in) { return in->id; }

static int api_instance_alive(mp2p_host *in, uint64_t id)
{
	for (int i = 0; i < MAX_INSTANCES; i++) {
		mp2p_host *o = in->core->slots[i];
		if (o != NULL && o->id == id && o->state == INST_RUNNING)
			return 1;
	}
	return 0;
}

const struct mp2p_host_api host_api = {
	.size = sizeof(struct mp2p_host_api),
	.abi_major = MP2P_ABI_MAJOR,
	.abi_minor = MP2P_ABI_MINOR,
	.log = api_log,
	.instance_name = api_instance_name,
	.host_id = api_host_id,
	.advertise = api_advertise,
	.state_dir = api_state_dir,
	.now = api_now,
	.random_bytes = api_random_bytes,
	.counter = api_counter,
	.config_check_keys = api_config_check_keys,
	.config_get_int = api_config_get_int,
	.config_get_float = api_config_get_float,
	.config_get_bool = api_config_get_bool,
	.config_get_string = api_config_get_string,
	.config_list_length = api_config_list_length,
	.config_list_string = api_config_list_string,
	.config_error = api_config_error,
	.send = api_send,
	.send_to = api_send_to,
	.conn_close = api_conn_close,
	.conn_info = api_conn_info,
	.timer_new = timer_new,
	.timer_start = timer_start,
	.timer_stop = timer_stop,
	.timer_free = timer_free,
	.watch_new = watch_new,
	.watch_set = watch_set,
	.watch_free = watch_free,
	.service_offer = service_offer,
	.service_find = service_find,
	.instance_id = api_instance_id,
	.instance_alive = api_instance_alive,
	.subscribe = service_subscribe,
	.publish = service_publish,
	.reply_str = reply_str,
	.reply_int = reply_int,
	.reply_float = reply_float,
	.reply_row = reply_row,
	.reply_error = reply_error,
	.reply_usage = reply_usage,
	.reply_defer = reply_defer,
	.reply_finish = reply_finish,
	.send_claimed = api_send_claimed,
	.wall_now = api_wall_now,
	.vlog = api_vlog,
	.limits = api_limits,
	.conn_pending = api_conn_pending,
	.conn_set_low_water = api_conn_set_low_water,
	.send_v2 = api_send_v2,
	.send_to_v2 = api_send_to_v2,
	.origin = api_origin,
	.checkpoint = api_checkpoint,
	.reply_handover = reply_handover,
	.reply_adopt = reply_adopt,
	.peer_id = api_peer_id,
	.security = api_security,
	.send_to_peer = api_send_to_peer,
	.sign = api_sign,
};

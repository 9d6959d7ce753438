/* probe.c -- a test plugin that exercises what ABI 1.1 added, each part
 * driven by a control command or a frame, so tests/host/test_abi11.py can
 * check the host's side from outside.
 *
 * Built as probe_a (protocol "probe") and probe_b (the same, another
 * version, for hot swaps) and probe2 (protocol "probe2", a second
 * instance beside the first).
 *
 * Frames (protocol PROBE_PROTO):
 *   OWN_          claim the connection with an empty CLAM frame, then
 *                 answer OWND with send_v2's code for it
 *   FILL n        queue frames of n bytes with MP2P_SEND_NOWAIT until
 *                 refused; answers nothing (the client is not reading)
 *   BIG_          send one frame over max_frame: remembers the code
 * Control: limits, wall, vlog TEXT, codes, bump, value, checkpoint,
 * origin, wait, dial ADDR owned|reuse, close ID.
 */
#include <maybep2p/plugin.h>
#include <maybep2p/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROBE_PROTO
#define PROBE_PROTO "probe"
#endif
#ifndef PROBE_VERSION
#define PROBE_VERSION "a"
#endif

struct probe {
	const struct mp2p_host_api *api;
	mp2p_host *host;
	char svc_name[80];
	char other_svc[80];          /* the other instance's service, looked up at stop */
	uint64_t value;              /* state that must survive restarts */
	uint64_t handed;             /* token of a reply handed over, from the state */
	mp2p_reply *waiting;         /* a deferred `wait` */
	mp2p_conn_id fill_conn;
	int fill_frames, fill_code, big_code;
	int64_t fill_pending;        /* conn_pending() when FILL stopped */
	uint64_t *drains;
	size_t drain_pending;        /* `pending` of the last on_drain() */
	int gone_code, invalid_code;
	double stopped_at;
};

static const int probe_service_table = 1;

static int probe_init(const struct mp2p_host_api *api, mp2p_host *host,
                      const mp2p_config *config, void **self_out, char **error_text)
{
	static const char *const known[] = { "other", NULL };
	const char *other = NULL;
	struct probe *p;

	if (api->config_check_keys(config, known, error_text) < 0 ||
	    mp2p_config_string(api, config, "other", 60, &other, error_text) < 0)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return mp2p_error_text(error_text, "out of memory");
	p->api = api;
	p->host = host;
	snprintf(p->svc_name, sizeof(p->svc_name), "svc.%s", api->instance_name(host));
	if (other != NULL)
		snprintf(p->other_svc, sizeof(p->other_svc), "svc.%s", other);
	p->drains = api->counter(host, "drains");
	*self_out = p;
	return 0;
}

static int probe_start(void *self, char **error_text)
{
	struct probe *p = self;

	(void)error_text;
	p->api->log(p->host, MP2P_LOG_INFO, "probe: start %s origin %d", p->api->instance_name(p->host),
	            p->api->origin(p->host));
	p->api->service_offer(p->host, p->svc_name, MP2P_SERVICE_VERSION(1, 0),
	                      &probe_service_table, p);
	if (p->handed != 0) {
		mp2p_reply *r = p->api->reply_adopt(p->host, p->handed);
		if (r != NULL) {
			p->api->reply_str(r, "adopted_by", PROBE_VERSION);
			p->api->reply_finish(r);
		}
		p->handed = 0;
	}
	return 0;
}

static void probe_stop(void *self, enum mp2p_stop_reason reason)
{
	struct probe *p = self;
	void *prov = NULL;

	if (p->other_svc[0] != '\0')
		p->api->log(p->host, MP2P_LOG_INFO, "probe: stop %s (%d): %s %s",
		            p->api->instance_name(p->host), (int)reason, p->other_svc,
		            p->api->service_find(p->host, p->other_svc, 1, 0, &prov) ? "found" : "gone");
	else
		p->api->log(p->host, MP2P_LOG_INFO, "probe: stop %s (%d)", p->api->instance_name(p->host),
		            (int)reason);
}

static void probe_destroy(void *self)
{
	free(self);
}

/* State: the value, and the token of a `wait` reply handed to a successor. */
static int probe_save(void *self, void **data, size_t *len, uint32_t *format)
{
	struct probe *p = self;
	uint8_t *b = malloc(16);
	uint64_t token = 0;

	if (b == NULL)
		return -1;
	if (p->waiting != NULL && (token = p->api->reply_handover(p->waiting)) != 0)
		p->waiting = NULL;
	mp2p_put_be64(b, p->value);
	mp2p_put_be64(b + 8, token);
	*data = b;
	*len = 16;
	*format = 1;
	return 0;
}

static int probe_restore(void *self, const void *data, size_t len, uint32_t format,
                         char **error_text)
{
	struct probe *p = self;

	if (format != 1 || len != 16)
		return mp2p_error_text(error_text, "format %u, %zu bytes: not mine", format, len);
	p->value = mp2p_get_be64(data);
	p->handed = mp2p_get_be64((const uint8_t *)data + 8);
	p->api->log(p->host, MP2P_LOG_INFO, "probe: restored value %llu, origin %d",
	            (unsigned long long)p->value, p->api->origin(p->host));
	return 0;
}

static void probe_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct probe *p = self;
	const struct mp2p_host_api *api = p->api;

	if (mp2p_type_is(f->type, "OWN_")) {
		uint8_t code[4];
		int rc = api->send_v2(p->host, conn, NULL, "CLAM", "", 0, MP2P_SEND_OWNED);
		mp2p_put_be32(code, (uint32_t)rc);
		api->send_v2(p->host, conn, NULL, "OWND", code, 4, 0);
	} else if (mp2p_type_is(f->type, "FILL") && f->length == 4) {
		uint32_t n = mp2p_get_be32(f->payload);
		uint8_t *buf = calloc(1, n);
		int rc;
		if (buf == NULL)
			return;
		p->fill_conn = conn;
		p->fill_frames = 0;
		api->conn_set_low_water(p->host, conn, 0);
		while ((rc = api->send_v2(p->host, conn, NULL, "DATA", buf, n, MP2P_SEND_NOWAIT)) == MP2P_OK)
			p->fill_frames++;
		p->fill_code = rc;
		p->fill_pending = api->conn_pending(p->host, conn);
		free(buf);
	} else if (mp2p_type_is(f->type, "BIG_")) {
		struct mp2p_limits lim = { .size = sizeof(lim) };
		uint8_t *buf;
		api->limits(p->host, &lim);
		if ((buf = calloc(1, (size_t)lim.max_frame + 1)) == NULL)
			return;
		p->big_code = api->send_v2(p->host, conn, NULL, "DATA", buf, (size_t)lim.max_frame + 1, 0);
		free(buf);
		api->send_v2(p->host, conn, NULL, "ALIV", "", 0, 0);
	}
}

static void probe_drain(void *self, mp2p_conn_id conn, size_t pending)
{
	struct probe *p = self;

	(void)conn;
	(*p->drains)++;
	p->drain_pending = pending;
}

/* A plugin's own logging wrapper: what vlog() is for. */
static void probe_vlog(struct probe *p, const char *fmt, ...) MP2P_PRINTF(2, 3);
static void probe_vlog(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p->api->vlog(p->host, MP2P_LOG_INFO, fmt, ap);
	va_end(ap);
}

static void probe_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct probe *p = self;
	const struct mp2p_host_api *api = p->api;
	const char *cmd = argv[0];

	if (strcmp(cmd, "limits") == 0) {
		struct mp2p_limits lim = { .size = sizeof(lim) };
		api->reply_int(r, "rc", api->limits(p->host, &lim));
		api->reply_int(r, "max_frame", (long long)lim.max_frame);
		api->reply_int(r, "max_output", (long long)lim.max_output);
		api->reply_float(r, "idle_timeout", lim.idle_timeout);
		api->reply_float(r, "checkpoint_interval", lim.checkpoint_interval);
	} else if (strcmp(cmd, "wall") == 0) {
		api->reply_int(r, "wall_ms", (long long)(api->wall_now(p->host) * 1000));
	} else if (strcmp(cmd, "vlog") == 0 && argc == 2) {
		probe_vlog(p, "probe: vlog says %s", argv[1]);
	} else if (strcmp(cmd, "fill") == 0) {
		struct mp2p_conn_info info = { .size = sizeof(info) };
		int64_t pending = api->conn_pending(p->host, p->fill_conn);
		api->conn_info(p->host, p->fill_conn, &info);
		api->reply_int(r, "frames", p->fill_frames);
		api->reply_int(r, "code", p->fill_code);
		api->reply_int(r, "pending_at_fill", (long long)p->fill_pending);
		api->reply_int(r, "pending", (long long)pending);
		api->reply_int(r, "bytes_out", (long long)info.bytes_out);
		api->reply_int(r, "drains", (long long)*p->drains);
		api->reply_int(r, "drain_pending", (long long)p->drain_pending);
		api->reply_int(r, "big_code", p->big_code);
	} else if (strcmp(cmd, "codes") == 0) {
		api->reply_int(r, "gone", api->send_v2(p->host, 999999, NULL, "NONE", "", 0, 0));
		api->reply_int(r, "invalid", api->send_v2(p->host, 999999, NULL, NULL, "", 0, 0));
		api->reply_int(r, "bad_flag", api->send_v2(p->host, 999999, NULL, "NONE", "", 0, 1u << 9));
		api->reply_int(r, "bad_addr", api->send_to_v2(p->host, "localhost:1", NULL, "NONE", "", 0, 0, NULL));
		api->reply_int(r, "pending_gone", (long long)api->conn_pending(p->host, 999999));
		api->reply_int(r, "low_gone", api->conn_set_low_water(p->host, 999999, 10));
	} else if (strcmp(cmd, "bump") == 0) {
		api->reply_int(r, "value", (long long)++p->value);
	} else if (strcmp(cmd, "value") == 0) {
		api->reply_int(r, "value", (long long)p->value);
		api->reply_int(r, "origin", api->origin(p->host));
		api->reply_str(r, "version", PROBE_VERSION);
	} else if (strcmp(cmd, "checkpoint") == 0) {
		api->reply_int(r, "rc", api->checkpoint(p->host));
	} else if (strcmp(cmd, "wait") == 0) {
		if (p->waiting != NULL) {
			api->reply_error(r, "already waiting");
			return;
		}
		p->waiting = r;
		api->reply_defer(r);
		api->log(p->host, MP2P_LOG_INFO, "probe: waiting");
	} else if (strcmp(cmd, "dial") == 0 && argc == 3) {
		mp2p_conn_id id = 0;
		int rc = api->send_to_v2(p->host, argv[1], NULL, "HELO", "", 0,
		                         strcmp(argv[2], "owned") == 0 ? MP2P_SEND_OWNED : 0, &id);
		api->reply_int(r, "rc", rc);
		api->reply_int(r, "conn", (long long)id);
	} else if (strcmp(cmd, "close") == 0 && argc == 2) {
		api->reply_int(r, "rc", api->conn_close(p->host, (mp2p_conn_id)strtoull(argv[1], NULL, 10), 0));
	} else {
		api->reply_usage(r, "unknown command");
	}
}

static const char *const probe_protocols[] = { PROBE_PROTO, NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "probe",
	.version = PROBE_VERSION,
	.protocols = probe_protocols,
	.init = probe_init,
	.start = probe_start,
	.stop = probe_stop,
	.destroy = probe_destroy,
	.on_frame = probe_frame,
	.control = probe_control,
	.save_state = probe_save,
	.restore_state = probe_restore,
	.on_drain = probe_drain,
};

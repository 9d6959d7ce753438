/* kad_control.c -- `maybep2pctl NAME ...` commands and the service table
 * other plugins call (maybep2p/kademlia.h). Both start ops; the answers
 * come back through kad_op_reply() on a later turn of the loop. */
#include "kad_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ms(const struct kad_op *op)
{
	return (op->ended - op->started) * 1000.0;
}

/* Values are bytes; the reply is text. Printable ones are shown as they
 * are, the others in hex. */
/* A record's value, and for a mutable one the writer that signed it. */
static void reply_record(const struct mp2p_host_api *api, mp2p_reply *r, const uint8_t *rec,
                         uint32_t rlen)
{
	struct kad_record x;
	uint8_t writer[KAD_ID_LEN];
	char hex[2 * KAD_ID_LEN + 1];
	const uint8_t *v;
	uint32_t len;
	int printable = 1;
	char *text;

	if (kad_record_parse(rec, rlen, &x) < 0)
		return;
	api->reply_str(r, "kind", x.kind == KAD_REC_MUTABLE ? "mutable" : "immutable");
	if (x.kind == KAD_REC_MUTABLE && kad_writer_id(x.pub, writer) == 0) {
		kad_id_hex(writer, hex);
		api->reply_str(r, "writer", hex);
	}
	v = x.value;
	len = x.vlen;
	for (uint32_t i = 0; i < len && printable; i++)
		printable = (v[i] >= 0x20 && v[i] != 0x7f) || v[i] == '\t';
	if ((text = malloc(2 * (size_t)len + 1)) == NULL)
		return;
	if (printable) {
		memcpy(text, v, len);
		text[len] = '\0';
		api->reply_str(r, "value", text);
	} else {
		for (uint32_t i = 0; i < len; i++)
			snprintf(text + 2 * i, 3, "%02x", v[i]);
		text[2 * len] = '\0';
		api->reply_str(r, "value_hex", text);
	}
	free(text);
}

static void reply_nodes(mp2p_reply *r, const struct kad_op *op)
{
	struct kad_node near[KAD_MAX_K];
	int n = kad_lookup_result(&op->lk, near, KAD_MAX_K);
	char hex[2 * KAD_ID_LEN + 1];

	op->kd->api->reply_int(r, "answered", n);
	for (int i = 0; i < n; i++) {
		op->kd->api->reply_row(r);
		kad_id_hex(near[i].id, hex);
		op->kd->api->reply_str(r, "id", hex);
		op->kd->api->reply_str(r, "addr", near[i].addr);
	}
}

static void reply_common(mp2p_reply *r, const struct kad_op *op)
{
	char hex[2 * KAD_ID_LEN + 1];

	kad_id_hex(op->key, hex);
	op->kd->api->reply_str(r, op->kind == OP_FIND ? "target" : "key", hex);
	op->kd->api->reply_int(r, "hops", op->lk.hops);
	op->kd->api->reply_int(r, "queries", op->lk.queries);
	op->kd->api->reply_int(r, "timeouts", op->lk.timeouts);
	op->kd->api->reply_int(r, "stores_sent", op->stores_sent);
	op->kd->api->reply_float(r, "ms", ms(op));
	/* How much of it the lookup took: the rest of a put is its stores. */
	op->kd->api->reply_float(r, "lookup_ms",
	                         ((op->lk.finished ? op->lk.ended : op->ended) - op->started) * 1000.0);
}

static void reply_control(struct kad_op *op)
{
	mp2p_reply *r = op->reply;

	if (op->status == MP2P_KAD_CANCELLED) {
		op->kd->api->reply_error(r, "the kademlia instance stopped first");
	} else if (op->kind == OP_GET) {
		if (op->status == MP2P_KAD_OK) {
			reply_common(r, op);
			op->kd->api->reply_int(r, "local", op->local);
			op->kd->api->reply_int(r, "seq", (long long)(op->local ? op->seq : op->lk.seq));
			if (op->local)
				reply_record(op->kd->api, r, op->value, op->vlen);
			else
				reply_record(op->kd->api, r, op->lk.value, op->lk.vlen);
		} else if (op->status == MP2P_KAD_NOT_FOUND) {
			op->kd->api->reply_error(r, "not found (%d nodes asked)", op->lk.answers);
		} else {
			op->kd->api->reply_error(r, "no node answered");
		}
	} else if (op->kind == OP_PUT) {
		if (op->status == MP2P_KAD_OK) {
			reply_common(r, op);
			op->kd->api->reply_int(r, "stored", op->stores_ok);
			op->kd->api->reply_int(r, "seq", (long long)op->seq);
			reply_record(op->kd->api, r, op->value, op->vlen);
		} else {
			op->kd->api->reply_error(r, "no node stored the value (kept locally)");
		}
	} else {
		if (op->status == MP2P_KAD_OK) {
			reply_common(r, op);
			reply_nodes(r, op);
		} else {
			op->kd->api->reply_error(r, "no node answered");
		}
	}
	op->kd->api->reply_finish(r);
}

static void reply_service(struct kad_op *op)
{
	struct kad *kd = op->kd;

	/* The caller may have been unloaded or swapped since it asked. */
	if (!kd->api->instance_alive(kd->host, op->caller))
		return;
	if (op->put_done) {
		op->put_done(op->arg, op->status, op->stores_ok);
	} else if (op->get_done) {
		struct kad_record x;
		if (op->status == MP2P_KAD_OK &&
		    kad_record_parse(op->local ? op->value : op->lk.value,
		                     op->local ? op->vlen : op->lk.vlen, &x) == 0)
			op->get_done(op->arg, op->status, x.value, x.vlen);
		else
			op->get_done(op->arg, op->status == MP2P_KAD_OK ? MP2P_KAD_FAILED : op->status,
			             NULL, 0);
	} else if (op->nodes_done) {
		struct kad_node near[KAD_MAX_K];
		struct mp2p_kad_node out[KAD_MAX_K];
		int n = kad_lookup_result(&op->lk, near, KAD_MAX_K);
		for (int i = 0; i < n; i++) {
			memcpy(out[i].id, near[i].id, KAD_ID_LEN);
			snprintf(out[i].addr, sizeof(out[i].addr), "%s", near[i].addr);
		}
		op->nodes_done(op->arg, op->status, out, op->status == MP2P_KAD_OK ? n : 0);
	}
}

void kad_op_reply(struct kad_op *op)
{
	if (op->reply)
		reply_control(op);
	else if (op->put_done || op->get_done || op->nodes_done)
		reply_service(op);
}

/* A get always looks the key up, even when we hold a copy: ours may be
 * older than what the holders have (we may have missed a newer write), and
 * the newer of the two is the answer. */
/* Which key a get names: "NAME" is this node's own mutable value,
 * "WRITER/NAME" another writer's (WRITER: 64 hex digits of its writer id,
 * the peer id of a host that signs with its host key, as its `routes` and
 * `maybep2pctl status` show), and (by_key) 64 hex digits a key itself, as
 * an immutable put prints it. */
static int get_key(struct kad *kd, const char *text, size_t len, int by_key,
                   uint8_t key[KAD_ID_LEN])
{
	uint8_t writer[KAD_ID_LEN];
	char hex[2 * KAD_ID_LEN + 1];

	if (by_key) {
		if (len != 2 * KAD_ID_LEN)
			return -1;
		memcpy(hex, text, len);
		hex[len] = '\0';
		return kad_id_parse(hex, key);
	}
	if (len > 2 * KAD_ID_LEN + 1 && text[2 * KAD_ID_LEN] == '/') {
		memcpy(hex, text, 2 * KAD_ID_LEN);
		hex[2 * KAD_ID_LEN] = '\0';
		if (kad_id_parse(hex, writer) == 0)
			return kad_mutable_key(writer, text + 2 * KAD_ID_LEN + 1,
			                       len - 2 * KAD_ID_LEN - 1, key);
	}
	if (!kd->key_ok)
		return -1;
	return kad_mutable_key(kd->writer, text, len, key);
}

static struct kad_op *get_start(struct kad *kd, const void *name, size_t nlen, int by_key)
{
	uint8_t h[KAD_ID_LEN];
	struct kad_value *v;
	struct kad_op *op;

	if (nlen == 0 || nlen > MP2P_KAD_KEY_MAX || get_key(kd, name, nlen, by_key, h) < 0)
		return NULL;
	if ((op = kad_op_start(kd, OP_GET, h)) == NULL)
		return NULL;
	v = kad_store_get(&kd->store, h, kd->api->now(kd->host));
	if (v != NULL && (op->value = malloc(v->len ? v->len : 1)) != NULL) {
		memcpy(op->value, v->data, v->len);
		op->vlen = v->len;
		op->seq = v->seq;
		op->ttl = (uint32_t)(v->expires - kd->api->now(kd->host) + 0.5);
		op->local = 1;
	}
	return op;
}

static void get_run(struct kad_op *op)
{
	kad_op_run(op);
}

static void cmd_routes(struct kad *kd, mp2p_reply *r)
{
	double now = kd->api->now(kd->host);
	char hex[2 * KAD_ID_LEN + 1];

	kd->api->reply_str(r, "self", kd->self_hex);
	kd->api->reply_str(r, "writer", kd->writer_hex);
	kd->api->reply_str(r, "writer_key", kd->host_signs ? "host" : "kad.key");
	kd->api->reply_str(r, "addr", kd->addr);
	kd->api->reply_int(r, "nodes", kad_table_size(&kd->table));
	kd->api->reply_int(r, "buckets", kd->table.nbuckets);
	for (int bi = 0; bi < kd->table.nbuckets; bi++) {
		const struct kad_bucket *b = &kd->table.b[bi];
		for (int i = 0; i < b->nlive; i++) {
			struct kad_node n;
			kad_entry_node(&b->live[i], &n);
			kd->api->reply_row(r);
			kd->api->reply_int(r, "bucket", bi);
			kad_id_hex(n.id, hex);
			kd->api->reply_str(r, "id", hex);
			kd->api->reply_str(r, "addr", n.addr);
			kd->api->reply_float(r, "seen_ago", now - b->live[i].last_seen);
			kd->api->reply_int(r, "fails", b->live[i].fails);
		}
	}
}

static void cmd_stats(struct kad *kd, mp2p_reply *r)
{
	uint64_t lookups = kd->c.lookups ? *kd->c.lookups : 0;

#define KAD_SHOW(name) kd->api->reply_int(r, #name, kd->c.name ? (long long)*kd->c.name : 0);
	KAD_COUNTERS(KAD_SHOW)
#undef KAD_SHOW
	kd->api->reply_float(r, "hops_mean",
	                     lookups ? (double)*kd->c.lookup_hops / (double)lookups : 0.0);
	kd->api->reply_float(r, "queries_per_lookup",
	                     lookups ? (double)*kd->c.lookup_queries / (double)lookups : 0.0);
	kd->api->reply_int(r, "nodes", kad_table_size(&kd->table));
	kd->api->reply_int(r, "values", kd->store.n);
	kd->api->reply_int(r, "pending", kd->npend);
	kd->api->reply_int(r, "ops", kd->nops);
	kd->api->reply_int(r, "restored_nodes", kd->restored_nodes);
	kd->api->reply_float(r, "rtt_p90_ms", kd->rtt.p90 * 1000.0);
	kd->api->reply_float(r, "timeout_ms", kad_rtt_timeout(&kd->rtt) * 1000.0);
}

static int parse_ttl(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

void kad_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct kad *kd = self;
	struct kad_op *op = NULL;
	const char *cmd = argc > 0 ? argv[0] : "";

	if (strcmp(cmd, "routes") == 0 && argc == 1) {
		cmd_routes(kd, r);
	} else if (strcmp(cmd, "stats") == 0 && argc == 1) {
		cmd_stats(kd, r);
	} else if (strcmp(cmd, "put") == 0 && argc >= 3 && argc <= 4 &&
	           strcmp(argv[1], "--immutable") == 0) {
		/* put --immutable VALUE [TTL]: the key is the hash of the value. */
		uint32_t ttl = 0;
		if (argc == 4 && parse_ttl(argv[3], &ttl) < 0) {
			kd->api->reply_usage(r, "TTL must be a number of seconds");
			return;
		}
		if (kad_put_start(kd, NULL, 0, argv[2], strlen(argv[2]), ttl, 1, &op) < 0) {
			kd->api->reply_error(r, "cannot put (value up to %ld bytes, not busy)",
			                     kd->conf.max_value_size);
			return;
		}
		op->reply = r;
		kd->api->reply_defer(r);
		kad_op_run(op);
	} else if (strcmp(cmd, "put") == 0 && (argc == 3 || argc == 4)) {
		/* put NAME VALUE [TTL]: this node's mutable value, signed. */
		uint32_t ttl = 0;
		if (argc == 4 && parse_ttl(argv[3], &ttl) < 0) {
			kd->api->reply_usage(r, "TTL must be a number of seconds");
			return;
		}
		if (kad_put_start(kd, argv[1], strlen(argv[1]), argv[2], strlen(argv[2]), ttl, 0,
		                  &op) < 0) {
			kd->api->reply_error(r, "cannot put (name 1-%d bytes, value up to %ld, "
			                     "a writer key, not busy)", KAD_NAME_MAX,
			                     kd->conf.max_value_size);
			return;
		}
		op->reply = r;
		kd->api->reply_defer(r);
		kad_op_run(op);
	} else if (strcmp(cmd, "get") == 0 && (argc == 2 || (argc == 3 &&
	                                                     strcmp(argv[1], "--key") == 0))) {
		const char *what = argv[argc - 1];
		if ((op = get_start(kd, what, strlen(what), argc == 3)) == NULL) {
			kd->api->reply_error(r, "cannot get (NAME, WRITER/NAME or --key KEY; or busy)");
			return;
		}
		op->reply = r;
		kd->api->reply_defer(r);
		get_run(op);
	} else if (strcmp(cmd, "lookup") == 0 && argc == 2) {
		uint8_t id[KAD_ID_LEN];
		if (kad_id_parse(argv[1], id) < 0) {
			kd->api->reply_usage(r, "lookup takes a node id of %d hex digits", 2 * KAD_ID_LEN);
			return;
		}
		if ((op = kad_op_start(kd, OP_FIND, id)) == NULL) {
			kd->api->reply_error(r, "busy");
			return;
		}
		op->reply = r;
		kd->api->reply_defer(r);
		kad_op_run(op);
	} else {
		kd->api->reply_usage(r, "usage: put NAME VALUE [TTL] | put --immutable VALUE [TTL] | "
		                        "get NAME | get WRITER/NAME | get --key KEY | lookup HEXID | "
		                        "routes | stats");
	}
}

/* --- the service -------------------------------------------------------- */

static int svc_put(void *provider, mp2p_host *caller, const void *key, size_t key_len,
                   const void *value, size_t value_len, uint32_t ttl,
                   mp2p_kad_put_done done, void *arg)
{
	struct kad *kd = provider;
	struct kad_op *op;

	if (done == NULL || caller == NULL ||
	    kad_put_start(kd, key, key_len, value, value_len, ttl, 0, &op) < 0)
		return -1;
	op->caller = kd->api->instance_id(caller);
	op->put_done = done;
	op->arg = arg;
	kad_op_run(op);
	return 0;
}

static int svc_get(void *provider, mp2p_host *caller, const void *key, size_t key_len,
                   mp2p_kad_get_done done, void *arg)
{
	struct kad *kd = provider;
	struct kad_op *op;

	if (done == NULL || caller == NULL || (op = get_start(kd, key, key_len, 0)) == NULL)
		return -1;
	op->caller = kd->api->instance_id(caller);
	op->get_done = done;
	op->arg = arg;
	get_run(op);
	return 0;
}

static int svc_find_node(void *provider, mp2p_host *caller, const uint8_t id[MP2P_KAD_ID_LEN],
                         mp2p_kad_nodes_done done, void *arg)
{
	struct kad *kd = provider;
	struct kad_op *op;

	if (done == NULL || caller == NULL || (op = kad_op_start(kd, OP_FIND, id)) == NULL)
		return -1;
	op->caller = kd->api->instance_id(caller);
	op->nodes_done = done;
	op->arg = arg;
	kad_op_run(op);
	return 0;
}

const struct mp2p_kademlia_service kad_service = {
	.size = sizeof(struct mp2p_kademlia_service),
	.put = svc_put,
	.get = svc_get,
	.find_node = svc_find_node,
};

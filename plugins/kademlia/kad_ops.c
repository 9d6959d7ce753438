/* kad_ops.c -- operations built on lookups (get, put, find, republish,
 * refresh, join) and the maintenance timer that keeps the DHT healthy.
 *
 * An op runs its lookup, then (for puts and republications) stores the
 * value on the `replicas` closest nodes that answered. A finished op is
 * moved to a done list and reported on the next turn of the loop, so no
 * caller is ever called back from inside the call that started its
 * request. */
#include "kad_glue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUMP(kd, name) do { if ((kd)->c.name) (*(kd)->c.name)++; } while (0)

static int put_wave(const struct kad_op *op);

/* The store's source of this node's own values (kad_store_put). */
static const uint8_t kad_own_source[KAD_ID_LEN];

/* The host's wall clock, in microseconds: puts are ordered by it. */
uint64_t kad_wall_usec(struct kad *kd)
{
	return (uint64_t)(kd->api->wall_now(kd->host) * 1e6);
}

/* Timers of many nodes that started together drift apart by +-10%, so
 * republications and refreshes do not arrive in storms. */
double kad_jitter(struct kad *kd, double base)
{
	uint32_t r;

	kd->api->random_bytes(kd->host, &r, sizeof(r));
	return base * (0.9 + 0.2 * (r / 4294967295.0));
}

static int lk_query(void *arg, struct kad_lookup *lk, const struct kad_node *to,
                    uint64_t *reqid_out)
{
	struct kad_op *op = arg;
	struct kad *kd = op->kd;
	struct kad_msg body;

	/* Someone listed our own address under another id: asking ourselves
	 * would only time out. */
	if (strcmp(to->addr, kd->addr) == 0)
		return -1;
	memset(&body, 0, sizeof(body));
	memcpy(body.key, lk->target, KAD_ID_LEN);
	if (kad_send_request(kd, lk->kind == KAD_LK_VALUE ? KAD_T_FVAL : KAD_T_FNOD, to, 1,
	                     P_LOOKUP, op, &body, reqid_out) < 0)
		return -1;
	BUMP(kd, lookup_queries);
	kad_schedule(kd, kd->api->now(kd->host) + kad_rtt_timeout(&kd->rtt));
	return 0;
}

static void send_store(struct kad *kd, struct kad_op *op, const struct kad_node *to,
                       const uint8_t key[KAD_ID_LEN], uint64_t seq, uint32_t ttl,
                       const uint8_t *value, uint32_t vlen)
{
	struct kad_msg body;

	memset(&body, 0, sizeof(body));
	memcpy(body.key, key, KAD_ID_LEN);
	body.seq = seq;
	body.ttl = ttl;
	body.value = value;
	body.vlen = vlen;
	if (kad_send_request(kd, KAD_T_STOR, to, 1, P_STORE, op, &body, NULL) == 0 && op) {
		op->stores_out++;
		op->stores_sent++;
	}
}

/* A put stores on a node as soon as it answers the lookup from among the
 * `replicas` closest known then: most of the final ones are known early,
 * so the stores overlap the lookup instead of following it. A node
 * pushed out of the closest later keeps an extra copy, which does no
 * harm. */
static void lk_answered(void *arg, struct kad_lookup *lk, struct kad_cand *c)
{
	struct kad_op *op = arg;

	if (op->kind != OP_PUT || c->stored || kad_lookup_rank(lk, c) >= put_wave(op))
		return;
	c->stored = 1;
	send_store(op->kd, op, &c->n, op->key, op->seq, op->ttl, op->value, op->vlen);
}

/* STOKs a put waits for: a majority of its replicas, but no more than
 * KAD_PUT_QUORUM (PROTOCOL.md section 5.3). */
static int put_quorum(const struct kad_op *op)
{
	int half = (op->kd->conf.replicas + 1) / 2;

	return half < KAD_PUT_QUORUM ? half : KAD_PUT_QUORUM;
}

/* How many of the closest a put sends its STOR before it is answered:
 * the first wave (PROTOCOL.md section 5.3). Each STOR to a node not yet
 * connected costs this node a TLS handshake, and twenty of them at once
 * would hold back the few STOKs the put waits for; the rest go once it
 * is answered, or at once if a STOR fails. */
static int put_wave(const struct kad_op *op)
{
	int first = 2 * KAD_PUT_QUORUM;

	if (op->kind != OP_PUT || op->all_waves || op->kd->conf.replicas < first)
		return op->kd->conf.replicas;
	return first;
}

/* Sends STOR to the `limit` closest that answered, as kad_lookup_result()
 * lists them, that have not had it; a put's lookup ended at convergence,
 * so for a put the closest that have not failed, asked or not. */
static void store_closest(struct kad_op *op, int limit, const uint8_t *data, uint32_t len)
{
	struct kad_lookup *lk = &op->lk;
	int n = 0;

	for (int i = 0; i < lk->n && n < limit; i++) {
		struct kad_cand *c = &lk->c[i];
		if (c->state == KAD_C_FAILED ||
		    (c->state != KAD_C_DONE && !lk->end_at_convergence))
			continue;
		n++;
		if (c->stored)
			continue;
		c->stored = 1;
		send_store(op->kd, op, &c->n, op->key, op->seq, op->ttl, data, len);
	}
}

/* A put is over: the replicas beyond the first wave are sent their STOR
 * now (it counts them in stores_sent, but no longer waits for them). */
static void put_complete(struct kad_op *op, int status)
{
	if (op->kind == OP_PUT && !op->all_waves) {
		op->all_waves = 1;
		store_closest(op, op->kd->conf.replicas, op->value, op->vlen);
	}
	kad_op_complete(op, status);
}

static void start_storing(struct kad_op *op)
{
	struct kad *kd = op->kd;
	double now = kd->api->now(kd->host);
	struct kad_value *v = kad_store_get(&kd->store, op->key, now);

	/* Republish what we hold now, which may be newer than when the op
	 * began; and not at all if it has expired meanwhile. */
	if (op->kind == OP_REPUBLISH) {
		if (v == NULL) {
			kad_op_complete(op, MP2P_KAD_FAILED);
			return;
		}
		op->ttl = (uint32_t)(v->expires - now + 0.5);
		op->seq = v->seq;
	}
	op->phase = PH_STORING;
	/* A put has sent some of them their STOR already (lk_answered). */
	store_closest(op, put_wave(op), op->kind == OP_REPUBLISH ? v->data : op->value,
	              op->kind == OP_REPUBLISH ? v->len : op->vlen);
	if (op->stores_out == 0)
		put_complete(op, op->stores_ok > 0 ? MP2P_KAD_OK : MP2P_KAD_FAILED);
	else if (op->kind == OP_PUT && op->stores_ok >= put_quorum(op))
		put_complete(op, MP2P_KAD_OK);
}

/* After joining, the buckets that are not yet full are filled by looking
 * up a random id in each, as the paper's join does. */
static void refresh_sparse_buckets(struct kad *kd)
{
	for (int bi = 0; bi < kd->table.nbuckets - 1; bi++) {
		uint8_t rnd[KAD_ID_LEN], target[KAD_ID_LEN];
		struct kad_op *op;
		if (kd->table.b[bi].nlive >= kd->table.k)
			continue;
		kd->api->random_bytes(kd->host, rnd, sizeof(rnd));
		kad_id_in_range(kd->self, bi, 0, rnd, target);
		if ((op = kad_op_start(kd, OP_REFRESH, target)) == NULL)
			return;
		BUMP(kd, refreshes);
		kad_op_run(op);
	}
}

/* A lookup found a version of a key: if it is newer than the copy we hold,
 * ours is replaced (we missed a write), and a get answers with it. */
static void adopt_if_newer(struct kad *kd, struct kad_op *op)
{
	struct kad_lookup *lk = &op->lk;
	double now = kd->api->now(kd->host);
	struct kad_value *v = kad_store_get(&kd->store, lk->target, now);

	if (op->local && kad_value_newer(op->seq, op->value, op->vlen, lk->seq, lk->value,
	                                 lk->vlen) >= 0)
		return;              /* ours is the newest: the answer stays ours */
	op->local = 0;
	if (v != NULL && lk->ttl > 0 &&
	    kad_value_newer(lk->seq, lk->value, lk->vlen, v->seq, v->data, v->len) > 0) {
		uint32_t ttl = lk->ttl < kd->conf.value_ttl_max ? lk->ttl
		                                                : (uint32_t)kd->conf.value_ttl_max;
		if (kad_store_put(&kd->store, lk->target, lk->seq, lk->value, lk->vlen, now + ttl,
		                  now + kad_jitter(kd, kd->conf.republish), kad_own_source, 1, 0)
		    == KAD_ST_STORED)
			BUMP(kd, refetched);
	}
}

/* A value lookup ended with a version. The newest known (ours, if we hold
 * a newer copy) goes to the closest node that lacked the value, as a
 * cache, and to every node that answered with an older version. */
static void spread_newest(struct kad *kd, struct kad_op *op)
{
	struct kad_lookup *lk = &op->lk;
	int ours = op->local && kad_value_newer(op->seq, op->value, op->vlen, lk->seq,
	                                        lk->value, lk->vlen) > 0;
	const uint8_t *val = ours ? op->value : lk->value;
	uint32_t vlen = ours ? op->vlen : lk->vlen, ttl = ours ? op->ttl : lk->ttl;
	uint64_t seq = ours ? op->seq : lk->seq;

	if (lk->cache_at >= 0) {
		BUMP(kd, cached);
		send_store(kd, NULL, &lk->c[lk->cache_at].n, lk->target, seq, ttl, val, vlen);
		op->stores_sent++;
	}
	for (int i = 0; i < lk->n; i++) {
		if (!lk->c[i].stale && !(ours && lk->c[i].had_value))
			continue;
		BUMP(kd, healed);
		send_store(kd, NULL, &lk->c[i].n, lk->target, seq, ttl, val, vlen);
		op->stores_sent++;
	}
	adopt_if_newer(kd, op);
}

void kad_fetch(struct kad *kd, const uint8_t key[KAD_ID_LEN])
{
	struct kad_op *op = kad_op_start(kd, OP_FETCH, key);

	if (op != NULL)
		kad_op_run(op);
}

static void lk_done(void *arg, struct kad_lookup *lk)
{
	struct kad_op *op = arg;
	struct kad *kd = op->kd;

	kad_orphan(kd, op);
	BUMP(kd, lookups);
	if (kd->c.lookup_hops)
		*kd->c.lookup_hops += (uint64_t)lk->hops;
	if (lk->answers == 0)
		BUMP(kd, lookups_failed);
	switch (op->kind) {
	case OP_GET:
	case OP_FETCH:
		if (lk->found)
			spread_newest(kd, op);
		if (op->kind == OP_FETCH)
			kad_op_complete(op, lk->found ? MP2P_KAD_OK : MP2P_KAD_NOT_FOUND);
		else if (lk->found || op->local)
			kad_op_complete(op, MP2P_KAD_OK);
		else
			kad_op_complete(op, lk->answers ? MP2P_KAD_NOT_FOUND : MP2P_KAD_FAILED);
		break;
	case OP_PUT:
	case OP_REPUBLISH:
		start_storing(op);
		break;
	case OP_JOIN:
		kad_op_complete(op, lk->answers ? MP2P_KAD_OK : MP2P_KAD_FAILED);
		if (lk->answers)
			refresh_sparse_buckets(kd);
		else
			kd->joined = 0;      /* the maintenance timer tries again */
		break;
	default:
		kad_op_complete(op, lk->answers ? MP2P_KAD_OK : MP2P_KAD_FAILED);
		break;
	}
}

static const struct kad_lookup_io lk_io = { lk_query, lk_done, lk_answered };

struct kad_op *kad_op_start(struct kad *kd, int kind, const uint8_t target[KAD_ID_LEN])
{
	double now = kd->api->now(kd->host);
	struct kad_op *op;

	if (!kd->running || kd->nops >= KAD_MAX_OPS) {
		BUMP(kd, busy);
		return NULL;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->kd = kd;
	op->kind = kind;
	op->phase = PH_LOOKUP;
	op->started = now;
	memcpy(op->key, target, KAD_ID_LEN);
	kad_lookup_init(&op->lk, kd->self, target,
	                kind == OP_GET || kind == OP_FETCH ? KAD_LK_VALUE : KAD_LK_NODE,
	                kd->conf.k, kd->conf.alpha, &lk_io, op, &kd->rtt,
	                kd->conf.request_timeout, now);
	op->lk.end_at_convergence = kind == OP_PUT;
	op->next = kd->ops;
	kd->ops = op;
	kd->nops++;
	if (kind == OP_REPUBLISH)
		kd->nrepublish++;
	kad_table_touch(&kd->table, target, now);
	return op;
}

/* Seeds the lookup from the table and sends the first queries. The op may
 * be complete when this returns (an empty table), never freed. */
void kad_op_run(struct kad_op *op)
{
	struct kad_node seed[KAD_MAX_K];
	int n = kad_table_closest(&op->kd->table, op->key, seed, op->kd->conf.k, 0);

	kad_lookup_seed(&op->lk, seed, n);
	kad_lookup_step(&op->lk, op->kd->api->now(op->kd->host));
}

/* A put is answered once put_quorum() nodes hold the value, or every
 * STOR has been answered: waiting for the slowest of k stores would make
 * every put as slow as the most loaded or distant node. The STORs still
 * out go on; their answers are no longer the put's. A republication waits for all,
 * since a STOK that says "newer" makes it fetch the newer version. */
void kad_op_store_answered(struct kad_op *op, int ok)
{
	if (op->phase == PH_COMPLETE)
		return;
	op->stores_ok += ok != 0;
	op->stores_out--;
	/* A first-wave STOR failed: the put needs the rest to reach its
	 * quorum, so they all go now (at once, or when the lookup ends). */
	if (!ok && op->kind == OP_PUT && !op->all_waves) {
		op->all_waves = 1;
		if (op->phase == PH_STORING)
			store_closest(op, op->kd->conf.replicas, op->value, op->vlen);
	}
	/* Stores sent during the lookup count, but the put is done only once
	 * the lookup has ended (start_storing). */
	if (op->phase != PH_STORING)
		return;
	if (op->stores_out == 0 || (op->kind == OP_PUT && op->stores_ok >= put_quorum(op)))
		put_complete(op, op->stores_ok > 0 ? MP2P_KAD_OK : MP2P_KAD_FAILED);
}

void kad_op_complete(struct kad_op *op, int status)
{
	struct kad *kd = op->kd;
	struct kad_op **pp = &kd->ops;

	if (op->phase == PH_COMPLETE)
		return;
	while (*pp && *pp != op)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = op->next;
		kd->nops--;
		if (op->kind == OP_REPUBLISH)
			kd->nrepublish--;
	}
	op->phase = PH_COMPLETE;
	op->status = status;
	op->ended = kd->api->now(kd->host);
	kad_orphan(kd, op);
	op->next = kd->done;
	kd->done = op;
	if (kd->report)
		kd->api->timer_start(kd->host, kd->report, 0, MP2P_TIMER_ONCE);
}

static void op_free(struct kad_op *op)
{
	kad_lookup_release(&op->lk);
	free(op->value);
	free(op);
}

/* The zero-delay timer: tells each finished op's requester. */
void kad_report(void *arg)
{
	struct kad *kd = arg;

	while (kd->done) {
		struct kad_op *op = kd->done;
		kd->done = op->next;
		kad_op_reply(op);
		op_free(op);
	}
}

void kad_ops_cancel_all(struct kad *kd)
{
	while (kd->ops)
		kad_op_complete(kd->ops, MP2P_KAD_CANCELLED);
	kad_report(kd);
}

/* At destroy: whatever is left is freed without a word; the host answers
 * deferred replies itself. */
void kad_ops_free_all(struct kad *kd)
{
	while (kd->ops) {
		struct kad_op *op = kd->ops;
		kd->ops = op->next;
		op_free(op);
	}
	while (kd->done) {
		struct kad_op *op = kd->done;
		kd->done = op->next;
		op_free(op);
	}
	kd->nops = kd->nrepublish = 0;
}

void kad_join(struct kad *kd)
{
	struct kad_op *op;

	if ((op = kad_op_start(kd, OP_JOIN, kd->self)) == NULL)
		return;
	kd->joined = 1;
	kad_op_run(op);
}

/* Entries from saved state may be anyone by now: each is pinged, and is
 * handed to others only once it has answered (kad_table_closest). One that
 * fails is dropped at once (kad_table_failed). */
void kad_verify_restored(struct kad *kd)
{
	for (int bi = 0; bi < kd->table.nbuckets; bi++) {
		struct kad_bucket *b = &kd->table.b[bi];
		for (int i = 0; i < b->nlive; i++) {
			struct kad_node n;
			if (!b->live[i].unverified)
				continue;
			kad_entry_node(&b->live[i], &n);
			if (kad_send_ping(kd, n.addr, n.id, P_PING_EVICT, 0) < 0)
				return;
			BUMP(kd, restored_pings);
		}
	}
}

int kad_put_start(struct kad *kd, const void *name, size_t nlen, const void *value,
                  size_t vlen, uint32_t ttl, int immutable, struct kad_op **op_out)
{
	double now = kd->api->now(kd->host);
	uint8_t key[KAD_ID_LEN], *rec;
	uint64_t seq = 0;
	struct kad_op *op;
	size_t cap = 1 + KAD_PUB_LEN + 1 + nlen + KAD_SIG_LEN + vlen;
	int len, r;

	if (vlen > (size_t)kd->conf.max_value_size ||
	    (!immutable && (nlen == 0 || nlen > KAD_NAME_MAX)) || !kd->key_ok)
		return -1;
	if (!immutable) {
		/* Versions of a name order by the wall clock in microseconds,
		 * strictly increasing even for two puts in one microsecond. */
		seq = kad_wall_usec(kd);
		if (seq <= kd->last_seq)
			seq = kd->last_seq + 1;
		kd->last_seq = seq;
	}
	if ((rec = malloc(cap)) == NULL)
		return -1;
	len = immutable ? kad_record_immutable(rec, cap, value, (uint32_t)vlen, key)
	                : kad_record_mutable(rec, cap, &kd->signer, name, nlen, seq, value,
	                                     (uint32_t)vlen, key);
	if (len < 0) {
		free(rec);
		return -1;
	}
	if (ttl == 0 || ttl > kd->conf.value_ttl_max)
		ttl = (uint32_t)kd->conf.value_ttl_max;
	r = kad_store_put(&kd->store, key, seq, rec, (uint32_t)len, now + ttl,
	                  now + kad_jitter(kd, kd->conf.republish), kad_own_source, 1, 1);
	if (r != KAD_ST_STORED || (op = kad_op_start(kd, OP_PUT, key)) == NULL) {
		free(rec);
		return -1;
	}
	op->value = rec;
	op->vlen = (uint32_t)len;
	op->seq = seq;
	op->ttl = ttl;
	*op_out = op;
	return 0;
}

/* The routes file: the table without values, so a host that was killed
 * (and so saved no state) still rejoins without its bootstrap nodes. */
int kad_write_routes(struct kad *kd)
{
	struct kad_state_view v;
	const char *dir = kd->api->state_dir(kd->host);
	uint8_t *blob;
	size_t len;
	int rc;

	if (dir == NULL)
		return -1;
	memset(&v, 0, sizeof(v));
	memcpy(v.self, kd->self, KAD_ID_LEN);
	v.table = &kd->table;
	v.store = &kd->store;
	v.now = kd->api->now(kd->host);
	v.wall = kad_wall_usec(kd) / 1000000u;
	if (kad_state_save(&v, 0, &blob, &len) < 0)
		return -1;
	rc = kad_file_write(dir, "routes", blob, len);
	free(blob);
	if (rc < 0)
		return -1;
	kd->routes_written = kd->table_changes;
	kd->last_routes_write = kd->api->now(kd->host);
	return 0;
}

static void republish_due(struct kad *kd, double now)
{
	for (int i = 0; i < kd->store.n && kd->nrepublish < KAD_MAX_REPUBLISH; i++) {
		struct kad_value *v = kd->store.v[i];
		struct kad_op *op;
		if (v->republish_at > now || v->expires <= now)
			continue;
		if ((op = kad_op_start(kd, OP_REPUBLISH, v->key)) == NULL)
			return;
		v->republish_at = now + kad_jitter(kd, kd->conf.republish);
		op->seq = v->seq;
		BUMP(kd, republished);
		kad_op_run(op);
	}
}

static void refresh_stale(struct kad *kd, double now)
{
	int started = 0;

	if (kad_table_size(&kd->table) == 0)
		return;
	for (int bi = 0; bi < kd->table.nbuckets && started < 2; bi++) {
		uint8_t rnd[KAD_ID_LEN], target[KAD_ID_LEN];
		struct kad_op *op;
		if (kd->table.b[bi].touched + kd->conf.refresh > now)
			continue;
		kd->api->random_bytes(kd->host, rnd, sizeof(rnd));
		kad_id_in_range(kd->self, bi, bi == kd->table.nbuckets - 1, rnd, target);
		if ((op = kad_op_start(kd, OP_REFRESH, target)) == NULL)
			return;
		kd->table.b[bi].touched = now;
		BUMP(kd, refreshes);
		started++;
		kad_op_run(op);
	}
}

static void bootstrap(struct kad *kd, double now)
{
	if (kd->conf.nbootstrap == 0 || now < kd->next_boot)
		return;
	for (int i = 0; i < kd->conf.nbootstrap; i++)
		if (kad_send_ping(kd, kd->conf.bootstrap[i], NULL, P_PING_BOOT, 0) == 0)
			BUMP(kd, bootstrap_pings);
	kd->next_boot = now + kd->boot_backoff;
	kd->boot_backoff = kad_backoff_next(kd->boot_backoff);
}

/* When maintenance must run next: the regular tick, or sooner for a
 * bootstrap retry that is due (the backoff is 1 s doubling to 60 s, which
 * a 30 s tick could not keep) or a republication that is due. */
static double next_maintenance(struct kad *kd, double now)
{
	double next = now + kd->maint_every;

	if (kad_table_size(&kd->table) == 0 && kd->conf.nbootstrap > 0 && kd->next_boot < next)
		next = kd->next_boot;
	for (int i = 0; i < kd->store.n; i++) {
		double at = kd->store.v[i]->republish_at;
		if (kd->nrepublish >= KAD_MAX_REPUBLISH && at <= now)
			at = now + 0.1;      /* wait for a running one to finish */
		if (at < next)
			next = at;
	}
	return next > now + 0.01 ? next : now + 0.01;
}

void kad_maintain(void *arg)
{
	struct kad *kd = arg;
	double now = kd->api->now(kd->host);

	kad_store_expire(&kd->store, now);
	kad_conns_sweep(kd, now);
	republish_due(kd, now);
	refresh_stale(kd, now);
	if (kad_table_size(&kd->table) == 0) {
		kd->joined = 0;
		bootstrap(kd, now);
	} else {
		/* The next time the table empties, retries start at 1 s again. */
		kd->boot_backoff = KAD_BOOT_FIRST;
		kd->next_boot = 0;
		if (!kd->joined)
			kad_join(kd);
	}
	if (kd->table_changes != kd->routes_written && now - kd->last_routes_write >= 10)
		kad_write_routes(kd);
	if (kd->running && kd->maint != NULL)
		kd->api->timer_start(kd->host, kd->maint, next_maintenance(kd, now) - now,
		                     MP2P_TIMER_ONCE);
}

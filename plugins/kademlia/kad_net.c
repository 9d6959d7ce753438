/* kad_net.c -- frames in and out: requests we answer, requests we wait on.
 *
 * Every request we send carries a random 64-bit id and is remembered with
 * the connection it left on. An answer counts only if its id is one we are
 * waiting for, it arrives on that same connection, and it comes from the
 * node we asked; anything else is dropped and counted. A node enters the
 * routing table only by answering one of our requests, so an address
 * someone merely claims is never trusted without a round trip. */
#include "kad_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUMP(kd, name) do { if ((kd)->c.name) (*(kd)->c.name)++; } while (0)

static struct kad_pend **slot(struct kad *kd, uint64_t reqid)
{
	return &kd->pend[reqid % KAD_PEND_BUCKETS];
}

static struct kad_pend *pend_find(struct kad *kd, uint64_t reqid)
{
	for (struct kad_pend *p = *slot(kd, reqid); p; p = p->next)
		if (p->reqid == reqid)
			return p;
	return NULL;
}

static void pend_unlink(struct kad *kd, struct kad_pend *p)
{
	struct kad_pend **pp = slot(kd, p->reqid);

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	kd->npend--;
	if (p->kind == P_PING_JOIN)
		kd->njoin--;
}

void kad_pend_free_all(struct kad *kd)
{
	for (int i = 0; i < KAD_PEND_BUCKETS; i++) {
		while (kd->pend[i]) {
			struct kad_pend *p = kd->pend[i];
			kd->pend[i] = p->next;
			free(p);
		}
	}
	kd->npend = kd->njoin = 0;
}

/* The op is finished with its lookup: answers still update the table,
 * but no longer reach the op. */
void kad_orphan(struct kad *kd, struct kad_op *op)
{
	for (int i = 0; i < KAD_PEND_BUCKETS; i++)
		for (struct kad_pend *p = kd->pend[i]; p; p = p->next)
			if (p->op == op && (p->kind == P_LOOKUP || op->phase == PH_COMPLETE))
				p->op = NULL;
}

void kad_schedule(struct kad *kd, double at)
{
	double now = kd->api->now(kd->host);

	if (!kd->running || kd->wake == NULL)
		return;
	if (kd->wake_at > 0 && kd->wake_at <= at)
		return;
	kd->wake_at = at;
	kd->api->timer_start(kd->host, kd->wake, at > now ? at - now : 0, MP2P_TIMER_ONCE);
}

static uint64_t new_reqid(struct kad *kd)
{
	uint64_t id = 0;

	while (id == 0 || pend_find(kd, id) != NULL)
		kd->api->random_bytes(kd->host, &id, sizeof(id));
	return id;
}

/* A node whose id we know is dialled expecting that id as its peer id
 * (over TLS they are the same 32 bytes): a host at its address with
 * another key is refused in the handshake, before any frame is sent. */
static int send_to_node(struct kad *kd, const struct kad_node *to, int id_known,
                        const char *type, size_t len, mp2p_conn_id *conn)
{
	char hex[2 * KAD_ID_LEN + 1];
	mp2p_conn_id known;

	if (!id_known || kd->api->security(kd->host) == MP2P_SECURITY_PLAIN)
		return kd->api->send_to(kd->host, to->addr, NULL, type, kd->buf, len,
		                        MP2P_SEND_REUSE, conn);
	/* A connection the node itself spoke on, TLS-proved, saves a dial. */
	if ((known = kad_link_find(kd, to->id)) != 0 &&
	    kd->api->send(kd->host, known, NULL, type, kd->buf, len) == 0) {
		*conn = known;
		return 0;
	}
	kad_id_hex(to->id, hex);
	return kd->api->send_to_peer(kd->host, to->addr, hex, NULL, type, kd->buf, len,
	                             MP2P_SEND_REUSE, conn);
}

static int send_request(struct kad *kd, int type, const struct kad_node *to, int id_known,
                        int kind, struct kad_op *op, const struct kad_msg *body,
                        uint64_t *reqid_out, mp2p_conn_id claimed_on)
{
	struct kad_msg m;
	struct kad_pend *p;
	double now = kd->api->now(kd->host);
	mp2p_conn_id conn = 0;
	int len;

	if (!kd->running || !kd->addr_ok || kd->npend >= KAD_MAX_PENDING) {
		BUMP(kd, busy);
		return -1;
	}
	if (body)
		m = *body;
	else
		memset(&m, 0, sizeof(m));
	m.type = type;
	m.reqid = new_reqid(kd);
	memcpy(m.id, kd->self, KAD_ID_LEN);
	snprintf(m.addr, sizeof(m.addr), "%s", kd->addr);
	if ((len = kad_encode_request(kd->buf, kd->bufcap, &m)) < 0)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	/* An address a node claimed for itself is dialled only if the node
	 * is at that IP: the host checks (send_claimed), or any request could
	 * point us at a third party. */
	if ((claimed_on != 0 ?
	     kd->api->send_claimed(kd->host, claimed_on, to->addr, NULL, kad_type_to_wire(type),
	                           kd->buf, (size_t)len, MP2P_SEND_REUSE, &conn) :
	     send_to_node(kd, to, id_known, kad_type_to_wire(type), (size_t)len, &conn)) < 0) {
		BUMP(kd, send_failures);
		free(p);
		return -1;
	}
	BUMP(kd, messages_out);
	kad_conn_used(kd, conn, now);
	p->reqid = m.reqid;
	p->kind = kind;
	p->conn = conn;
	p->to = *to;
	p->id_known = id_known;
	p->sent = now;
	p->deadline = now + kd->conf.request_timeout;
	p->op = op;
	p->next = *slot(kd, p->reqid);
	*slot(kd, p->reqid) = p;
	kd->npend++;
	if (kind == P_PING_JOIN)
		kd->njoin++;
	if (reqid_out)
		*reqid_out = p->reqid;
	kad_schedule(kd, p->deadline);
	return 0;
}

int kad_send_request(struct kad *kd, int type, const struct kad_node *to, int id_known,
                     int kind, struct kad_op *op, const struct kad_msg *body,
                     uint64_t *reqid_out)
{
	return send_request(kd, type, to, id_known, kind, op, body, reqid_out, 0);
}

int kad_send_ping(struct kad *kd, const char *addr, const uint8_t *id, int kind,
                  mp2p_conn_id claimed_on)
{
	struct kad_node to;

	memset(&to, 0, sizeof(to));
	snprintf(to.addr, sizeof(to.addr), "%s", addr);
	if (id)
		memcpy(to.id, id, KAD_ID_LEN);
	return send_request(kd, KAD_T_PING, &to, id != NULL, kind, NULL, NULL, NULL, claimed_on);
}

/* A node answered one of our requests from its advertised address. */
void kad_node_seen(struct kad *kd, const struct kad_node *n)
{
	struct kad_node lrs;
	int need_ping = 0, r;

	r = kad_table_seen(&kd->table, n, kd->api->now(kd->host), &lrs, &need_ping);
	if (r == KAD_TB_ADDED)
		kd->table_changes++;
	else if (r == KAD_TB_LIMIT)
		BUMP(kd, table_limited);
	if (need_ping) {
		BUMP(kd, evict_pings);
		if (kad_send_ping(kd, lrs.addr, lrs.id, P_PING_EVICT, 0) < 0 &&
		    kad_table_failed(&kd->table, lrs.id, 1))
			BUMP(kd, evicted);
	}
}

static void node_failed(struct kad *kd, const struct kad_pend *p)
{
	if (!p->id_known)
		return;
	if (kad_table_failed(&kd->table, p->to.id, 2)) {
		BUMP(kd, evicted);
		kd->table_changes++;
	}
}

/* A request got no answer (timeout, dead connection, wrong answer). */
static void request_failed(struct kad *kd, struct kad_pend *p, double now)
{
	struct kad_op *op = p->op;

	pend_unlink(kd, p);
	BUMP(kd, request_failures);
	node_failed(kd, p);
	if (op && p->kind == P_LOOKUP)
		kad_lookup_on_fail(&op->lk, p->reqid, now);
	else if (op && p->kind == P_STORE)
		kad_op_store_answered(op, 0);
	free(p);
}

/* Fails every request matching conn (or, with conn 0, past its deadline).
 * The ids are collected first: failing one may start new requests. */
static void fail_matching(struct kad *kd, mp2p_conn_id conn, double now)
{
	uint64_t ids[256];
	int n;

	do {
		n = 0;
		for (int i = 0; i < KAD_PEND_BUCKETS && n < 256; i++)
			for (struct kad_pend *p = kd->pend[i]; p && n < 256; p = p->next)
				if (conn ? p->conn == conn : p->deadline <= now)
					ids[n++] = p->reqid;
		for (int i = 0; i < n; i++) {
			struct kad_pend *p = pend_find(kd, ids[i]);
			if (p && (conn ? p->conn == conn : p->deadline <= now)) {
				/* Lookups count their own (earlier) timeouts. */
				if (!conn && p->kind != P_LOOKUP)
					BUMP(kd, timeouts);
				request_failed(kd, p, now);
			}
		}
	} while (n == 256);
}

void kad_on_closed(struct kad *kd, mp2p_conn_id conn)
{
	kad_link_drop_conn(kd, conn);
	fail_matching(kd, conn, kd->api->now(kd->host));
}

/* The wake timer: hard deadlines of requests, soft ones of lookups. */
void kad_wake(void *arg)
{
	struct kad *kd = arg;
	double now = kd->api->now(kd->host), next = -1;

	kd->wake_at = 0;
	fail_matching(kd, 0, now);
	for (struct kad_op *op = kd->ops, *nx; op; op = nx) {
		nx = op->next;
		if (op->phase == PH_LOOKUP && !op->lk.finished) {
			int before = op->lk.timeouts;
			kad_lookup_tick(&op->lk, now);
			/* tick may finish the op, which moves it to the done list
			 * but leaves it alive until the report timer runs. */
			if (op->lk.timeouts > before && kd->c.timeouts)
				*kd->c.timeouts += (uint64_t)(op->lk.timeouts - before);
		}
	}
	for (int i = 0; i < KAD_PEND_BUCKETS; i++)
		for (struct kad_pend *p = kd->pend[i]; p; p = p->next)
			if (next < 0 || p->deadline < next)
				next = p->deadline;
	for (struct kad_op *op = kd->ops; op; op = op->next) {
		double d;
		if (op->phase == PH_LOOKUP && !op->lk.finished &&
		    (d = kad_lookup_next_deadline(&op->lk)) > 0 && (next < 0 || d < next))
			next = d;
	}
	if (next > 0)
		kad_schedule(kd, next);
}

/* --- answering requests ------------------------------------------------ */

static int same_ip(const char *conn_peer, const char *addr)
{
	const char *a = strrchr(conn_peer, ':'), *b = strrchr(addr, ':');

	return a && b && a - conn_peer == b - addr &&
	       memcmp(conn_peer, addr, (size_t)(a - conn_peer)) == 0;
}

/* What a request tells us about its sender. A node we know, writing from
 * its address's IP, is refreshed; a node we do not know is pinged at the
 * address it claims and enters the table only if it answers there. */
static void learn_sender(struct kad *kd, mp2p_conn_id conn, const struct kad_msg *m)
{
	const struct kad_entry *e = kad_table_find(&kd->table, m->id);
	struct mp2p_conn_info info;

	if (e != NULL) {
		if (!kad_entry_addr_is(e, m->addr))
			return;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (kd->api->conn_info(kd->host, conn, &info) == 0 && same_ip(info.peer, m->addr)) {
			struct kad_node n;
			kad_entry_node(e, &n);
			kad_node_seen(kd, &n);
		}
		return;
	}
	if (!kad_table_has_room(&kd->table, m->id, m->addr) || kd->njoin >= KAD_MAX_JOIN_PINGS ||
	    strcmp(m->addr, kd->addr) == 0)
		return;
	for (int i = 0; i < KAD_PEND_BUCKETS; i++)
		for (struct kad_pend *p = kd->pend[i]; p; p = p->next)
			if (p->kind == P_PING_JOIN && memcmp(p->to.id, m->id, KAD_ID_LEN) == 0)
				return;
	if (kad_send_ping(kd, m->addr, m->id, P_PING_JOIN, conn) == 0)
		BUMP(kd, join_pings);
}

static void answer(struct kad *kd, mp2p_conn_id conn, struct kad_msg *a)
{
	int len;

	memcpy(a->id, kd->self, KAD_ID_LEN);
	if ((len = kad_encode_answer(kd->buf, kd->bufcap, a)) < 0)
		return;
	if (kd->api->send(kd->host, conn, NULL, kad_type_to_wire(a->type), kd->buf,
	                  (size_t)len) == 0)
		BUMP(kd, messages_out);
	else
		BUMP(kd, send_failures);
}

static void answer_nodes(struct kad *kd, mp2p_conn_id conn, const struct kad_msg *m,
                         struct kad_msg *a)
{
	struct kad_node near[KAD_MAX_K + 1];
	int n = kad_table_closest(&kd->table, m->key, near, kd->conf.k + 1, 1);

	a->type = KAD_T_NODS;
	a->nnodes = 0;
	/* The asker knows itself; its slot goes to the next closest. Nodes
	 * restored from saved state are named only once they have answered
	 * us this run. */
	for (int i = 0; i < n && a->nnodes < kd->conf.k; i++)
		if (memcmp(near[i].id, m->id, KAD_ID_LEN) != 0)
			a->nodes[a->nnodes++] = near[i];
	answer(kd, conn, a);
}

/* The store's quotas count the address the STOR came from, which the
 * sender cannot choose, and never the id it claims, which it can. */
static void handle_store(struct kad *kd, mp2p_conn_id conn, const struct kad_msg *m,
                         struct kad_msg *a)
{
	double now = kd->api->now(kd->host);
	double ttl = m->ttl < kd->conf.value_ttl_max ? m->ttl : kd->conf.value_ttl_max;
	struct mp2p_conn_info info;
	uint8_t source[KAD_ID_LEN];
	int r;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (kd->api->conn_info(kd->host, conn, &info) < 0) {
		a->type = KAD_T_STOK;
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, store_refused);
		return;
	}
	kad_store_source(info.peer, source);
	a->type = KAD_T_STOK;
	/* Version 2 stores only records that prove themselves; a version-1
	 * write is unsigned and is refused, with an answer. */
	if (m->version != KAD_WIRE_VERSION) {
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, v1_store_refused);
		return;
	}
	switch (kad_record_check(m->key, m->seq, m->value, m->vlen)) {
	case KAD_REC_OK:
		break;
	case KAD_REC_E_SIG:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, bad_signature);
		return;
	case KAD_REC_E_HASH:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, bad_key);
		return;
	default:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, bad_record);
		return;
	}
	{
		struct kad_record rec;
		if (kad_record_parse(m->value, m->vlen, &rec) < 0 ||
		    rec.vlen > (uint32_t)kd->conf.max_value_size) {
			a->status = KAD_STOK_REFUSED;
			BUMP(kd, value_too_big);
			return;
		}
	}

	a->type = KAD_T_STOK;
	if (ttl <= 0) {
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, store_refused);
		return;
	}
	r = kad_store_put(&kd->store, m->key, m->seq, m->value, m->vlen, now + ttl,
	                  now + kad_jitter(kd, kd->conf.republish), source, 0, 0);
	switch (r) {
	case KAD_ST_STORED:
		a->status = KAD_STOK_STORED;
		BUMP(kd, stored);
		break;
	case KAD_ST_OLDER:
		a->status = KAD_STOK_NEWER;
		break;
	case KAD_ST_QUOTA:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, store_quota);
		break;
	case KAD_ST_FULL:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, store_full);
		break;
	case KAD_ST_TOOBIG:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, value_too_big);
		break;
	default:
		a->status = KAD_STOK_REFUSED;
		BUMP(kd, store_refused);
		break;
	}
}

static void handle_request(struct kad *kd, mp2p_conn_id conn, const struct kad_msg *m)
{
	struct kad_msg *a;
	struct kad_value *v;
	double now = kd->api->now(kd->host);

	if (memcmp(m->id, kd->self, KAD_ID_LEN) == 0) {
		BUMP(kd, from_self);
		return;
	}
	/* The answer can hold KAD_MAX_K nodes: too big for the stack of a
	 * callback that may run deep in the loop, so it lives on the heap. */
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return;
	a->reqid = m->reqid;
	/* A version-1 node gets its answer in version 1: routing works with
	 * it; values do not (see FVAL and STOR). */
	a->version = m->version;
	switch (m->type) {
	case KAD_T_PING:
		a->type = KAD_T_PONG;
		answer(kd, conn, a);
		break;
	case KAD_T_FNOD:
		answer_nodes(kd, conn, m, a);
		break;
	case KAD_T_FVAL:
		/* A record has no version-1 form: a version-1 asker is told who
		 * is closer, as if we held nothing. */
		if (m->version == KAD_WIRE_VERSION &&
		    (v = kad_store_get(&kd->store, m->key, now)) != NULL) {
			a->type = KAD_T_VALU;
			memcpy(a->key, v->key, KAD_ID_LEN);
			a->seq = v->seq;
			a->ttl = (uint32_t)(v->expires - now + 0.5);
			a->vlen = v->len;
			a->value = v->data;
			answer(kd, conn, a);
		} else {
			answer_nodes(kd, conn, m, a);
		}
		break;
	case KAD_T_STOR:
		handle_store(kd, conn, m, a);
		answer(kd, conn, a);
		break;
	}
	free(a);
	learn_sender(kd, conn, m);
}

/* --- answers to our requests ------------------------------------------- */

/* A VALU is adopted, returned and spread only if its record is valid for
 * the key: a forged or altered version is a wrong answer, counted. */
static int value_proves_itself(struct kad *kd, const struct kad_msg *m)
{
	switch (kad_record_check(m->key, m->seq, m->value, m->vlen)) {
	case KAD_REC_OK:
		return 1;
	case KAD_REC_E_SIG:
		BUMP(kd, bad_signature);
		return 0;
	case KAD_REC_E_HASH:
		BUMP(kd, bad_key);
		return 0;
	default:
		BUMP(kd, bad_record);
		return 0;
	}
}

static void handle_answer(struct kad *kd, mp2p_conn_id conn, const struct kad_msg *m)
{
	struct kad_pend *p = pend_find(kd, m->reqid);
	double now = kd->api->now(kd->host);
	struct kad_node n;
	struct kad_op *op;

	if (p == NULL) {
		BUMP(kd, unknown_reqid);
		return;
	}
	if (p->conn != conn) {
		/* Someone else guessed or saw the id: not an answer. The real
		 * one may still come on the right connection. */
		BUMP(kd, wrong_conn);
		return;
	}
	if ((p->id_known && memcmp(p->to.id, m->id, KAD_ID_LEN) != 0) ||
	    memcmp(m->id, kd->self, KAD_ID_LEN) == 0) {
		BUMP(kd, wrong_responder);
		request_failed(kd, p, now);
		return;
	}
	op = p->op;
	pend_unlink(kd, p);
	memcpy(n.id, m->id, KAD_ID_LEN);
	memcpy(n.addr, p->to.addr, sizeof(n.addr));
	kad_node_seen(kd, &n);
	/* It answered on this connection at its address: the connection
	 * kad_keep.c may keep warm for it. */
	kad_table_note_conn(&kd->table, &n, conn);

	switch (p->kind) {
	case P_LOOKUP:
		if (op == NULL)
			break;
		if (m->type == KAD_T_NODS)
			kad_lookup_on_nodes(&op->lk, p->reqid, m->id, m->nodes, m->nnodes, now);
		else if (m->type == KAD_T_VALU && op->lk.kind == KAD_LK_VALUE &&
		         memcmp(m->key, op->lk.target, KAD_ID_LEN) == 0 &&
		         m->version == KAD_WIRE_VERSION && value_proves_itself(kd, m)) {
			kad_lookup_on_value(&op->lk, p->reqid, m->id, m->seq, m->ttl,
			                    m->value, m->vlen, now);
		}
		else {
			BUMP(kd, wrong_answer);
			kad_lookup_on_fail(&op->lk, p->reqid, now);
		}
		/* A first value shortens the wait for the rest (kad_lookup.c):
		 * the wake timer must come by then. The op may be complete, but
		 * it is freed only on the next turn of the loop. */
		if (!op->lk.finished) {
			double d = kad_lookup_next_deadline(&op->lk);
			if (d > 0)
				kad_schedule(kd, d);
		}
		break;
	case P_STORE:
		/* A STOK's round trip is a sample of the soft timeout like a
		 * lookup's (lookups take their own): a node that puts more than
		 * it gets soon replaces the slow samples of its start-up. */
		if (m->type != KAD_T_STOK)
			BUMP(kd, wrong_answer);
		else
			kad_rtt_sample(&kd->rtt, now - p->sent);
		/* A holder has a newer version than the one we republish: we
		 * missed a write, so fetch it (once per republication). */
		if (op && op->kind == OP_REPUBLISH && m->type == KAD_T_STOK &&
		    m->status == KAD_STOK_NEWER && !op->fetching) {
			op->fetching = 1;
			kad_fetch(kd, op->key);
		}
		if (op)
			kad_op_store_answered(op, m->type == KAD_T_STOK &&
			                          m->status != KAD_STOK_REFUSED);
		break;
	case P_PING_BOOT:
		if (m->type == KAD_T_PONG && !kd->joined)
			kad_join(kd);
		break;
	default:
		if (m->type != KAD_T_PONG)
			BUMP(kd, wrong_answer);
		break;
	}
	free(p);
}

static void count_error(struct kad *kd, int e)
{
	switch (e) {
	case KAD_E_ADDRESS:
		BUMP(kd, bad_address);
		break;
	case KAD_E_COUNT:
		BUMP(kd, too_many_nodes);
		break;
	case KAD_E_VALUE:
		BUMP(kd, value_too_big);
		break;
	case KAD_E_TYPE:
		BUMP(kd, bad_type);
		break;
	default:
		BUMP(kd, bad_payload);
		break;
	}
}

/* Over TLS a node id costs a key: a node's id is its host's peer id (32
 * bytes), so a message whose sender id is not its connection's peer id is
 * refused, as is any message on a plaintext connection unless the host
 * runs in mode "plain" (where no id can be checked, as before). */
static int id_is_senders_key(struct kad *kd, mp2p_conn_id conn, const uint8_t id[KAD_ID_LEN])
{
	struct mp2p_conn_info info;
	uint8_t key[KAD_ID_LEN];

	if (kd->api->security(kd->host) == MP2P_SECURITY_PLAIN)
		return 1;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (kd->api->conn_info(kd->host, conn, &info) < 0 || !info.authenticated) {
		BUMP(kd, unauthenticated);
		kd->api->log(kd->host, MP2P_LOG_DEBUG, "dropped a message on plaintext conn %llu: "
		             "node ids are checked against TLS keys", (unsigned long long)conn);
		return 0;
	}
	if (kad_id_parse(info.peer_id, key) == 0 && memcmp(key, id, KAD_ID_LEN) == 0)
		return 1;
	BUMP(kd, id_not_key);
	kd->api->log(kd->host, MP2P_LOG_DEBUG, "dropped a message on conn %llu: its node id is "
	             "not the peer id %.16s... of the key it connected with",
	             (unsigned long long)conn, info.peer_id);
	return 0;
}

void kad_on_frame(struct kad *kd, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct kad_msg *m;
	int type = kad_type_from_wire(f->type), e;

	BUMP(kd, messages_in);
	if (!kd->running)
		return;
	if ((m = malloc(sizeof(*m))) == NULL)
		return;
	e = kad_decode(type, f->payload, f->length, (size_t)kd->conf.max_value_size, m);
	if (e != KAD_E_OK) {
		count_error(kd, e);
		kd->api->log(kd->host, MP2P_LOG_DEBUG, "dropped a %.4s frame of %u bytes (error %d)",
		             f->type, f->length, e);
	} else if (!id_is_senders_key(kd, conn, m->id)) {
		/* dropped and counted there */
	} else {
		/* Over TLS the id is proved: this connection leads to it. */
		if (kd->api->security(kd->host) != MP2P_SECURITY_PLAIN)
			kad_link_note(kd, m->id, conn);
		if (kad_is_request(type))
			handle_request(kd, conn, m);
		else
			handle_answer(kd, conn, m);
	}
	free(m);
}

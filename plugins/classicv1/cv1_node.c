/* cv1_node.c -- what a ClassicV1 host does with frames, connections and
 * time: joining, list exchange, messages, the broadcast flood, liveness.
 *
 * Two kinds of peers share the table. An original Python peer reads one
 * frame per connection, so everything sent to a peer we are not sure of
 * goes one-shot. A host of ours answers CAPA; from then on it gets a
 * persistent connection, which opens with a CAPA so the far end knows
 * whose connection it is, and it takes part in the FOR flood.
 */
#include "cv1_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Consecutive failed dials after which a peer is dead. */
#define CV1_MAX_FAILS 3
/* Seconds between re-bootstraps while the table is empty. */
#define CV1_REBOOTSTRAP 5.0
/* Seconds a JOIN over TLS to an unknown host may take to complete its
 * handshake in mode "mixed" before it is sent again in plaintext. */
#define CV1_JOIN_TLS_WAIT 1.0

static void remove_dead(struct cv1 *c, struct cv1_peer *p, const char *why);

/* ---- connections we remember ----------------------------------------- */

static uint16_t *conn_chain_of(struct cv1 *c, mp2p_conn_id id)
{
	/* Ids are the host's and count up: the low bits spread well enough. */
	return &c->conn_bucket[(id ^ (id >> 8)) % CV1_CONN_BUCKETS];
}

static struct cv1_conn *conn_find(struct cv1 *c, mp2p_conn_id id)
{
	if (id == 0)
		return NULL;
	for (uint16_t i = *conn_chain_of(c, id); i != 0; i = c->conns[i - 1].chain)
		if (c->conns[i - 1].id == id)
			return &c->conns[i - 1];
	return NULL;
}

/* The entry leaves its bucket and is cleared. */
static void conn_unlink(struct cv1 *c, struct cv1_conn *k)
{
	uint16_t me = (uint16_t)(k - c->conns + 1);
	uint16_t *link = conn_chain_of(c, k->id);

	while (*link != 0 && *link != me)
		link = &c->conns[*link - 1].chain;
	if (*link == me)
		*link = k->chain;
	memset(k, 0, sizeof(*k));
}

/* We no longer need to know who is on this connection. */
static void conn_forget(struct cv1 *c, struct cv1_conn *k)
{
	if (k == NULL || k->id == 0)
		return;
	conn_unlink(c, k);
	k->chain = c->conn_free;
	c->conn_free = (uint16_t)(k - c->conns + 1);
}

/* A free entry: a released one, one never used, or, when every one is
 * taken, the round-robin victim, which loses only its attribution. */
static struct cv1_conn *conn_take(struct cv1 *c)
{
	struct cv1_conn *k;

	if (c->conn_free != 0) {
		k = &c->conns[c->conn_free - 1];
		c->conn_free = k->chain;
		k->chain = 0;
		return k;
	}
	if (c->conn_high < CV1_CONNS)
		return &c->conns[c->conn_high++];
	k = &c->conns[c->conn_next];
	c->conn_next = (c->conn_next + 1) % CV1_CONNS;
	conn_unlink(c, k);
	return k;
}

/* Remembers (or relabels) a connection. When every slot is taken the
 * round-robin victim loses only its attribution, never a peer. */
static void conn_note(struct cv1 *c, mp2p_conn_id id, const char *pid, int purpose)
{
	struct cv1_conn *k = conn_find(c, id);

	if (id == 0)
		return;
	if (k == NULL) {
		uint16_t *chain = conn_chain_of(c, id);

		k = conn_take(c);
		k->id = id;
		k->purpose = purpose;
		k->list_asked = 0;
		k->chain = *chain;
		*chain = (uint16_t)(k - c->conns + 1);
	} else if (purpose == CV1_CONN_REUSE || purpose == CV1_CONN_INBOUND) {
		k->purpose = purpose;
	}
	{
		size_t n = strnlen(pid, sizeof(k->pid) - 1);
		memcpy(k->pid, pid, n);
		k->pid[n] = '\0';
	}
}

/* Remembers that `pid`, not in our table, keeps a connection to us. */
static void follower_note(struct cv1 *c, const char *pid, mp2p_conn_id conn)
{
	struct cv1_follower *f = NULL;

	for (size_t i = 0; i < CV1_FOLLOWERS; i++) {
		if (c->followers[i].conn != 0 && strcmp(c->followers[i].pid, pid) == 0) {
			c->followers[i].conn = conn;
			return;
		}
		if (c->followers[i].conn == 0 && f == NULL)
			f = &c->followers[i];
	}
	if (f == NULL) {
		f = &c->followers[c->follower_next];
		c->follower_next = (c->follower_next + 1) % CV1_FOLLOWERS;
	}
	f->conn = conn;
	snprintf(f->pid, sizeof(f->pid), "%s", pid);
}

static void follower_forget_conn(struct cv1 *c, mp2p_conn_id conn)
{
	for (size_t i = 0; i < CV1_FOLLOWERS; i++)
		if (c->followers[i].conn == conn)
			memset(&c->followers[i], 0, sizeof(c->followers[i]));
}

/* ---- who a connection is ----------------------------------------------- */

/* Over TLS our hosts' pids are their peer ids. A pid of that form names a
 * key, and only a connection authenticated with that key may speak for it. */
static int pid_is_key(const char *pid)
{
	size_t i;

	for (i = 0; pid[i] != '\0'; i++)
		if (!((pid[i] >= '0' && pid[i] <= '9') || (pid[i] >= 'a' && pid[i] <= 'f')))
			return 0;
	return i == MP2P_PEER_ID_LEN;
}

/* The peer id the host proved for conn, or NULL on a plaintext one. */
static const char *conn_key(struct cv1 *c, mp2p_conn_id conn, struct mp2p_conn_info *info)
{
	/* A host in mode "plain" has no authenticated connection to ask
	 * about, and this runs for every frame a peer floods. */
	if (c->api->security(c->host) == MP2P_SECURITY_PLAIN)
		return NULL;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	if (c->api->conn_info(c->host, conn, info) < 0 || !info->authenticated)
		return NULL;
	return info->peer_id;
}

/* May a frame on conn say it comes from `pid`? On an authenticated
 * connection only if pid is the connection's own peer id; on a plaintext
 * one (mode "plain", or an original peer in "mixed") not for a pid that
 * names a key while the host speaks TLS. Refusals are counted. */
static int may_speak_as(struct cv1 *c, mp2p_conn_id conn, const char *pid)
{
	struct mp2p_conn_info info;
	const char *key = conn_key(c, conn, &info);

	if (key != NULL ? strcmp(key, pid) == 0
	                : !(pid_is_key(pid) && c->api->security(c->host) != MP2P_SECURITY_PLAIN))
		return 1;
	(*c->n.pid_mismatch)++;
	c->api->log(c->host, MP2P_LOG_DEBUG, "ignored a frame on conn %llu speaking for %s: the "
	             "connection is %s", (unsigned long long)conn, pid, key ? key : "plaintext");
	return 0;
}

/* How a frame to `pid` travels. To a key-named pid over TLS the dial names
 * that key, so nobody else at the address can take the frame; in mode
 * "mixed" everything else (original peers, addresses without a pid) goes
 * in plaintext, which is what an original peer reads. */
static int send_to_pid(struct cv1 *c, const char *hostport, const char *pid, const char *type,
                       const char *payload, size_t length, unsigned flags, mp2p_conn_id *conn)
{
	int mode = c->api->security(c->host);

	if (mode != MP2P_SECURITY_PLAIN && pid != NULL && pid_is_key(pid))
		return c->api->send_to_peer(c->host, hostport, pid, NULL, type, payload, length,
		                            flags, conn);
	if (mode == MP2P_SECURITY_MIXED)
		flags |= MP2P_SEND_PLAINTEXT;
	return c->api->send_to(c->host, hostport, NULL, type, payload, length, flags, conn);
}

/* ---- sending ----------------------------------------------------------- */

static int send_oneshot(struct cv1 *c, const char *hostport, const char *pid,
                        const char *type, const char *payload, size_t length,
                        int purpose, mp2p_conn_id *conn_out)
{
	mp2p_conn_id conn = 0;

	if (send_to_pid(c, hostport, pid, type, payload, length, MP2P_SEND_ONESHOT, &conn) < 0) {
		(*c->n.send_failed)++;
		return -1;
	}
	(*c->n.frames_sent)++;
	if (pid != NULL)
		conn_note(c, conn, pid, purpose);
	if (conn_out != NULL)
		*conn_out = conn;
	return 0;
}

static int capa_payload(struct cv1 *c, char *buf, size_t cap, int dir)
{
	return cv1_encode_capa(buf, cap, dir, c->pid, c->addr, c->port, CV1_CAPA_VERSION);
}

/* Sends one frame to a peer in the table, the way that peer wants it. */
static int send_peer_on(struct cv1 *c, struct cv1_peer *p, const char *type,
                        const char *payload, size_t length, mp2p_conn_id *conn_out)
{
	mp2p_conn_id conn = 0;

	if (p->kind != CV1_KIND_OURS || !c->persistent)
		return send_oneshot(c, p->hostport, p->pid, type, payload, length,
		                    CV1_CONN_PLAIN, conn_out);
	if (p->reuse_conn != 0 &&
	    c->api->send(c->host, p->reuse_conn, NULL, type, payload, length) == 0) {
		(*c->n.frames_sent)++;
		if (conn_out != NULL)
			*conn_out = p->reuse_conn;
		return 0;
	}
	/* A new persistent connection opens with CAPA, which tells the far
	 * end whose connection it is and is answered like a probe. */
	p->reuse_conn = 0;
	if (!mp2p_type_is(type, "CAPA")) {
		char capa[160];
		int n = capa_payload(c, capa, sizeof(capa), CV1_REQ);

		if (n < 0 || send_to_pid(c, p->hostport, p->pid, "CAPA", capa,
		                              (size_t)n, MP2P_SEND_REUSE, &conn) < 0) {
			(*c->n.send_failed)++;
			return -1;
		}
		(*c->n.frames_sent)++;
	}
	if (send_to_pid(c, p->hostport, p->pid, type, payload, length,
	                     MP2P_SEND_REUSE, &conn) < 0) {
		(*c->n.send_failed)++;
		return -1;
	}
	(*c->n.frames_sent)++;
	p->reuse_conn = conn;
	conn_note(c, conn, p->pid, CV1_CONN_REUSE);
	if (conn_out != NULL)
		*conn_out = conn;
	return 0;
}

/* The same, when the caller does not need the connection. */
static int send_peer(struct cv1 *c, struct cv1_peer *p, const char *type,
                     const char *payload, size_t length)
{
	return send_peer_on(c, p, type, payload, length, NULL);
}

static void send_capa_req(struct cv1 *c, struct cv1_peer *p)
{
	char buf[160];
	int n = capa_payload(c, buf, sizeof(buf), CV1_REQ);

	if (n < 0)
		return;
	if (p->kind == CV1_KIND_OURS)
		send_peer(c, p, "CAPA", buf, (size_t)n);
	else
		send_oneshot(c, p->hostport, p->pid, "CAPA", buf, (size_t)n, CV1_CONN_CAPA, NULL);
}

static void send_join_plain(struct cv1 *c, const char *hostport)
{
	char buf[160];
	int n = cv1_encode_join(buf, sizeof(buf), CV1_REQ, c->pid, c->addr, c->port);

	if (n >= 0)
		send_oneshot(c, hostport, NULL, "JOIN", buf, (size_t)n, CV1_CONN_PLAIN, NULL);
}

/* A JOIN to an address whose pid we do not know yet (bootstrap, seeds,
 * `join`) in mode "mixed": the far end may be a host of ours, which
 * believes our key-named pid only over TLS, or an original peer, which
 * reads only plaintext. It goes over TLS first; a dial that never
 * completes its handshake is tried once more in plaintext (see
 * cv1_node_conn). */
static void send_join_tls_first(struct cv1 *c, const char *hostport, const char *buf, size_t n)
{
	mp2p_conn_id conn = 0;
	struct cv1_conn *k;

	if (c->api->send_to(c->host, hostport, NULL, "JOIN", buf, n, MP2P_SEND_ONESHOT, &conn) < 0) {
		(*c->n.send_failed)++;
		return;
	}
	(*c->n.frames_sent)++;
	conn_note(c, conn, "", CV1_CONN_JOIN_TLS);
	if ((k = conn_find(c, conn)) == NULL)
		return;
	snprintf(k->retry, sizeof(k->retry), "%s", hostport);
	k->sent_at = c->api->now(c->host);
	k->opened = 0;
	if (c->join_wait != NULL)
		c->api->timer_start(c->host, c->join_wait, CV1_JOIN_TLS_WAIT, 0);
}

/* An original peer does not refuse a TLS hello: it reads it as the start
 * of a frame and waits for the rest. A JOIN whose handshake has not
 * completed after CV1_JOIN_TLS_WAIT is given up and sent in plaintext. */
void cv1_node_join_wait(void *arg)
{
	struct cv1 *c = arg;
	double now = c->api->now(c->host), next = 0;

	for (size_t i = 0; i < CV1_CONNS; i++) {
		struct cv1_conn *k = &c->conns[i];
		char hp[CV1_HOSTPORT_MAX];
		mp2p_conn_id conn = k->id;

		if (conn == 0 || k->purpose != CV1_CONN_JOIN_TLS || k->opened)
			continue;
		if (now - k->sent_at < CV1_JOIN_TLS_WAIT * 0.99) {
			double left = k->sent_at + CV1_JOIN_TLS_WAIT - now;
			if (next == 0 || left < next)
				next = left;
			continue;
		}
		snprintf(hp, sizeof(hp), "%s", k->retry);
		conn_forget(c, k);            /* its close is not a failure to retry */
		c->api->conn_close(c->host, conn, 0);
		send_join_plain(c, hp);
	}
	if (next > 0)
		c->api->timer_start(c->host, c->join_wait, next, 0);
}

static void send_join(struct cv1 *c, const char *hostport, struct cv1_peer *p, int dir)
{
	char buf[160];
	int n = cv1_encode_join(buf, sizeof(buf), dir, c->pid, c->addr, c->port);

	if (n < 0)
		return;
	if (p != NULL)
		send_peer(c, p, "JOIN", buf, (size_t)n);
	else if (dir == CV1_REQ && c->api->security(c->host) == MP2P_SECURITY_MIXED)
		send_join_tls_first(c, hostport, buf, (size_t)n);
	else
		send_oneshot(c, hostport, NULL, "JOIN", buf, (size_t)n, CV1_CONN_PLAIN, NULL);
}

/* A LIST RES is taken only on a connection we asked on (on_list), so
 * the connection carrying the question is marked. */
static void send_list_req(struct cv1 *c, struct cv1_peer *p)
{
	mp2p_conn_id conn = 0;
	struct cv1_conn *k;

	if (p->kind == CV1_KIND_OURS)
		send_peer_on(c, p, "LIST", "REQ", 3, &conn);
	else
		send_oneshot(c, p->hostport, p->pid, "LIST", "REQ", 3, CV1_CONN_PLAIN, &conn);
	if (conn == 0)
		return;
	if ((k = conn_find(c, conn)) == NULL) {
		conn_note(c, conn, p->pid, CV1_CONN_PLAIN);
		k = conn_find(c, conn);
	}
	if (k != NULL)
		k->list_asked = 1;
}

/* Sends to every peer of ours that we think is alive. */
static void tell_ours(struct cv1 *c, const char *type, const char *payload,
                      size_t length, const char *skip1, const char *skip2)
{
	for (size_t i = 0; i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];

		if (!p->used || p->kind == CV1_KIND_CLASSIC)
			continue;
		if ((skip1 && strcmp(p->pid, skip1) == 0) || (skip2 && strcmp(p->pid, skip2) == 0))
			continue;
		if (mp2p_type_is(type, "MESG"))
			(*c->n.for_sent)++;
		send_peer(c, p, type, payload, length);
	}
}

/* ---- peers coming and going ------------------------------------------ */

static void heard(struct cv1 *c, struct cv1_peer *p)
{
	p->last_heard = c->api->now(c->host);
	p->fails = 0;
	p->suspect = 0;
	p->answered = 1;
}

/* Is the far end of conn at this address's IP? What a connection proves
 * about its peer is where it comes from: a claim about a pid or an
 * address is believed only from that address's own IP. */
static int conn_is_at(struct cv1 *c, mp2p_conn_id conn, const char *addr)
{
	struct mp2p_conn_info info;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (c->api->conn_info(c->host, conn, &info) < 0)
		return 0;
	return cv1_same_ip(info.peer, addr);
}

/* Does conn speak for p: one we opened to it or it named itself on with a
 * CAPA we believed, or one that comes from its IP (an original peer opens
 * a connection per frame and never names itself)? */
static int conn_speaks_for(struct cv1 *c, mp2p_conn_id conn, const struct cv1_peer *p)
{
	struct cv1_conn *k = conn_find(c, conn);
	struct mp2p_conn_info info;
	const char *key = conn_key(c, conn, &info);

	/* Keys first: an authenticated connection speaks for its own peer id
	 * alone, and a key-named peer is never spoken for in plaintext. */
	if (key != NULL || (pid_is_key(p->pid) && c->api->security(c->host) != MP2P_SECURITY_PLAIN))
		return key != NULL && strcmp(key, p->pid) == 0;
	if (k != NULL && strcmp(k->pid, p->pid) == 0)
		return 1;
	return conn_is_at(c, conn, p->addr);
}

/* A JOIN or CAPA naming a pid in the table speaks for it only when it
 * comes from the IP the table has for it, and keeps to that IP: otherwise
 * anyone could keep a dead peer alive, move a live one, or have its own
 * messages shown as that peer's. */
static int claim_believed(struct cv1 *c, mp2p_conn_id conn, const struct cv1_peer_addr *pa)
{
	struct cv1_peer *p = cv1_peers_find(&c->peers, pa->pid);

	/* A pid we do not know yet, at an address we have not reached it at,
	 * is checked by the host when we greet it there (claim_greet). */
	if (p == NULL || (conn_is_at(c, conn, p->addr) && cv1_same_ip(p->addr, pa->addr)))
		return 1;
	(*c->n.claims_refused)++;
	c->api->log(c->host, MP2P_LOG_DEBUG, "ignored a claim of %s at %s on conn %llu: "
	             "not from that peer's IP", pa->pid, pa->addr, (unsigned long long)conn);
	return 0;
}

static struct cv1_peer *conn_peer(struct cv1 *c, mp2p_conn_id conn)
{
	struct cv1_conn *k = conn_find(c, conn);

	return k ? cv1_peers_find(&c->peers, k->pid) : NULL;
}

/* A peer entered the table: learn what it speaks, unless the frame that
 * checked its address (claim_greet) already asked. */
static void new_peer(struct cv1 *c, struct cv1_peer *p, const char *how, int asked)
{
	c->api->log(c->host, MP2P_LOG_INFO, "peer %s at %s added (%s)", p->pid,
	             p->hostport, how);
	if (p->kind == CV1_KIND_UNKNOWN && !asked)
		send_capa_req(c, p);
}

/* Does a peer's JOIN or CAPA name an address we have not reached it at? */
static int claim_is_new(struct cv1 *c, const struct cv1_peer_addr *pa)
{
	struct cv1_peer *p = cv1_peers_find(&c->peers, pa->pid);

	return p == NULL || p->port != pa->port || strcmp(p->addr, pa->addr) != 0;
}

/* A JOIN or CAPA could name anyone's address and have us dial it, once per
 * frame. So the first frame to an address a peer claimed on `conn` goes
 * through send_claimed(), which the host refuses unless the peer is at that
 * IP, and the table learns the address only if that frame was accepted. */
static int claim_greet(struct cv1 *c, mp2p_conn_id conn, const struct cv1_peer_addr *pa,
                       const char *type, const char *payload, size_t length,
                       unsigned flags, int purpose, mp2p_conn_id *out)
{
	char hp[CV1_HOSTPORT_MAX];
	mp2p_conn_id sent = 0;

	if (cv1_hostport(hp, sizeof(hp), pa->addr, pa->port) <= 0)
		return -1;
	if (c->api->security(c->host) == MP2P_SECURITY_MIXED && !pid_is_key(pa->pid))
		flags |= MP2P_SEND_PLAINTEXT;   /* an original peer */
	if (c->api->send_claimed(c->host, conn, hp, NULL, type, payload, length, flags,
	                          &sent) < 0) {
		(*c->n.claims_refused)++;
		return -1;
	}
	(*c->n.frames_sent)++;
	conn_note(c, sent, pa->pid, purpose);
	if (out != NULL)
		*out = sent;
	return 0;
}

/* Would the table hold the peer after cv1_peers_add() said this? */
static int admitted(int add_result)
{
	return add_result == CV1_ADD_NEW || add_result == CV1_ADD_KNOWN;
}

static int claim_greet_capa(struct cv1 *c, mp2p_conn_id conn, const struct cv1_peer_addr *pa,
                            unsigned flags, int purpose, mp2p_conn_id *out)
{
	char buf[160];
	int n = capa_payload(c, buf, sizeof(buf), CV1_REQ);

	return n < 0 ? -1 : claim_greet(c, conn, pa, "CAPA", buf, (size_t)n, flags, purpose, out);
}

static double tomb_seconds(struct cv1 *c)
{
	double t = 2 * c->peer_timeout;
	return t < 10 ? 10 : t;
}

static void remove_dead(struct cv1 *c, struct cv1_peer *p, const char *why)
{
	char pid[CV1_PID_MAX + 1], buf[CV1_PID_MAX + 1];
	int n;

	snprintf(pid, sizeof(pid), "%s", p->pid);
	c->api->log(c->host, MP2P_LOG_INFO, "peer %s at %s removed: %s", pid,
	             p->hostport, why);
	(*c->n.peers_dead)++;
	cv1_peers_remove(&c->peers, p, c->api->now(c->host), tomb_seconds(c));
	/* The others check for themselves before they believe it. */
	n = cv1_encode_gone(buf, sizeof(buf), pid);
	if (n > 0)
		tell_ours(c, "GONE", buf, (size_t)n, NULL, NULL);
}

static void probe(struct cv1 *c, struct cv1_peer *p, double now)
{
	p->last_probe = now;
	if (p->kind == CV1_KIND_OURS)
		send_capa_req(c, p);
	else
		send_list_req(c, p);
}

/* ---- frames ------------------------------------------------------------ */

static void drop(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f, int error)
{
	(*c->n.malformed)++;
	c->api->log(c->host, MP2P_LOG_DEBUG, "dropped %.4s (%u bytes) on conn %llu: %s",
	             f->type, (unsigned)f->length, (unsigned long long)conn,
	             cv1_wire_strerror(error));
}

static int is_self(struct cv1 *c, const struct cv1_peer_addr *pa)
{
	return strcmp(pa->pid, c->pid) == 0;
}

static void on_join(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct cv1_peer_addr pa;
	struct cv1_peer *p = NULL;
	int dir, rc, added;

	if ((rc = cv1_decode_join(f->payload, f->length, &dir, &pa)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if (is_self(c, &pa) || !may_speak_as(c, conn, pa.pid) || !claim_believed(c, conn, &pa))
		return;
	/* Answer a joiner at an address we did not know, even if the table is
	 * full, so it knows of us and can ask us for other peers. The answer,
	 * or for a JOIN RES a CAPA, is what checks the address is its own. */
	if (claim_is_new(c, &pa)) {
		char buf[160];
		int n = cv1_encode_join(buf, sizeof(buf), CV1_RES, c->pid, c->addr, c->port);
		if (dir == CV1_REQ ?
		    n < 0 || claim_greet(c, conn, &pa, "JOIN", buf, (size_t)n, MP2P_SEND_ONESHOT,
		                         CV1_CONN_PLAIN, NULL) < 0 :
		    claim_greet_capa(c, conn, &pa, MP2P_SEND_ONESHOT, CV1_CONN_CAPA, NULL) < 0) {
			/* Unanswered; had the table been full it would not have
			 * entered either, and that is counted as before. */
			if (c->peers.count >= c->peers.max && cv1_peers_find(&c->peers, pa.pid) == NULL)
				(*c->n.peers_refused)++;
			return;
		}
	}
	added = cv1_peers_add(&c->peers, &pa, c->api->now(c->host), 1, &p);
	if (added == CV1_ADD_FULL || added == CV1_ADD_CROWDED)
		(*c->n.peers_refused)++;
	if (p != NULL)
		heard(c, p);
	if (added == CV1_ADD_NEW)
		new_peer(c, p, dir == CV1_REQ ? "joined us" : "answered our join", dir != CV1_REQ);
}

static void shuffle(struct cv1 *c, struct cv1_peer_addr *e, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		uint32_t r;
		struct cv1_peer_addr t;

		c->api->random_bytes(c->host, &r, sizeof(r));
		size_t j = r % i;
		t = e[i - 1];
		e[i - 1] = e[j];
		e[j] = t;
	}
}

static void on_list(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct cv1_peer_addr *entries = c->list_scratch;
	struct cv1_peer *from;
	size_t count;
	double now = c->api->now(c->host);
	int dir, rc;

	if ((rc = cv1_decode_list(f->payload, f->length, &dir, entries, CV1_LIST_MAX,
	                          &count)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if (dir == CV1_REQ) {
		/* Answer on the same connection: the only way an original peer,
		 * which reads one frame per connection, can get it. */
		size_t n = 0, cap = c->peers.count * CV1_LIST_ENTRY_MAX + 8;
		char *buf = malloc(cap);
		int len;

		if (buf == NULL)
			return;
		for (size_t i = 0; i < c->peers.max && n < CV1_LIST_MAX; i++) {
			struct cv1_peer *p = &c->peers.slots[i];
			/* Only peers we have heard from lately: a list is not a
			 * port scan of every address anyone ever claimed. */
			if (!p->used || p->fails > 0 || p->suspect || !p->answered ||
			    now - p->last_heard > c->peer_timeout / 2)
				continue;
			memcpy(entries[n].pid, p->pid, sizeof(p->pid));
			memcpy(entries[n].addr, p->addr, sizeof(p->addr));
			entries[n].port = p->port;
			n++;
		}
		/* In random order: askers take the first few entries, and if
		 * every answer began alike, every newcomer would pick the same
		 * peers and a few hosts would become hubs with full tables. */
		shuffle(c, entries, n);
		len = cv1_encode_list_res(buf, cap, entries, n);
		if (len > 0 && c->api->send(c->host, conn, NULL, "LIST", buf, (size_t)len) == 0)
			(*c->n.frames_sent)++;
		free(buf);
		return;
	}
	/* Only the answer to our own question, on the connection we asked
	 * on, and only once: a LIST RES nobody asked for is a peer trying to
	 * fill our table with names of its choosing. */
	{
		struct cv1_conn *k = conn_find(c, conn);
		if (k == NULL || !k->list_asked) {
			(*c->n.unasked_list)++;
			c->api->log(c->host, MP2P_LOG_DEBUG, "ignored a LIST RES nobody asked for "
			             "on conn %llu", (unsigned long long)conn);
			return;
		}
		k->list_asked = 0;
	}
	if ((from = conn_peer(c, conn)) != NULL)
		heard(c, from);
	for (size_t i = 0; i < count && c->peers.count < c->want_peers; i++) {
		struct cv1_peer *p = NULL;

		if (is_self(c, &entries[i]))
			continue;
		rc = cv1_peers_add(&c->peers, &entries[i], now, 0, &p);
		if (rc != CV1_ADD_NEW)
			continue;
		/* Introduce ourselves, so the new peer knows us too. */
		send_join(c, p->hostport, NULL, CV1_REQ);
		new_peer(c, p, "from a peer list", 0);
	}
}

static void on_quit(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	char pid[CV1_PID_MAX + 1];
	struct cv1_peer *p;
	int rc;

	if ((rc = cv1_decode_quit(f->payload, f->length, pid)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if ((p = cv1_peers_find(&c->peers, pid)) == NULL)
		return;
	/* Only the peer itself may say it is leaving. */
	if (!conn_speaks_for(c, conn, p)) {
		(*c->n.quit_refused)++;
		c->api->log(c->host, MP2P_LOG_DEBUG, "ignored QUIT %s on conn %llu: not that "
		             "peer's connection", pid, (unsigned long long)conn);
		return;
	}
	c->api->log(c->host, MP2P_LOG_INFO, "peer %s at %s quit", pid, p->hostport);
	(*c->n.peers_quit)++;
	cv1_peers_remove(&c->peers, p, c->api->now(c->host), tomb_seconds(c));
}

/* The sender of a direct message: the pid whose connection this is, or
 * the connection's address for a peer that never said who it is. */
static void sender_of(struct cv1 *c, mp2p_conn_id conn, char *out, size_t cap)
{
	struct cv1_conn *k = conn_find(c, conn);
	struct mp2p_conn_info info;

	/* Over TLS the sender is the connection's key, whatever was said. */
	if (conn_key(c, conn, &info) != NULL) {
		snprintf(out, cap, "%s", info.peer_id);
		return;
	}
	if (k != NULL && k->pid[0] != '\0') {
		snprintf(out, cap, "%s", k->pid);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (c->api->conn_info(c->host, conn, &info) == 0)
		snprintf(out, cap, "%.*s", (int)sizeof(info.peer), info.peer);
	else
		snprintf(out, cap, "unknown");
}

static void forward(struct cv1 *c, uint64_t id, unsigned hops, const char *origin,
                    const char *from, const char *text, size_t length)
{
	size_t cap = length + 2 * CV1_PID_MAX + 64;
	char *buf;
	int n;

	if (hops == 0)
		return;
	if ((buf = malloc(cap)) == NULL)
		return;
	n = cv1_encode_for(buf, cap, id, hops, origin, c->pid, text, length);
	if (n > 0)
		tell_ours(c, "MESG", buf, (size_t)n, from, origin);
	for (size_t i = 0; n > 0 && i < CV1_FOLLOWERS; i++) {
		struct cv1_follower *f = &c->followers[i];

		if (f->conn == 0 || (from && strcmp(f->pid, from) == 0) ||
		    strcmp(f->pid, origin) == 0 || cv1_peers_find(&c->peers, f->pid) != NULL)
			continue;
		if (c->api->send(c->host, f->conn, NULL, "MESG", buf, (size_t)n) == 0) {
			(*c->n.frames_sent)++;
			(*c->n.for_sent)++;
		} else {
			memset(f, 0, sizeof(*f));
		}
	}
	free(buf);
}

/* A broadcast whose text is a quiet one's encoding goes to the quiet topic
 * alone. Returns 0 if it is an ordinary text. */
static int deliver_quiet(struct cv1 *c, const char *origin, const char *id, const char *text,
                         size_t length, unsigned hops)
{
	uint8_t *data;
	size_t n = 0;
	int quiet;

	if (length < CV1_QUIET_PREFIX_LEN || memcmp(text, CV1_QUIET_PREFIX, CV1_QUIET_PREFIX_LEN) != 0 ||
	    (data = malloc(CV1_QUIET_MAX)) == NULL)
		return 0;
	quiet = cv1_quiet_decode(text, length, data, CV1_QUIET_MAX, &n) == 0;
	if (quiet)
		cv1_deliver_quiet(c, origin, id, data, n, hops);
	free(data);
	return quiet;
}

static void on_mesg(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct cv1_mesg m;
	struct cv1_peer *p;
	char id[CV1_ID_HEX + 1];
	int rc;

	if ((rc = cv1_decode_mesg(f->payload, f->length, &m)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if (!m.forward) {
		char sender[CV1_HOSTPORT_MAX + CV1_PID_MAX];

		if ((p = conn_peer(c, conn)) != NULL)
			heard(c, p);
		sender_of(c, conn, sender, sizeof(sender));
		cv1_deliver(c, MP2P_CLASSICV1_DIRECT, sender, "", m.text, m.text_length, 0);
		return;
	}
	/* Over TLS a copy comes from the host whose key its connection has. */
	if (!may_speak_as(c, conn, m.from))
		return;
	/* The copy's <from> is believed only on that peer's connection. */
	if ((p = cv1_peers_find(&c->peers, m.from)) != NULL && conn_speaks_for(c, conn, p)) {
		heard(c, p);
		/* Only hosts of ours send FOR. */
		if (p->kind == CV1_KIND_UNKNOWN)
			p->kind = CV1_KIND_OURS;
	}
	if (cv1_dedup_check_add(&c->dedup, m.id, c->api->now(c->host))) {
		(*c->n.duplicate_broadcast)++;
		return;
	}
	cv1_id_format(id, m.id);
	if (!deliver_quiet(c, m.origin, id, m.text, m.text_length, m.hops))
		cv1_deliver(c, MP2P_CLASSICV1_BROADCAST, m.origin, id, m.text, m.text_length, m.hops);
	forward(c, m.id, m.hops - 1, m.origin, m.from, m.text, m.text_length);
}

static void on_capa(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct cv1_capa k;
	struct cv1_peer *p = NULL;
	mp2p_conn_id greeted = 0;
	int rc, added, asked = 0;

	if ((rc = cv1_decode_capa(f->payload, f->length, &k)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if (is_self(c, &k.peer) || !may_speak_as(c, conn, k.peer.pid) ||
	    !claim_believed(c, conn, &k.peer))
		return;
	/* An address we have not reached this peer at is checked by the
	 * CAPA that opens our connection to it (see claim_greet), but only if
	 * the table would take the peer: that CAPA is answered with a CAPA
	 * RES, which would find the claim still new and greet again, a
	 * ping-pong at the round-trip rate between every full host and each
	 * peer that knows it. */
	if (claim_is_new(c, &k.peer) &&
	    admitted(cv1_peers_admits(&c->peers, &k.peer, c->api->now(c->host), 1))) {
		if (claim_greet_capa(c, conn, &k.peer, c->persistent ? MP2P_SEND_REUSE : MP2P_SEND_ONESHOT,
		                     c->persistent ? CV1_CONN_REUSE : CV1_CONN_CAPA, &greeted) < 0)
			return;
		asked = 1;
	}
	added = cv1_peers_add(&c->peers, &k.peer, c->api->now(c->host), 1, &p);
	if (added == CV1_ADD_FULL || added == CV1_ADD_CROWDED)
		(*c->n.peers_refused)++;
	if (k.dir == CV1_REQ) {
		char buf[160];
		int n = capa_payload(c, buf, sizeof(buf), CV1_RES);

		/* The connection is now known to be this peer's. */
		conn_note(c, conn, k.peer.pid, CV1_CONN_INBOUND);
		if (n > 0 && c->api->send(c->host, conn, NULL, "CAPA", buf, (size_t)n) == 0)
			(*c->n.frames_sent)++;
	}
	if (p == NULL) {
		if (k.dir == CV1_REQ)
			follower_note(c, k.peer.pid, conn);
		return;
	}
	if (asked && c->persistent)
		p->reuse_conn = greeted;
	if (p->kind != CV1_KIND_OURS) {
		p->kind = CV1_KIND_OURS;
		/* Open the persistent connection now: it is how a host whose
		 * table was full when we joined it can reach us (followers). */
		if (c->persistent && p->reuse_conn == 0)
			send_capa_req(c, p);
	}
	heard(c, p);
	if (added == CV1_ADD_NEW)
		new_peer(c, p, "announced itself", asked);
}

static void on_gone(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	char pid[CV1_PID_MAX + 1];
	struct cv1_peer *p;
	int rc;

	if ((rc = cv1_decode_gone(f->payload, f->length, pid)) != CV1_OK) {
		drop(c, conn, f, rc);
		return;
	}
	if ((p = cv1_peers_find(&c->peers, pid)) == NULL || p->suspect)
		return;
	/* Believe it only if our own probe fails too. */
	p->suspect = 1;
	probe(c, p, c->api->now(c->host));
}

void cv1_node_frame(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	if (mp2p_type_is(f->type, "JOIN"))
		on_join(c, conn, f);
	else if (mp2p_type_is(f->type, "LIST"))
		on_list(c, conn, f);
	else if (mp2p_type_is(f->type, "QUIT"))
		on_quit(c, conn, f);
	else if (mp2p_type_is(f->type, "MESG"))
		on_mesg(c, conn, f);
	else if (mp2p_type_is(f->type, "CAPA"))
		on_capa(c, conn, f);
	else if (mp2p_type_is(f->type, "GONE"))
		on_gone(c, conn, f);
	else if (mp2p_type_is(f->type, "ERRO"))
		c->api->log(c->host, MP2P_LOG_DEBUG, "ignored ERRO on conn %llu",
		             (unsigned long long)conn);
	else {
		(*c->n.unknown_type)++;
		c->api->log(c->host, MP2P_LOG_DEBUG, "dropped unknown frame type %02x%02x%02x%02x",
		             (unsigned char)f->type[0], (unsigned char)f->type[1],
		             (unsigned char)f->type[2], (unsigned char)f->type[3]);
	}
}

void cv1_node_conn(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	struct cv1_conn *k = conn_find(c, conn);
	struct cv1_peer *p;

	if (ev->kind == MP2P_CONN_CLOSED)
		follower_forget_conn(c, conn);
	if (k == NULL)
		return;
	if (k->purpose == CV1_CONN_JOIN_TLS) {
		if (ev->kind != MP2P_CONN_CLOSED) {
			k->opened = 1;    /* a host of ours: the JOIN is on its way */
			return;
		}
		if (!ev->established) {
			char hp[CV1_HOSTPORT_MAX];

			/* No TLS there (or nobody): an original peer, perhaps. */
			snprintf(hp, sizeof(hp), "%s", k->retry);
			conn_forget(c, k);
			send_join_plain(c, hp);
			return;
		}
		conn_forget(c, k);
		return;
	}
	p = cv1_peers_find(&c->peers, k->pid);
	if (ev->kind == MP2P_CONN_OPENED) {
		if (p != NULL)
			p->fails = 0;
		return;
	}
	if (p != NULL) {
		if (p->reuse_conn == conn)
			p->reuse_conn = 0;
		if (!ev->established) {
			(*c->n.dial_failed)++;
			p->fails++;
			if (p->suspect || p->fails >= CV1_MAX_FAILS)
				remove_dead(c, p, ev->reason ? ev->reason : "unreachable");
		} else if (k->purpose == CV1_CONN_CAPA && p->kind == CV1_KIND_UNKNOWN) {
			/* It read our CAPA and closed without a word: an original
			 * peer, which drops frame types it does not know. */
			p->kind = CV1_KIND_CLASSIC;
			c->api->log(c->host, MP2P_LOG_DEBUG, "peer %s speaks the original protocol",
			             p->pid);
		}
	}
	conn_forget(c, k);
}

/* ---- time -------------------------------------------------------------- */

static void ask_for_peers(struct cv1 *c, double now)
{
	for (size_t tries = 0; tries < c->peers.max; tries++) {
		struct cv1_peer *p = &c->peers.slots[c->ask_next];

		c->ask_next = (c->ask_next + 1) % c->peers.max;
		if (!p->used || p->fails > 0)
			continue;
		send_list_req(c, p);
		c->last_list_ask = now;
		return;
	}
}

void cv1_node_tick(void *arg)
{
	struct cv1 *c = arg;
	double now = c->api->now(c->host);
	double silent = c->peer_timeout / 3;

	if (!c->running)
		return;
	for (size_t i = 0; i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		double quiet;

		if (!p->used)
			continue;
		quiet = now - p->last_heard;
		if (quiet > c->peer_timeout) {
			char why[64];
			snprintf(why, sizeof(why), "silent for %.1f s", quiet);
			remove_dead(c, p, why);
		} else if ((quiet > silent || p->fails > 0 || p->suspect) &&
		           now - p->last_probe >= c->tick_seconds * 0.9) {
			probe(c, p, now);
		}
	}
	if (c->peers.count < c->want_peers && c->peers.count > 0 &&
	    now - c->last_list_ask >= c->tick_seconds * 1.9)
		ask_for_peers(c, now);
	if (c->peers.count == 0 && now - c->last_bootstrap >= CV1_REBOOTSTRAP)
		cv1_node_bootstrap(c);
}

/* ---- what the operator and other plugins ask for ------------------------ */

int cv1_node_join(struct cv1 *c, const char *hostport)
{
	char addr[CV1_ADDR_MAX + 1], hp[CV1_HOSTPORT_MAX];
	uint16_t port;
	struct cv1_peer *p;

	if (cv1_parse_hostport(hostport, addr, &port) < 0)
		return -1;
	cv1_hostport(hp, sizeof(hp), addr, port);
	if (strcmp(hp, c->hostport) == 0)
		return 0;
	p = cv1_peers_find_hostport(&c->peers, hp);
	send_join(c, hp, p, CV1_REQ);
	return 0;
}

int cv1_seed_found(struct cv1 *c, const char *hostport)
{
	if (cv1_node_join(c, hostport) == 0)
		return 0;
	c->api->log(c->host, MP2P_LOG_DEBUG, "ignored seed record '%s'", hostport);
	return -1;
}

void cv1_node_bootstrap(struct cv1 *c)
{
	c->last_bootstrap = c->api->now(c->host);
	for (size_t i = 0; i < c->nbootstrap; i++)
		cv1_node_join(c, c->bootstrap[i]);
	if (c->dns != NULL && c->dns_seed != NULL)
		cv1_dns_seed(c->dns, c->dns_seed);
}

/* Starts a broadcast of `text`: a new id, our own delivery, the FOR
 * copies; quiet ones (text already encoded) go to hosts of ours alone. */
static void start_broadcast(struct cv1 *c, const char *text, size_t length, int quiet,
                            const uint8_t *data, size_t data_length, char id_out[CV1_ID_HEX + 1])
{
	uint64_t id;
	char buf[CV1_ID_HEX + 1];

	c->api->random_bytes(c->host, &id, sizeof(id));
	cv1_dedup_check_add(&c->dedup, id, c->api->now(c->host));
	cv1_id_format(buf, id);
	if (id_out)
		memcpy(id_out, buf, sizeof(buf));
	if (quiet)
		cv1_deliver_quiet(c, c->pid, buf, data, data_length, c->broadcast_hops);
	else
		cv1_deliver(c, MP2P_CLASSICV1_BROADCAST, c->pid, buf, text, length, c->broadcast_hops);
	forward(c, id, c->broadcast_hops, c->pid, NULL, text, length);
}

int cv1_node_broadcast_quiet(struct cv1 *c, const void *data, size_t length,
                             char id_out[CV1_ID_HEX + 1])
{
	char *text;
	int n;

	if (data == NULL || length == 0 || length > CV1_QUIET_MAX ||
	    (text = malloc(CV1_QUIET_TEXT_MAX + 1)) == NULL)
		return -1;
	n = cv1_quiet_encode(text, CV1_QUIET_TEXT_MAX + 1, data, length);
	if (n > 0)
		start_broadcast(c, text, (size_t)n, 1, data, length, id_out);
	free(text);
	return n > 0 ? 0 : -1;
}

int cv1_node_broadcast(struct cv1 *c, const char *text, size_t length,
                       char id_out[CV1_ID_HEX + 1])
{
	char *mesg;

	/* The quiet prefix means bytes to every host of ours: a text may not
	 * pretend to be one. */
	if (!cv1_text_ok(text, length) ||
	    (length >= CV1_QUIET_PREFIX_LEN && memcmp(text, CV1_QUIET_PREFIX, CV1_QUIET_PREFIX_LEN) == 0))
		return -1;
	start_broadcast(c, text, length, 0, NULL, 0, id_out);
	/* Original peers ignore FOR; the host that starts a broadcast gives
	 * them the text the way the original broadcast did. */
	if ((mesg = malloc(length + 8)) == NULL)
		return 0;
	int n = cv1_encode_mesg(mesg, length + 8, text, length);
	for (size_t i = 0; n > 0 && i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		if (p->used && p->kind == CV1_KIND_CLASSIC)
			send_peer(c, p, "MESG", mesg, (size_t)n);
	}
	free(mesg);
	return 0;
}

int cv1_node_send(struct cv1 *c, const char *pid, const char *text, size_t length)
{
	struct cv1_peer *p = cv1_peers_find(&c->peers, pid);
	char *buf;
	int n, rc;

	if (p == NULL || !cv1_text_ok(text, length))
		return -1;
	if ((buf = malloc(length + 8)) == NULL)
		return -1;
	n = cv1_encode_mesg(buf, length + 8, text, length);
	rc = n > 0 ? send_peer(c, p, "MESG", buf, (size_t)n) : -1;
	free(buf);
	return rc;
}

void cv1_node_quit_all(struct cv1 *c)
{
	char buf[CV1_PID_MAX + 1];
	int n = cv1_encode_quit(buf, sizeof(buf), c->pid);

	for (size_t i = 0; n > 0 && i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		if (p->used)
			send_peer(c, p, "QUIT", buf, (size_t)n);
	}
}

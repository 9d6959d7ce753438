/* sim_net.c -- the simulator's network: virtual connections between nodes
 * with TCP's semantics where they matter to a protocol. A dial takes
 * handshake_rtts round trips before the first byte; a dial to a dead node,
 * to no node, or one that the scenario's dial_fail makes fail ends after the
 * host's connect timeout. Frames arrive in order, each after the sender's
 * uplink has sent it (size / bandwidth, one frame after another per node)
 * plus the connection's one-way delay. The receiving side checks each
 * frame with the daemon's own frame scanner, routes it by protocol like the
 * daemon, and applies the daemon's limits (max_frame, max_inbound,
 * max_outbound, max_connections_per_ip) and its first-frame and idle
 * timeouts, with the values of the scenario's `host` group.
 *
 * This file is also the simulator's side of the seam (struct core_io):
 * clocks, randomness and timers come from the event queue and the node.
 *
 * Not modelled: TCP's congestion control and receive windows (a frame's
 * departure waits only for the sender's uplink), output buffers (pending()
 * is always 0 and sends never block), the frame timeout (frames arrive
 * whole), the dial guard's rate and per-IP pending limits, and TLS. */
#include "config.h"
#include "sim_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One side of a connection, as one node's plugins see it. */
struct sim_end {
	struct sim_end *next, *prev;     /* its node's list */
	struct sim_conn *c;
	struct sim_node *node;
	uint64_t id;                     /* the connection id on this node */
	uint64_t users;                  /* bit i: the instance in slot i used it */
	uint64_t dial_key;               /* nonzero while send_to() may reuse it */
	uint64_t bytes_in, bytes_out;
	int dialer;                      /* slot of the instance that dialled, or -1 */
	int owner;                       /* slot of the instance that owns it, or -1 */
	double opened;
	double since;                    /* its deadline's start: opened, or its last frame */
	struct sim_end *dnext, *dprev;   /* its place in a timeout list */
	unsigned list : 2;               /* which: DL_NONE, DL_FIRST or DL_IDLE */
	unsigned inbound : 1;
	unsigned framed : 1;
	unsigned open : 1;               /* counted in its node's nin or nout */
	unsigned closed : 1;
	unsigned oneshot : 1;
};

enum { DL_NONE = 0, DL_FIRST = 1, DL_IDLE = 2 };

/* A connection: two ends and what is in flight between them. */
struct sim_conn {
	struct sim_end e[2];             /* 0: the dialler's, 1: the accepter's */
	double one_way;                  /* this path's delay, fixed: delivery stays in order */
	double ready;                    /* when the handshake is done */
	double last_arrival[2];          /* toward e[0], e[1] */
	struct sim_event ev_connect;
	long inflight;                   /* frames and ends of stream not yet arrived */
	int busy;                        /* inside a plugin callback: free later */
	unsigned established : 1;
	unsigned failed : 1;
};

/* A frame, or the end of a stream (len 0 and `fin`), on its way to e[to]. */
struct sim_frame {
	struct sim_event ev;
	struct sim_conn *c;
	int to;
	int fin;
	const char *reason;              /* for `fin`: why the stream ended */
	size_t len;
	uint8_t data[];                  /* header and payload */
};

static struct sim *sim_of(struct core *core) { return node_of(core)->sim; }

/* --- addresses ------------------------------------------------------------ */

/* Node i is 127.X.Y.Z: Y counts up first, then X, then Z, so consecutive
 * nodes sit in different /24s as the multi-host tests' hosts do, and no
 * address outside 127.0.0.0/8 ever appears. Both directions are written
 * out by hand: every connection event and conn_info() formats one, every
 * send_to() parses one, and printf's machinery was a tenth of a
 * classicv1 flood's time. */
static char *put_uint(char *p, unsigned v)
{
	char digits[10];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

void sim_node_addr(long i, char *out, size_t size)
{
	char buf[24], *p = buf;

	memcpy(p, "127.", 4);
	p = put_uint(p + 4, (unsigned)((i >> 8) & 255));
	*p++ = '.';
	p = put_uint(p, (unsigned)(i & 255));
	*p++ = '.';
	p = put_uint(p, (unsigned)(1 + (i >> 16)));
	*p++ = ':';
	p = put_uint(p, SIM_PORT);
	*p = '\0';
	if (size > (size_t)(p - buf))
		memcpy(out, buf, (size_t)(p - buf) + 1);
	else if (size > 0)
		out[0] = '\0';
}

/* A decimal number of 1 to `most` digits without a leading zero, ending
 * at `end`; *pp moves past it. -1 when there is none. */
static long take_number(const char **pp, char end, int most)
{
	const char *p = *pp;
	long v = 0;
	int n = 0;

	while (*p >= '0' && *p <= '9' && n < most) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || *p != end || (n > 1 && **pp == '0'))
		return -1;
	*pp = p + 1;
	return v;
}

long sim_addr_node(const struct sim *s, const char *addr)
{
	const char *p = addr;
	long a, x, y, z, port, i;

	if ((a = take_number(&p, '.', 3)) != 127 || (x = take_number(&p, '.', 3)) < 0 ||
	    (y = take_number(&p, '.', 3)) < 0 || (z = take_number(&p, ':', 3)) < 0 ||
	    (port = take_number(&p, '\0', 5)) != SIM_PORT || x > 255 || y > 255 || z < 1 || z > 255)
		return -1;
	i = ((z - 1) << 16) | (x << 8) | y;
	return i < s->nnodes ? i : -1;
}

/* --- connections ------------------------------------------------------------ */

static uint64_t dial_key_of(long from, long to)
{
	return ((uint64_t)(from + 1) << 32) | (uint64_t)(to + 1);
}

/* Inbound connections per (accepting node, dialling node): each node has
 * an IP of its own, so this is the daemon's count per peer IP. */
static long inbound_add(struct sim *s, long to, long from, long delta)
{
	uint64_t key = dial_key_of(to, from);
	long k = (long)(uintptr_t)idmap_get(&s->per_ip, key) + delta;

	if (k > 0)
		idmap_put(&s->per_ip, key, (void *)(uintptr_t)k);
	else
		idmap_del(&s->per_ip, key);
	return k;
}

static void conn_maybe_free(struct sim_conn *c)
{
	if (c->busy || !c->e[0].closed || !c->e[1].closed || c->inflight > 0 ||
	    c->ev_connect.slot != SIM_NOT_QUEUED)
		return;
	free(c);
}

static void notify(struct sim_end *e, struct mp2p_host *in, uint32_t kind, const char *reason)
{
	struct mp2p_conn_event ev = {
		.size = sizeof(ev), .kind = kind, .inbound = e->inbound,
		.established = e->c->established, .reason = reason,
	};
	char peer[24];

	if (in == NULL || in->state != INST_RUNNING || in->mod->desc.on_conn == NULL)
		return;
	sim_node_addr(e->c->e[!(e - e->c->e)].node->index, peer, sizeof(peer));
	ev.peer = peer;
	in->mod->desc.on_conn(in->self, e->id, &ev);
}

static void dl_unlink(struct sim *s, struct sim_end *e);

/* The end joins its node's tables: it can be found and counted. */
static void end_open(struct sim_end *e, struct sim_node *n, int inbound)
{
	struct sim *s = n->sim;

	e->node = n;
	e->id = ++s->next_conn_id;
	e->inbound = inbound;
	e->dialer = e->owner = -1;
	e->opened = s->q.now;
	e->open = 1;
	e->next = n->ends;
	if (n->ends)
		n->ends->prev = e;
	n->ends = e;
	if (inbound)
		n->nin++;
	else
		n->nout++;
	idmap_put(&s->ends, e->id, e);
}

static void send_fin(struct sim_conn *c, int to, const char *reason);

/* This end is gone: out of every table, and every instance that used it
 * hears why (unless its node crashed: `tell` 0). The far end hears the end
 * of the stream after the frames already on their way. */
static void end_close(struct sim_end *e, const char *reason, int tell)
{
	struct sim_conn *c = e->c;
	struct sim_node *n = e->node;
	int side = (int)(e - c->e);
	uint64_t users;

	if (e->closed)
		return;
	e->closed = 1;
	if (e->open) {
		struct sim *s = n->sim;
		idmap_del(&s->ends, e->id);
		if (e->dial_key && idmap_get(&s->dials, e->dial_key) == e)
			idmap_del(&s->dials, e->dial_key);
		if (e->prev)
			e->prev->next = e->next;
		else
			n->ends = e->next;
		if (e->next)
			e->next->prev = e->prev;
		if (e->inbound) {
			n->nin--;
			inbound_add(s, n->index, c->e[0].node->index, -1);
		} else {
			n->nout--;
		}
		dl_unlink(s, e);
	}
	if (!c->e[!side].closed && c->established)
		send_fin(c, !side, reason);
	else if (!c->established)
		c->e[!side].closed = 1;      /* the accepter never existed */
	users = e->users;
	if (e->dialer >= 0)
		users |= 1ull << e->dialer;
	if (tell && n != NULL) {
		c->busy++;
		for (int i = 0; i < MAX_INSTANCES; i++)
			if (users & (1ull << i))
				notify(e, n->core.slots[i], MP2P_CONN_CLOSED, reason);
		c->busy--;
	}
	conn_maybe_free(c);
}

/* --- the idle and first-frame timeouts --------------------------------------

 * Every connection's idle deadline is its last frame plus the same
 * t_idle, so a list kept in the order of last frames is in deadline order:
 * a frame moves its end to the tail, and one queued event waits for the
 * head. The first-frame timeout works the same way from the accept. This
 * is libevent's common-timeout queue, which the daemon uses for the same
 * two timeouts, and it keeps millions of connections out of the heap. */

static struct sim_end **dl_head(struct sim *s, int list)
{
	return list == DL_IDLE ? &s->idle_head : &s->first_head;
}

static struct sim_end **dl_tail(struct sim *s, int list)
{
	return list == DL_IDLE ? &s->idle_tail : &s->first_tail;
}

static double dl_span(struct sim *s, int list)
{
	return list == DL_IDLE ? s->sc->host.t_idle : s->sc->host.t_first_frame;
}

static void dl_unlink(struct sim *s, struct sim_end *e)
{
	if (e->list == DL_NONE)
		return;
	if (e->dprev)
		e->dprev->dnext = e->dnext;
	else
		*dl_head(s, e->list) = e->dnext;
	if (e->dnext)
		e->dnext->dprev = e->dprev;
	else
		*dl_tail(s, e->list) = e->dprev;
	e->dnext = e->dprev = NULL;
	e->list = DL_NONE;
}

/* The end's deadline starts now, on `list`. */
static void dl_append(struct sim *s, struct sim_end *e, int list)
{
	struct sim_event *ev = list == DL_IDLE ? &s->idle_ev : &s->first_ev;

	dl_unlink(s, e);
	if (!(dl_span(s, list) > 0))
		return;
	e->since = s->q.now;
	e->list = (unsigned)list;
	e->dprev = *dl_tail(s, list);
	if (e->dprev)
		e->dprev->dnext = e;
	else
		*dl_head(s, list) = e;
	*dl_tail(s, list) = e;
	if (ev->slot == SIM_NOT_QUEUED)
		sim_queue_push(&s->q, ev, e->since + dl_span(s, list));
}

static void dl_expire(struct sim *s, int list)
{
	struct sim_event *ev = list == DL_IDLE ? &s->idle_ev : &s->first_ev;
	double span = dl_span(s, list);
	struct sim_end *e;

	while ((e = *dl_head(s, list)) != NULL && e->since + span <= s->q.now) {
		dl_unlink(s, e);
		end_close(e, list == DL_IDLE ? "idle timeout" : "first-frame timeout", 1);
	}
	if ((e = *dl_head(s, list)) != NULL)
		sim_queue_push(&s->q, ev, e->since + span);
}

static void idle_fire(struct sim_event *ev)
{
	dl_expire((struct sim *)(void *)((char *)ev - offsetof(struct sim, idle_ev)), DL_IDLE);
}

static void first_fire(struct sim_event *ev)
{
	dl_expire((struct sim *)(void *)((char *)ev - offsetof(struct sim, first_ev)), DL_FIRST);
}

void sim_net_init(struct sim *s)
{
	sim_event_init(&s->idle_ev, idle_fire);
	sim_event_init(&s->first_ev, first_fire);
}

/* --- frames in flight ---------------------------------------------------------- */

static void frame_arrive(struct sim_event *ev);

/* Puts an item on the wire toward e[to]: it leaves when the sender's uplink
 * is free and its bytes are through, and arrives one-way later, never
 * before what was sent earlier on the same connection. */
static void wire_push(struct sim_conn *c, struct sim_frame *f)
{
	struct sim_node *from = c->e[!f->to].node;
	struct sim *s = from->sim;
	double depart = s->q.now, at;

	if (depart < c->ready)
		depart = c->ready;
	if (f->len > 0) {
		if (from->uplink_free > depart)
			depart = from->uplink_free;
		depart += sim_latency_transfer(s->sc->bandwidth, f->len);
		from->uplink_free = depart;
	}
	at = depart + c->one_way;
	if (at < c->last_arrival[f->to])
		at = c->last_arrival[f->to];
	c->last_arrival[f->to] = at;
	f->c = c;
	sim_event_init(&f->ev, frame_arrive);
	c->inflight++;
	if (sim_queue_push(&s->q, &f->ev, at) < 0) {
		c->inflight--;
		free(f);
	}
}

static void send_fin(struct sim_conn *c, int to, const char *reason)
{
	struct sim_frame *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return;
	f->to = to;
	f->fin = 1;
	f->reason = reason;
	wire_push(c, f);
}

static void deliver(struct sim_end *e, const uint8_t *data, size_t len)
{
	struct sim_node *n = e->node;
	const struct host_config *cfg = n->core.cfg;
	struct frame_header fh;
	struct mp2p_host *in;
	const char *why = NULL;
	int rc;

	/* The daemon's own scanner, with the daemon's max_frame. */
	rc = frame_scan(data, len, (uint32_t)cfg->max_frame, &fh, &why);
	if (rc != FRAME_OK) {
		end_close(e, rc == FRAME_BAD ? why : "truncated frame", 1);
		return;
	}
	if ((in = route_protocol(&n->core, fh.protocol)) == NULL) {
		end_close(e, "frame for unknown protocol", 1);
		return;
	}
	if (e->owner >= 0 && in->slot != e->owner) {
		end_close(e, "frame for another protocol on an owned connection", 1);
		return;
	}
	e->bytes_in += len;
	n->bytes_in += len;
	in->frames_in++;
	in->bytes_in += len;
	e->users |= 1ull << in->slot;
	e->framed = 1;
	dl_append(n->sim, e, DL_IDLE);
	if (in->state == INST_RUNNING && in->mod->desc.on_frame != NULL) {
		struct mp2p_frame f = { fh.protocol, { 0 }, fh.length, data + MP2P_FRAME_HEADER };
		memcpy(f.type, fh.type, MP2P_TYPE_LEN);
		in->mod->desc.on_frame(in->self, e->id, &f);
	}
}

static void frame_arrive(struct sim_event *ev)
{
	struct sim_frame *f = (struct sim_frame *)(void *)ev;
	struct sim_conn *c = f->c;
	struct sim_end *e = &c->e[f->to];

	c->inflight--;
	c->busy++;
	if (!e->closed && e->open) {
		if (f->fin)
			end_close(e, f->reason ? f->reason : "closed by peer", 1);
		else
			deliver(e, f->data, f->len);
	}
	c->busy--;
	free(f);
	conn_maybe_free(c);
}

/* --- dialling -------------------------------------------------------------------- */

/* The accepting node's oldest inbound connection that has not sent a
 * frame yet, or NULL. Its list holds the newest first. */
static struct sim_end *oldest_silent(struct sim_node *n)
{
	struct sim_end *found = NULL;

	for (struct sim_end *e = n->ends; e != NULL; e = e->next)
		if (e->inbound && !e->framed)
			found = e;
	return found;
}

/* May a connection from node `from` come in? The daemon's rule (conn.c,
 * conn_admit): max_connections_per_ip first; then max_inbound, where the
 * oldest inbound connection that has sent no frame yet is evicted to make
 * room, so silent connections cannot keep out peers that talk. */
static int admit(struct sim *s, struct sim_node *to, long from)
{
	const struct host_config *cfg = to->core.cfg;
	long per_ip = (long)(uintptr_t)idmap_get(&s->per_ip, dial_key_of(to->index, from));
	struct sim_end *victim;

	if (per_ip >= cfg->max_connections_per_ip) {
		s->refused_per_ip++;
		return 0;
	}
	if (to->nin < cfg->max_inbound)
		return 1;
	if ((victim = oldest_silent(to)) != NULL) {
		s->evicted_silent++;
		end_close(victim, "evicted: inbound full and no frame sent yet", 1);
		return 1;
	}
	s->refused_max_inbound++;
	return 0;
}

/* The handshake is done, or the dial failed. */
static void connect_fire(struct sim_event *ev)
{
	struct sim_conn *c = (struct sim_conn *)(void *)((char *)ev -
	                                                 offsetof(struct sim_conn, ev_connect));
	struct sim_end *d = &c->e[0];
	struct sim_node *to = c->e[1].node;
	const struct host_config *cfg = d->node->core.cfg;
	struct sim *s = d->node->sim;
	int admitted;

	if (d->closed) {
		conn_maybe_free(c);
		return;
	}
	if (c->failed || !to->up) {
		/* A dead node answers nothing: the dialler gives up at its
		 * connect timeout, counted from the dial. */
		double give_up = d->opened + cfg->t_connect;
		if (!c->failed && give_up > s->q.now) {
			c->failed = 1;
			sim_queue_push(&s->q, &c->ev_connect, give_up);
			return;
		}
		s->dial_failures++;
		end_close(d, "connect timeout", 1);
		return;
	}
	c->established = 1;
	admitted = admit(s, to, d->node->index);
	end_open(&c->e[1], to, 1);
	inbound_add(s, to->index, d->node->index, 1);
	d->framed = 1;   /* a dialled connection has no first-frame timeout */
	dl_append(s, d, DL_IDLE);
	/* A refused connection is taken and closed at once, as the daemon
	 * does: the dialler sees it open, then closed by the peer. */
	if (!admitted)
		end_close(&c->e[1], "closed by peer", 0);
	else
		dl_append(s, &c->e[1], DL_FIRST);
	if (d->dialer >= 0 && !d->closed) {
		c->busy++;
		notify(d, d->node->core.slots[d->dialer], MP2P_CONN_OPENED, NULL);
		c->busy--;
	}
	if (d->oneshot && !d->closed && !c->e[1].closed)
		send_fin(c, 1, "closed by peer");
	conn_maybe_free(c);
}

static struct sim_conn *dial(struct sim_node *from, struct mp2p_host *in, long to)
{
	struct sim *s = from->sim;
	const struct sim_scenario *sc = s->sc;
	struct sim_conn *c;
	double rtt;

	if (from->nout >= from->core.cfg->max_outbound) {
		s->dial_refused_outbound++;
		return NULL;
	}
	s->ndials++;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->e[0].c = c->e[1].c = c;
	end_open(&c->e[0], from, 0);
	c->e[0].dialer = in->slot;
	c->e[1].node = s->nodes[to];
	c->one_way = sim_latency_one_way(&sc->latency,
	                                 sim_latency_region(&sc->latency, from->index, s->nnodes),
	                                 sim_latency_region(&sc->latency, to, s->nnodes), &s->net_rng);
	rtt = 2.0 * c->one_way;
	c->ready = s->q.now + sc->handshake_rtts * rtt;
	c->failed = sc->dial_fail > 0 && sim_rng_unit(&s->net_rng) < sc->dial_fail;
	sim_event_init(&c->ev_connect, connect_fire);
	if (c->failed || !s->nodes[to]->up)
		sim_queue_push(&s->q, &c->ev_connect, s->q.now + from->core.cfg->t_connect);
	else
		sim_queue_push(&s->q, &c->ev_connect, c->ready);
	return c;
}

/* --- the core_io entries ------------------------------------------------------------- */

static struct sim_end *end_find(struct core *core, uint64_t id)
{
	struct sim_end *e = idmap_get(&sim_of(core)->ends, id);

	return e != NULL && e->node == node_of(core) && !e->closed ? e : NULL;
}

static int queue_frame(struct sim_end *e, struct mp2p_host *in, const char *protocol,
                       const char *type, const void *payload, size_t len, unsigned flags)
{
	const struct host_config *cfg = e->node->core.cfg;
	struct sim_conn *c = e->c;
	struct sim_frame *f;
	const char *proto;

	if (type == NULL || (payload == NULL && len > 0))
		return MP2P_ERR_INVALID;
	if (instance_protocol(in, protocol, &proto) < 0)
		return MP2P_ERR_REFUSED;
	if (e->owner >= 0 && e->owner != in->slot)
		return MP2P_ERR_REFUSED;
	if ((flags & MP2P_SEND_OWNED) && e->owner < 0) {
		if ((e->users & ~(1ull << in->slot)) != 0 || (e->dialer >= 0 && e->dialer != in->slot))
			return MP2P_ERR_REFUSED;
		e->owner = in->slot;
		if (e->dial_key && idmap_get(&e->node->sim->dials, e->dial_key) == e)
			idmap_del(&e->node->sim->dials, e->dial_key);
		e->dial_key = 0;
	}
	if (len > (size_t)cfg->max_frame || MP2P_FRAME_HEADER + len > (size_t)cfg->max_output)
		return MP2P_ERR_TOO_BIG;
	if ((f = malloc(sizeof(*f) + MP2P_FRAME_HEADER + len)) == NULL)
		return MP2P_ERR_FAILED;
	memset(f, 0, sizeof(*f));
	f->to = e == &c->e[0] ? 1 : 0;
	f->len = MP2P_FRAME_HEADER + len;
	frame_header_write(f->data, proto, type, (uint32_t)len);
	if (len > 0)
		memcpy(f->data + MP2P_FRAME_HEADER, payload, len);
	e->users |= 1ull << in->slot;
	e->bytes_out += f->len;
	e->node->bytes_out += f->len;
	in->frames_out++;
	in->bytes_out += f->len;
	e->node->sim->frames++;
	if (e->node->sim->trace != NULL) {
		char peer[24];
		sim_node_addr(c->e[f->to].node->index, peer, sizeof(peer));
		sim_output_frame(e->node->sim->trace, e->node->sim->q.now, e->node->index, peer,
		                 proto, type, f->len);
	}
	wire_push(c, f);
	return MP2P_OK;
}

static int io_send(struct core *core, struct mp2p_host *in, uint64_t id, const char *protocol,
                   const char *type, const void *payload, size_t len, unsigned flags)
{
	struct sim_end *e = end_find(core, id);

	if (e == NULL)
		return MP2P_ERR_GONE;
	return queue_frame(e, in, protocol, type, payload, len, flags);
}

static int io_send_to(struct core *core, struct mp2p_host *in, const char *addr,
                      uint64_t claimed_on, const char *protocol, const char *type,
                      const void *payload, size_t len, unsigned flags, const char *expect_peer,
                      uint64_t *id_out)
{
	struct sim_node *n = node_of(core);
	struct sim *s = n->sim;
	struct sim_end *e;
	struct sim_conn *c;
	long to = sim_addr_node(s, addr);
	uint64_t key;
	int rc;

	/* Every simulated node speaks plaintext: no peer id can be proved. */
	if (expect_peer != NULL)
		return MP2P_ERR_REFUSED;
	/* What the dial guard says to an address no node has, or to itself. */
	if (to < 0 || to == n->index)
		return MP2P_ERR_REFUSED;
	/* A claimed address must be at the IP the claim came from, unless
	 * host.dial.trust_claims (dial.c's rule). */
	if (claimed_on != 0 && !core->cfg->dial_trust_claims) {
		struct sim_end *via = end_find(core, claimed_on);
		if (via == NULL || via->c->e[via == &via->c->e[0] ? 1 : 0].node->index != to)
			return MP2P_ERR_REFUSED;
	}
	key = dial_key_of(n->index, to);
	if (!(flags & (MP2P_SEND_ONESHOT | MP2P_SEND_OWNED)) &&
	    (e = idmap_get(&s->dials, key)) != NULL && !e->closed) {
		if ((rc = queue_frame(e, in, protocol, type, payload, len, flags)) < 0)
			return rc;
		if (id_out)
			*id_out = e->id;
		return MP2P_OK;
	}
	if ((c = dial(n, in, to)) == NULL)
		return MP2P_ERR_REFUSED;
	e = &c->e[0];
	if (flags & MP2P_SEND_ONESHOT) {
		e->oneshot = 1;
	} else if (flags & MP2P_SEND_OWNED) {
		e->owner = in->slot;
	} else {
		e->dial_key = key;
		idmap_put(&s->dials, key, e);
	}
	if ((rc = queue_frame(e, in, protocol, type, payload, len, flags)) < 0) {
		e->dialer = -1;
		e->users = 0;
		end_close(e, "frame refused", 0);
		return rc;
	}
	if (id_out)
		*id_out = e->id;
	return MP2P_OK;
}

static int io_close(struct core *core, struct mp2p_host *in, uint64_t id, int flush,
                    const char *reason)
{
	struct sim_end *e = end_find(core, id);

	(void)flush;   /* what was sent is on the wire already: both are a flush */
	if (e == NULL || (in != NULL && e->owner >= 0 && e->owner != in->slot))
		return -1;
	end_close(e, reason, 1);
	return 0;
}

static int64_t io_pending(struct core *core, uint64_t id)
{
	return end_find(core, id) == NULL ? MP2P_ERR_GONE : 0;
}

static int io_set_low_water(struct core *core, struct mp2p_host *in, uint64_t id, size_t low)
{
	struct sim_end *e = end_find(core, id);

	(void)low;
	if (e == NULL)
		return MP2P_ERR_GONE;
	if (e->owner >= 0 && e->owner != in->slot)
		return MP2P_ERR_REFUSED;
	return MP2P_OK;
}

static int io_conn_info(struct core *core, uint64_t id, struct mp2p_conn_info *info)
{
	struct sim_end *e = end_find(core, id);
	struct mp2p_conn_info full;

	if (e == NULL || info == NULL || info->size < offsetof(struct mp2p_conn_info, bytes_in))
		return -1;
	memset(&full, 0, sizeof(full));
	full.size = info->size < sizeof(full) ? info->size : sizeof(full);
	full.inbound = e->inbound;
	full.established = e->c->established;
	sim_node_addr(e->c->e[e == &e->c->e[0] ? 1 : 0].node->index, full.peer, sizeof(full.peer));
	if (e->inbound) {
		/* An accepted connection comes from an ephemeral port, as in the
		 * daemon: only the IP says who it is. */
		char *colon = strrchr(full.peer, ':');
		if (colon != NULL)
			snprintf(colon, sizeof(full.peer) - (size_t)(colon - full.peer), ":%u",
			         (unsigned)(40000 + e->id % 20000));
	}
	full.bytes_in = e->bytes_in;
	full.bytes_out = e->bytes_out;
	full.opened = e->opened;
	memcpy(info, &full, full.size);
	return 0;
}

static void io_forget_slot(struct core *core, int slot)
{
	struct sim_node *n = node_of(core);
	struct sim_end *e, *next;

	for (e = n->ends; e != NULL; e = next) {
		next = e->next;
		e->users &= ~(1ull << slot);
		if (e->dialer == slot)
			e->dialer = -1;
		if (e->owner == slot)
			end_close(e, "its owner was removed", 1);
	}
}

void sim_net_crash(struct sim_node *n)
{
	while (n->ends != NULL) {
		struct sim_end *e = n->ends;
		struct sim_conn *c = e->c;
		int side = (int)(e - c->e);
		/* The far end hears a reset, after what was already on its way. */
		end_close(e, "connection reset by peer", 0);
		(void)side;
	}
	n->uplink_free = 0;
}

long sim_net_conns(const struct sim_node *n)
{
	return n->nin + n->nout;
}

/* --- clocks, randomness, timers --------------------------------------------------- */

static double io_now(struct core *core) { return sim_of(core)->q.now; }
static double io_wall_now(struct core *core) { return SIM_EPOCH + sim_of(core)->q.now; }

static void io_random_bytes(struct core *core, void *buf, size_t len)
{
	sim_rng_bytes(&node_of(core)->rng, buf, len);
}

struct sim_timer {
	struct sim_event ev;             /* first */
	struct mp2p_timer *t;
};

static void timer_due(struct sim_event *ev)
{
	timer_fire(((struct sim_timer *)(void *)ev)->t);
}

static int io_timer_open(struct core *core, struct mp2p_timer *t)
{
	struct sim_timer *st = malloc(sizeof(*st));

	(void)core;
	if (st == NULL)
		return -1;
	sim_event_init(&st->ev, timer_due);
	st->t = t;
	t->io = st;
	return 0;
}

static void io_timer_arm(struct core *core, struct mp2p_timer *t, double seconds)
{
	struct sim *s = sim_of(core);

	sim_queue_push(&s->q, &((struct sim_timer *)t->io)->ev, s->q.now + seconds);
}

static void io_timer_disarm(struct core *core, struct mp2p_timer *t)
{
	sim_queue_remove(&sim_of(core)->q, &((struct sim_timer *)t->io)->ev);
}

static void io_timer_close(struct core *core, struct mp2p_timer *t)
{
	io_timer_disarm(core, t);
	free(t->io);
	t->io = NULL;
}

const struct core_io sim_io = {
	.send = io_send,
	.send_to = io_send_to,
	.close = io_close,
	.pending = io_pending,
	.set_low_water = io_set_low_water,
	.conn_info = io_conn_info,
	.forget_slot = io_forget_slot,
	.now = io_now,
	.wall_now = io_wall_now,
	.random_bytes = io_random_bytes,
	.timer_open = io_timer_open,
	.timer_arm = io_timer_arm,
	.timer_disarm = io_timer_disarm,
	.timer_close = io_timer_close,
	.watch_arm = NULL,                 /* no descriptors in a simulation */
	.watch_close = NULL,
	.save = NULL,                      /* no files: checkpoint() is refused */
};

/* At the end of a run: whatever is still in flight or open. The queue is
 * emptied first by the caller; here each connection is freed once. */
void sim_net_free(struct sim *s)
{
	struct sim_event *ev;

	for (long i = 0; i < s->nnodes; i++)
		if (s->nodes[i] != NULL)
			sim_net_crash(s->nodes[i]);
	/* Drain what is left in flight: ends of streams and frames. */
	while ((ev = sim_queue_pop(&s->q)) != NULL) {
		if (ev->fire == frame_arrive) {
			struct sim_frame *f = (struct sim_frame *)(void *)ev;
			struct sim_conn *c = f->c;
			c->inflight--;
			free(f);
			conn_maybe_free(c);
		} else if (ev->fire == connect_fire) {
			struct sim_conn *c = (struct sim_conn *)(void *)((char *)ev -
			                                                 offsetof(struct sim_conn, ev_connect));
			conn_maybe_free(c);
		}
	}
	idmap_free(&s->ends);
	idmap_free(&s->dials);
	idmap_free(&s->per_ip);
}

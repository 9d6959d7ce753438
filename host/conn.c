/* conn.c -- accepted and dialled connections: reading frames and handing
 * them to plugins, writing frames, and the timeouts and limits that keep a
 * slow or hostile peer from holding the host. */
#include "config.h"
#include "host.h"

#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

/* Which timeout a connection's one deadline timer stands for now. */
enum deadline_kind { DL_IDLE = 0, DL_FRAME = 1, DL_FIRST = 2 };

struct conn {
	struct conn *next, *prev;
	struct host *h;
	struct bufferevent *bev;
	struct event *deadline;      /* the idle or the frame timeout, whichever runs */
	uint64_t id;
	uint64_t users;              /* bit i: the instance in slot i used this connection */
	uint64_t ip_key;
	uint64_t dial_key;           /* nonzero while other sends may reuse it */
	uint64_t bytes_in, bytes_out;   /* bytes_out counts what was queued */
	uint64_t drain_users;        /* bit i: slot i wants on_drain() */
	size_t low_water;            /* on_drain() when output falls to this */
	double opened;
	int dialer;                  /* slot of the instance that dialled, or -1 */
	int owner;                   /* slot of the instance that owns it, or -1 */
	struct sockaddr_storage sa;  /* the peer's address */
	struct conn *snext, *sprev;  /* host->silent_head list, while in it */
	uint64_t dest_key;           /* the IP a pending dial goes to */
	size_t held;                 /* bytes in its input and output buffers */
	struct evbuffer_cb_entry *in_cb, *out_cb;
	unsigned inbound : 1;
	unsigned framed : 1;         /* it has delivered a complete frame */
	unsigned silent : 1;         /* in the list of inbound ones that have not */
	unsigned dialling : 1;       /* counted in host->dial_pending */
	unsigned deadline_kind : 2;  /* enum deadline_kind: what the deadline timer is */
	unsigned established : 1;
	unsigned oneshot : 1;
	unsigned half_closed : 1;
	unsigned closing : 1;        /* flushing its output, then gone */
	unsigned partial : 1;        /* part of a frame is waiting: the frame timeout runs */
	unsigned dispatching : 1;    /* inside a plugin callback: free later */
	unsigned dead : 1;
	unsigned secure : 1;         /* TLS */
	unsigned handshaken : 1;     /* TLS: the handshake is done, tls.verified is the peer */
	unsigned above_low : 1;      /* output rose above low_water since the last drain */
	char peer[56];
	struct tls_check tls;
};

static void conn_read(struct bufferevent *bev, void *arg);
static void conn_write(struct bufferevent *bev, void *arg);
static void conn_event(struct bufferevent *bev, short what, void *arg);
static void conn_deadline(evutil_socket_t fd, short what, void *arg);
static void conn_close(struct conn *c, const char *reason);

struct conn *conn_find(struct host *h, uint64_t id)
{
	struct conn *c = idmap_get(&h->conn_by_id, id);

	return (c != NULL && !c->dead) ? c : NULL;
}

static void ip_count_add(struct host *h, uint64_t key, long delta)
{
	long n = (long)(uintptr_t)idmap_get(&h->ip_counts, key) + delta;

	if (n <= 0)
		idmap_del(&h->ip_counts, key);
	else
		idmap_put(&h->ip_counts, key, (void *)(uintptr_t)n);
}

/* An accepted socket not yet a connection (its first bytes are awaited)
 * holds its place under the per-address limit. */
void conn_ip_hold(struct host *h, const struct sockaddr *sa, long delta)
{
	ip_count_add(h, addr_ip_key(sa, h->cfg.ipv6_prefix), delta);
}

static void silent_unlink(struct conn *c)
{
	struct host *h = c->h;

	if (!c->silent)
		return;
	if (c->sprev)
		c->sprev->snext = c->snext;
	else
		h->silent_head = c->snext;
	if (c->snext)
		c->snext->sprev = c->sprev;
	else
		h->silent_tail = c->sprev;
	c->snext = c->sprev = NULL;
	c->silent = 0;
}

static void silent_append(struct conn *c)
{
	struct host *h = c->h;

	c->sprev = h->silent_tail;
	c->snext = NULL;
	if (h->silent_tail)
		h->silent_tail->snext = c;
	else
		h->silent_head = c;
	h->silent_tail = c;
	c->silent = 1;
}

/* May another connection from this address come in? When inbound is full,
 * the oldest connection that has not yet sent a frame makes room: silent
 * connections are the cheap way to hold a host, and they must not keep
 * out peers that talk. Refusals are counted and logged at most once a
 * second per reason, so a flood cannot flood the log. */
int conn_admit(struct host *h, const struct sockaddr *sa)
{
	static struct ratelog rl_stopping, rl_limit, rl_per_ip, rl_evict;
	struct ratelog *rl = NULL;
	const char *why = NULL;
	char peer[64];
	long per_ip;

	per_ip = (long)(uintptr_t)idmap_get(&h->ip_counts, addr_ip_key(sa, h->cfg.ipv6_prefix));
	if (h->stopping) {
		why = "the host is stopping";
		rl = &rl_stopping;
	} else if (per_ip >= h->cfg.max_connections_per_ip) {
		h->stats.refused_per_ip++;
		why = "max_connections_per_ip reached";
		rl = &rl_per_ip;
	} else if (h->nin + h->nsniffs >= h->cfg.max_inbound) {
		struct conn *victim = h->silent_head;
		if (victim != NULL) {
			h->stats.evicted_silent++;
			log_rated(&rl_evict, HLOG_WARN,
			          "%s: connection %llu evicted: max_inbound (%ld) reached and it has "
			          "sent no frame in %.1f s (%llu evicted so far)", victim->peer,
			          (unsigned long long)victim->id, h->cfg.max_inbound,
			          host_now(h) - victim->opened, (unsigned long long)h->stats.evicted_silent);
			conn_close(victim, "evicted: inbound full and no frame sent yet");
			return 1;
		}
		h->stats.refused_limit++;
		why = "max_inbound reached";
		rl = &rl_limit;
	}
	if (why == NULL)
		return 1;
	addr_format(sa, peer, sizeof(peer));
	log_rated(rl, HLOG_WARN, "%s: connection refused: %s (%llu refused so far)", peer, why,
	          (unsigned long long)(h->stats.refused_limit + h->stats.refused_per_ip));
	return 0;
}

/* --- the memory budget ---------------------------------------------- */

/* Every byte added to or drained from a connection's buffers, as libevent
 * reports it: the host-wide total is then exact, with no walk. */
static void held_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	struct host *h = c->h;

	(void)buf;
	c->held += info->n_added;
	h->buffered += info->n_added;
	c->held -= info->n_deleted;
	h->buffered -= info->n_deleted;
	if (h->buffered > h->buffered_high)
		h->buffered_high = h->buffered;
}

/* Freed buffers go back to malloc, which keeps them: after an attack the
 * memory would stay resident. Once the buffers have shrunk by a lot, or
 * many connections have closed (each held ~15 KiB of TLS and libevent
 * state: a peer-to-peer host opens hundreds while it joins, then keeps a
 * few), hand the free pages back to the system, a second later so one
 * trim covers a whole burst of closes. */
static void trim_fire(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;

	(void)fd;
	(void)what;
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
	h->buffered_high = h->buffered;
	h->nconns_high = h->nconns;
}

static void trim_maybe(struct host *h)
{
	const size_t slack = 32u << 20;
	const long conns_slack = 64;
	struct timeval second = { 1, 0 };

	if (h->buffered_high - h->buffered < slack && h->nconns_high - h->nconns < conns_slack)
		return;
	if (h->trim_timer == NULL && (h->trim_timer = evtimer_new(h->base, trim_fire, h)) == NULL)
		return;
	if (!evtimer_pending(h->trim_timer, NULL))
		evtimer_add(h->trim_timer, &second);
}

/* Over max_buffered: the connections holding the most are dropped until
 * an eighth of the budget is free again, so the host does not come back
 * here on the next read. `spare` (may be NULL) is not dropped: it is the
 * connection a plugin is sending on. Returns 0 once under the budget, -1
 * if only `spare` could have made room. The caller holds a dispatching
 * reference on any connection it still uses. */
static int budget_enforce(struct host *h, struct conn *spare)
{
	static struct ratelog rl;
	size_t target = (size_t)h->cfg.max_buffered - (size_t)h->cfg.max_buffered / 8;

	while (h->buffered > target) {
		struct conn *worst = NULL;
		for (struct conn *c = h->conns; c != NULL; c = c->next)
			if (!c->dead && c != spare && (worst == NULL || c->held > worst->held))
				worst = c;
		if (worst == NULL || worst->held == 0)
			break;
		h->stats.dropped_buffered++;
		log_rated(&rl, HLOG_WARN, "%s: closing connection %llu: it holds %zu bytes and "
		          "max_buffered (%ld) is reached (%llu dropped so far)", worst->peer,
		          (unsigned long long)worst->id, worst->held, h->cfg.max_buffered,
		          (unsigned long long)h->stats.dropped_buffered);
		/* Its bytes leave the total now, though libevent frees them later. */
		h->buffered -= worst->held;
		worst->held = 0;
		evbuffer_remove_cb_entry(bufferevent_get_input(worst->bev), worst->in_cb);
		evbuffer_remove_cb_entry(bufferevent_get_output(worst->bev), worst->out_cb);
		worst->in_cb = worst->out_cb = NULL;
		conn_close(worst, "max_buffered reached: it held the most");
	}
	return h->buffered > (size_t)h->cfg.max_buffered ? -1 : 0;
}

static struct conn *conn_new(struct host *h, evutil_socket_t fd, const struct sockaddr *sa,
                             int secure, int inbound, const char *expect_peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		if (fd >= 0)
			evutil_closesocket(fd);
		return NULL;
	}
	if (expect_peer != NULL)
		memcpy(c->tls.expected, expect_peer, sizeof(c->tls.expected));
	c->secure = secure ? 1 : 0;
	c->bev = secure ? tls_bev_new(h, fd, inbound, &c->tls)
	                : bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, conn_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else if (fd >= 0)
			evutil_closesocket(fd);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return NULL;
	}
	c->h = h;
	c->id = ++h->next_conn_id;
	c->dialer = -1;
	c->owner = -1;
	c->opened = host_now(h);
	c->ip_key = addr_ip_key(sa, h->cfg.ipv6_prefix);
	memcpy(&c->sa, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                             : sizeof(struct sockaddr_in));
	addr_format(sa, c->peer, sizeof(c->peer));
	if (idmap_put(&h->conn_by_id, c->id, c) < 0) {
		bufferevent_free(c->bev);
		event_free(c->deadline);
		free(c);
		return NULL;
	}
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), held_changed, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), held_changed, c);
	/* Never more than one frame's worth waiting to be parsed: libevent
	 * stops reading this socket until the frame is handed on. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)h->cfg.max_frame + MP2P_FRAME_HEADER);
	h->nconns++;
	if (h->nconns > h->nconns_high)
		h->nconns_high = h->nconns;
	c->next = h->conns;
	if (c->next)
		c->next->prev = c;
	h->conns = c;
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	return c;
}

static void set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	/* Frames are small and answers wait on them: do not let Nagle hold them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct conn *conn_accept(struct host *h, evutil_socket_t fd, const struct sockaddr *sa, int salen,
                         int secure)
{
	struct conn *c;

	(void)salen;
	set_nodelay(fd);
	if ((c = conn_new(h, fd, sa, secure, 1, NULL)) == NULL) {
		log_msg(HLOG_ERR, "out of memory accepting a connection");
		return NULL;
	}
	c->inbound = 1;
	c->established = 1;
	h->nin++;
	silent_append(c);
	ip_count_add(h, c->ip_key, 1);   /* the per-IP cap is on what peers open */
	h->stats.accepted++;
	bufferevent_set_timeouts(c->bev, NULL, &h->tv_write);
	/* Its first frame is due within first_frame, or idle if that is shorter;
	 * a TLS handshake comes first and must fit in the same time. */
	if (h->cfg.t_first_frame <= h->cfg.t_idle) {
		c->deadline_kind = DL_FIRST;
		event_add(c->deadline, h->tv_first);
	} else {
		c->deadline_kind = DL_IDLE;
		event_add(c->deadline, h->tv_idle);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_msg(HLOG_DEBUG, "%s: connection %llu accepted", c->peer, (unsigned long long)c->id);
	return c;
}

static void conn_free(struct conn *c)
{
	struct host *h = c->h;

	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	/* libevent may free the buffers later: they stop counting now. */
	h->buffered -= c->held;
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
	trim_maybe(h);
}

static void notify(struct conn *c, struct mp2p_host *in, uint32_t kind, const char *reason)
{
	struct mp2p_conn_event ev = {
		.size = sizeof(ev), .kind = kind, .inbound = c->inbound,
		.established = c->established, .peer = c->peer, .reason = reason,
	};

	if (in == NULL || in->state != INST_RUNNING || in->mod->desc.on_conn == NULL)
		return;
	in->mod->desc.on_conn(in->self, c->id, &ev);
}

/* The connection is gone: out of every table, then every instance that
 * used it hears why. Freed now, or after the callback that holds it. */
static void conn_close(struct conn *c, const char *reason)
{
	struct host *h = c->h;
	uint64_t users;

	if (c->dead)
		return;
	c->dead = 1;
	idmap_del(&h->conn_by_id, c->id);
	if (c->dial_key && idmap_get(&h->conn_by_dial, c->dial_key) == c)
		idmap_del(&h->conn_by_dial, c->dial_key);
	if (c->inbound) {
		ip_count_add(h, c->ip_key, -1);
		h->nin--;
	} else {
		h->nout--;
	}
	silent_unlink(c);
	if (c->dialling) {
		dial_finished(h, c->dest_key);
		c->dialling = 0;
	}
	h->nconns--;
	h->stats.closed++;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->deadline);
	log_msg(HLOG_DEBUG, "%s: connection %llu closed: %s", c->peer, (unsigned long long)c->id, reason);

	users = c->users;
	if (c->dialer >= 0)
		users |= 1ull << c->dialer;
	c->dispatching++;
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (users & (1ull << i))
			notify(c, h->core.slots[i], MP2P_CONN_CLOSED, reason);
	c->dispatching--;
	if (!c->dispatching)
		conn_free(c);
}

/* A peer broke a rule: one line naming it and why, then it is dropped.
 * The line is rate-limited per reason (`rl`): many peers breaking the same
 * rule at once make one line a second, and the counter says how many. */
static void conn_fail(struct conn *c, uint64_t *counter, struct ratelog *rl,
                      const char *fmt, ...) MP2P_PRINTF(4, 5);
static void conn_fail(struct conn *c, uint64_t *counter, struct ratelog *rl,
                      const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (counter != NULL)
		(*counter)++;
	log_rated(rl, HLOG_WARN, "%s: closing connection %llu: %s", c->peer,
	          (unsigned long long)c->id, reason);
	conn_close(c, reason);
}

/* A TLS handshake failed. Counted, and logged at most once a second: a
 * stranger knocking at a private network must not fill the log. */
static void tls_refused(struct conn *c, const char *reason)
{
	static struct ratelog rl;
	struct host *h = c->h;

	h->stats.tls_refused++;
	log_rated(&rl, HLOG_WARN, "%s: closing connection %llu: %s (%llu TLS refusals so far)",
	          c->peer, (unsigned long long)c->id, reason, (unsigned long long)h->stats.tls_refused);
	conn_close(c, reason);
}

/* Writes what is queued, then closes. Reading stops at once. */
static void conn_close_flush(struct conn *c, const char *reason)
{
	if (c->dead || c->closing)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c, reason);
		return;
	}
	/* Still dialling with a frame queued (a goodbye sent at shutdown,
	 * say): it connects, writes, then closes, or the connect timeout ends it. */
	c->closing = 1;
	/* A TLS dial whose handshake is not done must go on reading: the
	 * handshake waits on the far end's answer, and a far end that closes
	 * instead (a host stopping at the same moment) is seen only by a read.
	 * Its deadline, the connect timeout, still bounds it; reading stops
	 * once the handshake is done (conn_event). Without this, two hosts
	 * stopping together could each wait out the whole stop timeout. */
	if (c->secure && !c->handshaken && !c->inbound)
		return;
	bufferevent_disable(c->bev, EV_READ);
	/* A TLS bufferevent stops writing when the peer ends its stream; what
	 * is queued (the answer to a one-shot frame) must still leave. */
	if (c->secure)
		bufferevent_enable(c->bev, EV_WRITE);
	event_del(c->deadline);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct host *h = c->h;
	struct evbuffer *input = bufferevent_get_input(bev);
	uint8_t hdr[MP2P_FRAME_HEADER];
	struct frame_header fh;
	const char *why = NULL;
	size_t len;
	int consumed = 0;

	static struct ratelog rl_oversize, rl_bad, rl_unknown, rl_nomem, rl_owned;

	c->dispatching++;
	/* The bytes are read already; past the budget the biggest holders go,
	 * this connection too if it is one of them. */
	if (h->buffered > (size_t)h->cfg.max_buffered)
		budget_enforce(h, NULL);
	while (!c->dead && !c->closing) {
		struct mp2p_host *in;
		uint8_t *p;
		int rc;

		/* The same scanner the unit tests and the fuzzer drive: it reads
		 * the header only, and is told how much of the stream is here. */
		len = evbuffer_get_length(input);
		evbuffer_copyout(input, hdr, len < sizeof(hdr) ? len : sizeof(hdr));
		rc = frame_scan(hdr, len, (uint32_t)h->cfg.max_frame, &fh, &why);
		if (rc == FRAME_NEED_MORE)
			break;
		if (rc == FRAME_BAD) {
			if (strcmp(why, "payload over max_frame") == 0)
				conn_fail(c, &h->stats.oversize, &rl_oversize,
				          "frame of %u bytes is over max_frame (%ld)", fh.length, h->cfg.max_frame);
			else
				conn_fail(c, &h->stats.bad_frames, &rl_bad, "not a frame: %s", why);
			break;
		}
		if ((in = route_protocol(&h->core, fh.protocol)) == NULL) {
			conn_fail(c, &h->stats.unknown_protocol, &rl_unknown,
			          "frame for unknown protocol '%s'", fh.protocol);
			break;
		}
		if (c->owner >= 0 && in->slot != c->owner) {
			conn_fail(c, &h->stats.bad_frames, &rl_owned, "frame for protocol '%s' on a connection "
			          "owned by '%s'", fh.protocol,
			          h->core.slots[c->owner] ? h->core.slots[c->owner]->name : "?");
			break;
		}
		p = evbuffer_pullup(input, (ev_ssize_t)(MP2P_FRAME_HEADER + fh.length));
		if (p == NULL) {
			conn_fail(c, NULL, &rl_nomem, "out of memory reading a frame");
			break;
		}
		c->bytes_in += MP2P_FRAME_HEADER + fh.length;
		h->stats.frames_in++;
		h->stats.bytes_in += MP2P_FRAME_HEADER + fh.length;
		in->frames_in++;
		in->bytes_in += MP2P_FRAME_HEADER + fh.length;
		c->users |= 1ull << in->slot;
		if (in->state == INST_RUNNING && in->mod->desc.on_frame != NULL) {
			struct mp2p_frame f = { fh.protocol, { 0 }, fh.length, p + MP2P_FRAME_HEADER };
			memcpy(f.type, fh.type, MP2P_TYPE_LEN);
			in->mod->desc.on_frame(in->self, c->id, &f);
		}
		evbuffer_drain(input, MP2P_FRAME_HEADER + fh.length);
		c->partial = 0;
		consumed = 1;
		if (!c->framed) {
			c->framed = 1;
			silent_unlink(c);
			if (c->deadline_kind == DL_FIRST)
				c->deadline_kind = DL_IDLE;   /* re-armed below */
		}
	}
	c->dispatching--;
	if (c->dead) {
		if (!c->dispatching)
			conn_free(c);
		return;
	}
	if (c->closing)
		return;
	/* A frame that has started must finish within `frame`; a connection
	 * with nothing pending must send a frame within `idle`; a new inbound
	 * one must complete its first within `first_frame`, started or not,
	 * unless one of the others ends sooner. */
	if (evbuffer_get_length(input) > 0) {
		if (!c->partial) {
			c->partial = 1;
			if (c->deadline_kind != DL_FIRST ||
			    host_now(h) + h->cfg.t_frame < c->opened + h->cfg.t_first_frame) {
				c->deadline_kind = DL_FRAME;
				event_add(c->deadline, h->tv_frame);
			}
		}
	} else if (consumed) {
		c->deadline_kind = DL_IDLE;
		event_add(c->deadline, h->tv_idle);
	}
}

static size_t pending(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* The output fell to its low-water mark: every instance that asked hears
 * it, from the loop. One of them may close the connection meanwhile. */
static void drained(struct conn *c)
{
	struct host *h = c->h;
	uint64_t want = c->drain_users;

	c->above_low = 0;
	c->dispatching++;
	for (int i = 0; i < MAX_INSTANCES && !c->dead; i++) {
		struct mp2p_host *in = h->core.slots[i];
		if (!(want & (1ull << i)) || in == NULL || in->state != INST_RUNNING ||
		    in->mod->desc.on_drain == NULL)
			continue;
		in->mod->desc.on_drain(in->self, c->id, pending(c));
	}
	c->dispatching--;
	if (c->dead && !c->dispatching)
		conn_free(c);
}

/* libevent calls this whenever a write leaves the output at or below the
 * write low-water mark, which is the connection's low_water (0 unless a
 * plugin set one): so only an empty output means "all written". */
static void conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->dead)
		return;
	if (c->closing) {
		if (pending(c) == 0)
			conn_close(c, "closed after flushing");
		return;
	}
	if (c->oneshot && !c->half_closed && c->established && pending(c) == 0) {
		/* The peer reads one frame per connection: show it the end. */
		c->half_closed = 1;
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	}
	if (c->above_low && c->drain_users != 0 && pending(c) <= c->low_water)
		drained(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct host *h = c->h;
	char reason[160];

	(void)bev;
	if (c->dead)
		return;
	if ((what & BEV_EVENT_CONNECTED) && c->inbound) {
		/* An inbound TLS handshake is done: the key was checked. The
		 * first-frame deadline set at accept still runs. */
		c->handshaken = 1;
		h->stats.tls_handshakes++;
		log_msg(HLOG_DEBUG, "%s: connection %llu is peer %s", c->peer,
		        (unsigned long long)c->id, c->tls.verified);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		c->established = 1;
		if (c->secure) {
			c->handshaken = 1;
			h->stats.tls_handshakes++;
		}
		if (c->dialling) {
			dial_finished(h, c->dest_key);
			c->dialling = 0;
		}
		set_nodelay(bufferevent_getfd(c->bev));
		bufferevent_set_timeouts(c->bev, NULL, &h->tv_write);
		if (!c->closing) {
			c->deadline_kind = DL_IDLE;
			event_add(c->deadline, h->tv_idle);
		} else {
			/* Closed while its handshake ran: only the output is left. */
			bufferevent_disable(c->bev, EV_READ);
			event_del(c->deadline);
		}
		if (c->dialer >= 0) {
			c->dispatching++;
			notify(c, h->core.slots[c->dialer], MP2P_CONN_OPENED, NULL);
			c->dispatching--;
			if (c->dead) {
				if (!c->dispatching)
					conn_free(c);
				return;
			}
		}
		if (c->oneshot && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_write(c->bev, c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* A TLS handshake cut short can carry nothing that is queued. */
		if (c->secure && !c->handshaken)
			conn_close(c, "closed by peer during the TLS handshake");
		else
			conn_close_flush(c, "closed by peer");
	} else if (what & BEV_EVENT_TIMEOUT) {
		if (!c->established) {
			h->stats.timeouts_connect++;
			h->stats.dial_failures++;
			conn_close(c, "connect timeout");
		} else {
			static struct ratelog rl_write;
			conn_fail(c, &h->stats.timeouts_write, &rl_write, "write timeout: peer is not reading");
		}
	} else if ((what & BEV_EVENT_ERROR) && c->secure) {
		/* A wrong key, no key, no TLS at all, or the far end refused
		 * ours (in TLS 1.3 a dialler hears that just after its side of
		 * the handshake is done, before any frame came back). */
		tls_failure(c->bev, &c->tls, reason, sizeof(reason));
		if (!c->established)
			h->stats.dial_failures++;
		if (!c->handshaken || c->bytes_in == 0)
			tls_refused(c, reason);
		else
			conn_close(c, reason);
	} else if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		if (!c->established) {
			h->stats.dial_failures++;
			snprintf(reason, sizeof(reason), "connect failed: %s", strerror(err));
		} else {
			snprintf(reason, sizeof(reason), "socket error: %s", strerror(err));
		}
		conn_close(c, reason);
	}
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct host *h = c->h;

	static struct ratelog rl_first, rl_frame, rl_idle;

	(void)fd;
	(void)what;
	if (c->secure && !c->handshaken) {
		if (!c->inbound) {
			h->stats.timeouts_connect++;
			h->stats.dial_failures++;
		}
		tls_refused(c, "TLS handshake not finished in time");
	} else if (c->deadline_kind == DL_FIRST)
		conn_fail(c, &h->stats.timeouts_first_frame, &rl_first,
		          "first frame timeout: no complete frame in %g s", h->cfg.t_first_frame);
	else if (c->deadline_kind == DL_FRAME)
		conn_fail(c, &h->stats.timeouts_frame, &rl_frame,
		          "frame timeout: a frame was not completed in %g s", h->cfg.t_frame);
	else
		conn_fail(c, &h->stats.timeouts_idle, &rl_idle, "idle timeout: no frame in %g s",
		          h->cfg.t_idle);
}

/* An owned connection is a plugin's bulk channel: it reads and writes up
 * to 256 KiB a turn instead of libevent's 16 KiB, which saves a callback
 * and a system call per 16 KiB. Shared connections keep the small step,
 * so no peer can make the host read more per turn than it does today. */
static void owned_io(struct conn *c)
{
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	bufferevent_set_max_single_write(c->bev, 256 * 1024);
}

/* May this instance use the connection? An owned one is its owner's;
 * MP2P_SEND_OWNED claims one nobody else has used. */
static int may_use(struct conn *c, struct mp2p_host *in, unsigned flags)
{
	uint64_t me = 1ull << in->slot;

	if (c->owner >= 0)
		return c->owner == in->slot ? MP2P_OK : MP2P_ERR_REFUSED;
	if (!(flags & MP2P_SEND_OWNED))
		return MP2P_OK;
	if ((c->users & ~me) != 0 || (c->dialer >= 0 && c->dialer != in->slot))
		return MP2P_ERR_REFUSED;
	c->owner = in->slot;
	owned_io(c);
	/* No plain send_to() may find it from now on. */
	if (c->dial_key && idmap_get(&c->h->conn_by_dial, c->dial_key) == c)
		idmap_del(&c->h->conn_by_dial, c->dial_key);
	c->dial_key = 0;
	return MP2P_OK;
}

static int queue_frame(struct conn *c, struct mp2p_host *in, const char *protocol,
                       const char *type, const void *payload, size_t len, unsigned flags)
{
	struct host *h = c->h;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t hdr[MP2P_FRAME_HEADER];
	struct evbuffer_iovec v;
	const char *proto;
	int rc;

	if (type == NULL || (payload == NULL && len > 0))
		return MP2P_ERR_INVALID;
	if (c->dead || c->closing)
		return MP2P_ERR_GONE;
	if (instance_protocol(in, protocol, &proto) < 0) {
		log_msg(HLOG_WARN, "%s: cannot send for protocol '%s': not one of its own", in->name, protocol);
		return MP2P_ERR_REFUSED;
	}
	if ((rc = may_use(c, in, flags)) != MP2P_OK) {
		log_msg(HLOG_DEBUG, "%s: cannot use connection %llu: owned by another instance",
		        in->name, (unsigned long long)c->id);
		return rc;
	}
	if (len > (size_t)h->cfg.max_frame || MP2P_FRAME_HEADER + len > (size_t)h->cfg.max_output) {
		log_msg(HLOG_WARN, "%s: refused to send a %zu-byte frame: over max_frame", in->name, len);
		return MP2P_ERR_TOO_BIG;
	}
	if (evbuffer_get_length(out) + MP2P_FRAME_HEADER + len > (size_t)h->cfg.max_output) {
		if (flags & MP2P_SEND_NOWAIT) {
			/* Nothing queued, nothing closed: on_drain() says when. */
			c->drain_users |= 1ull << in->slot;
			c->above_low = 1;
			return MP2P_ERR_WOULD_BLOCK;
		}
		static struct ratelog rl_output;
		h->stats.output_overflow++;
		conn_fail(c, NULL, &rl_output, "output over max_output (%ld bytes): peer is not reading",
		          h->cfg.max_output);
		return MP2P_ERR_GONE;
	}
	/* Output counts against max_buffered as input does: past it the
	 * biggest other holders go, and if that is not room enough the frame
	 * is refused rather than allocated. */
	if (h->buffered + MP2P_FRAME_HEADER + len > (size_t)h->cfg.max_buffered &&
	    (budget_enforce(h, c) < 0 ||
	     h->buffered + MP2P_FRAME_HEADER + len > (size_t)h->cfg.max_buffered)) {
		static struct ratelog rl_full;
		log_rated(&rl_full, HLOG_WARN, "%s: refused to queue a %zu-byte frame to %s: "
		          "max_buffered (%ld) reached", in->name, len, c->peer, h->cfg.max_buffered);
		return MP2P_ERR_REFUSED;
	}
	/* Header and payload go into one reserved run of the output buffer:
	 * one copy each, no second buffer operation per frame. */
	if (evbuffer_reserve_space(out, (ev_ssize_t)(sizeof(hdr) + len), &v, 1) < 1 ||
	    v.iov_len < sizeof(hdr) + len)
		return MP2P_ERR_FAILED;
	frame_header_write(v.iov_base, proto, type, (uint32_t)len);
	if (len > 0)
		memcpy((uint8_t *)v.iov_base + sizeof(hdr), payload, len);
	v.iov_len = sizeof(hdr) + len;
	if (evbuffer_commit_space(out, &v, 1) < 0)
		return MP2P_ERR_FAILED;
	c->users |= 1ull << in->slot;
	if (evbuffer_get_length(out) > c->low_water)
		c->above_low = 1;
	c->bytes_out += sizeof(hdr) + len;
	h->stats.frames_out++;
	h->stats.bytes_out += sizeof(hdr) + len;
	in->frames_out++;
	in->bytes_out += sizeof(hdr) + len;
	return MP2P_OK;
}

int conn_send(struct host *h, struct mp2p_host *in, uint64_t id, const char *protocol,
              const char *type, const void *payload, size_t len, unsigned flags)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL)
		return MP2P_ERR_GONE;
	return queue_frame(c, in, protocol, type, payload, len, flags);
}

/* A socket bound to the IP this host advertises, when that IP is one of
 * this machine's own: peers then see our connections come from the
 * address we claim, which is what their claimed-address checks compare
 * (and on a machine with several addresses, the one we told them). An
 * advertised address the machine does not have (behind NAT, say) cannot
 * be bound: -1, and the kernel chooses as usual. */
static evutil_socket_t dial_socket(struct host *h, const struct sockaddr *sa)
{
	struct sockaddr_storage from;
	int len, one = 1;
	evutil_socket_t fd;

	if (h->advertise == NULL || addr_parse(h->advertise, &from, &len) < 0 ||
	    from.ss_family != sa->sa_family)
		return -1;
	if (from.ss_family == AF_INET)
		((struct sockaddr_in *)&from)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&from)->sin6_port = 0;
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
#ifdef IP_BIND_ADDRESS_NO_PORT
	/* The port is chosen at connect(), per destination: binding first
	 * must not use up the ephemeral ports. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
	(void)one;
	if (bind(fd, (struct sockaddr *)&from, (socklen_t)len) < 0) {
		evutil_closesocket(fd);
		return -1;
	}
	return fd;
}

static struct conn *dial(struct host *h, struct mp2p_host *in, const char *addr,
                         const struct sockaddr *sa, int salen, int secure, const char *expect_peer)
{
	struct conn *c;

	if (!dial_allowed(h, in, addr, sa))
		return NULL;
	if ((c = conn_new(h, dial_socket(h, sa), sa, secure, 0, expect_peer)) == NULL)
		return NULL;
	h->nout++;
	c->dialer = in->slot;
	c->dest_key = addr_ip_key(sa, 128);
	c->dialling = 1;
	dial_started(h, c->dest_key);
	/* While connecting, libevent's write timeout is the connect timeout;
	 * a TLS handshake waits on reads, so the deadline bounds it too. */
	bufferevent_set_timeouts(c->bev, NULL, &h->tv_connect);
	if (secure)
		event_add(c->deadline, &h->tv_connect);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, sa, salen) < 0) {
		/* libevent reports most failures through the event callback; one
		 * it returns here (no socket, say) leaves the connection unusable. */
		c->dialer = -1;
		conn_close(c, "connect failed");
		return NULL;
	}
	return c;
}

/* May a connection dialled earlier carry frames meant for `expect_peer`? */
static int reusable_for(const struct conn *c, const char *expect_peer)
{
	if (expect_peer == NULL)
		return 1;
	if (c->handshaken)
		return strcmp(c->tls.verified, expect_peer) == 0;
	return strcmp(c->tls.expected, expect_peer) == 0;
}

int conn_send_to(struct host *h, struct mp2p_host *in, const char *addr, uint64_t claimed_on,
                 const char *protocol, const char *type, const void *payload, size_t len,
                 unsigned flags, const char *expect_peer, uint64_t *id_out)
{
	int mode = h->cfg.security_mode;
	int secure = mode == SEC_TLS || (mode == SEC_MIXED && !(flags & MP2P_SEND_PLAINTEXT));
	struct sockaddr_storage ss;
	char canon[64];
	uint64_t key;
	struct conn *c;
	int salen, rc;

	if (addr_parse(addr, &ss, &salen) < 0) {
		log_msg(HLOG_DEBUG, "%s: cannot send to '%s': not a numeric ADDR:PORT", in->name, addr);
		return MP2P_ERR_REFUSED;
	}
	if ((flags & MP2P_SEND_PLAINTEXT) && mode == SEC_TLS) {
		log_msg(HLOG_DEBUG, "%s: cannot send to %s in plaintext: host.security.mode is \"tls\"",
		        in->name, addr);
		return MP2P_ERR_REFUSED;
	}
	if (expect_peer != NULL && (!secure || !peer_id_valid(expect_peer))) {
		log_msg(HLOG_DEBUG, "%s: cannot send to %s expecting a peer id: %s", in->name, addr,
		        secure ? "not a peer id" : "the connection would be plaintext");
		return MP2P_ERR_REFUSED;
	}
	if (claimed_on != 0 && !dial_claim_allowed(h, in, claimed_on, addr, (struct sockaddr *)&ss))
		return MP2P_ERR_REFUSED;
	addr_format((struct sockaddr *)&ss, canon, sizeof(canon));
	key = hash_bytes(canon, strlen(canon));
	if (!(flags & (MP2P_SEND_ONESHOT | MP2P_SEND_OWNED))) {
		c = idmap_get(&h->conn_by_dial, key);
		if (c != NULL && !c->dead && !c->closing && strcmp(c->peer, canon) == 0 &&
		    reusable_for(c, expect_peer)) {
			if ((rc = queue_frame(c, in, protocol, type, payload, len, flags)) < 0)
				return rc;
			if (id_out)
				*id_out = c->id;
			return MP2P_OK;
		}
	}
	if ((c = dial(h, in, addr, (struct sockaddr *)&ss, salen, secure, expect_peer)) == NULL)
		return MP2P_ERR_REFUSED;
	if (flags & MP2P_SEND_ONESHOT) {
		c->oneshot = 1;
	} else if (flags & MP2P_SEND_OWNED) {
		c->owner = in->slot;
		owned_io(c);
	} else {
		c->dial_key = key;
		idmap_put(&h->conn_by_dial, key, c);
	}
	if ((rc = queue_frame(c, in, protocol, type, payload, len, flags)) < 0) {
		/* Nobody has heard of it yet: close it without telling anyone. */
		c->dialer = -1;
		c->users = 0;
		conn_close(c, "frame refused");
		return rc;
	}
	if (id_out)
		*id_out = c->id;
	return MP2P_OK;
}

/* The address a connection's peer is at, for the dial guard. */
int conn_peer_addr(struct host *h, uint64_t id, struct sockaddr_storage *out)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL)
		return -1;
	*out = c->sa;
	return 0;
}

int conn_close_id(struct host *h, struct mp2p_host *in, uint64_t id, int flush,
                  const char *reason)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL || (in != NULL && c->owner >= 0 && c->owner != in->slot))
		return -1;
	if (flush)
		conn_close_flush(c, reason);
	else
		conn_close(c, reason);
	return 0;
}

int conn_info(struct host *h, uint64_t id, struct mp2p_conn_info *info)
{
	struct conn *c = conn_find(h, id);
	struct mp2p_conn_info full;

	if (c == NULL || info == NULL || info->size < offsetof(struct mp2p_conn_info, bytes_in))
		return -1;
	memset(&full, 0, sizeof(full));
	full.size = info->size < sizeof(full) ? info->size : sizeof(full);
	full.inbound = c->inbound;
	full.established = c->established;
	snprintf(full.peer, sizeof(full.peer), "%s", c->peer);
	full.bytes_in = c->bytes_in;
	full.bytes_out = c->bytes_out - pending(c);
	full.opened = c->opened;
	full.tls = c->secure;
	full.authenticated = c->secure && c->handshaken && c->tls.verified[0] != '\0';
	if (full.authenticated)
		memcpy(full.peer_id, c->tls.verified, sizeof(full.peer_id));
	memcpy(info, &full, full.size);
	return 0;
}

/* The instance in `slot` is gone for good: connections it owned go with
 * it, the others forget it. */
void conn_forget_slot(struct host *h, int slot)
{
	struct conn *c, *next;

	for (c = h->conns; c != NULL; c = next) {
		next = c->next;
		c->users &= ~(1ull << slot);
		c->drain_users &= ~(1ull << slot);
		if (c->dialer == slot)
			c->dialer = -1;
		if (c->owner == slot && !c->dead)
			conn_close(c, "its owner was removed");
	}
}

int64_t conn_pending(struct host *h, uint64_t id)
{
	struct conn *c = conn_find(h, id);

	return c == NULL ? MP2P_ERR_GONE : (int64_t)pending(c);
}

int conn_set_low_water(struct host *h, struct mp2p_host *in, uint64_t id, size_t low)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL || c->closing)
		return MP2P_ERR_GONE;
	if (c->owner >= 0 && c->owner != in->slot)
		return MP2P_ERR_REFUSED;
	if (low == MP2P_DRAIN_OFF) {
		c->drain_users &= ~(1ull << in->slot);
		return MP2P_OK;
	}
	c->drain_users |= 1ull << in->slot;
	c->low_water = low;
	/* libevent calls conn_write() when a write leaves at most this much. */
	bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
	if (pending(c) > low)
		c->above_low = 1;
	return MP2P_OK;
}

/* At shutdown: idle connections close now, the rest after their output. */
void conns_close_all(struct host *h, const char *reason)
{
	struct conn *c = h->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		if (!c->dead)
			conn_close_flush(c, reason);
	}
}

void conns_list(struct host *h, struct mp2p_reply *r)
{
	double now = host_now(h);

	for (struct conn *c = h->conns; c != NULL; c = c->next) {
		char users[512] = "";
		size_t off = 0;
		if (c->dead)
			continue;
		for (int i = 0; i < MAX_INSTANCES; i++) {
			if ((c->users & (1ull << i)) && h->core.slots[i] != NULL && off < sizeof(users)) {
				int w = snprintf(users + off, sizeof(users) - off, "%s%s", off ? "," : "",
				                 h->core.slots[i]->name);
				if (w > 0)
					off += (size_t)w;
			}
		}
		reply_row(r);
		reply_int(r, "id", (long long)c->id);
		reply_str(r, "peer", c->peer);
		reply_str(r, "direction", c->inbound ? "in" : "out");
		reply_str(r, "tls", c->secure ? "yes" : "no");
		reply_str(r, "peer_id", c->handshaken && c->tls.verified[0] ? c->tls.verified : "-");
		reply_str(r, "state", c->closing ? "closing" : c->established ? "open" : "connecting");
		reply_int(r, "bytes_in", (long long)c->bytes_in);
		reply_int(r, "bytes_out", (long long)(c->bytes_out - pending(c)));
		reply_float(r, "age", now - c->opened);
		reply_str(r, "plugins", users);
	}
}

/* Bytes every connection holds: received but not yet a whole frame, and
 * queued but not yet sent (for the metrics endpoint). */
void conns_buffered(struct host *h, size_t *in, size_t *out)
{
	*in = *out = 0;
	for (struct conn *c = h->conns; c != NULL; c = c->next) {
		if (c->dead)
			continue;
		*in += evbuffer_get_length(bufferevent_get_input(c->bev));
		*out += evbuffer_get_length(bufferevent_get_output(c->bev));
	}
}

/* At exit, after the plugins are gone: nobody is left to tell. */
void conns_drop_all(struct host *h)
{
	while (h->conns != NULL) {
		struct conn *c = h->conns;
		if (!c->dead)
			conn_close(c, "host exiting");
		else
			conn_free(c);
	}
}

/* conn.c -- accepted and dialled connections: reading frames and handing
 * them to plugins, writing frames, and the timeouts and limits that keep a
 * slow or hostile peer from holding the host. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

struct conn {
	struct conn *next, *prev;
	struct host *h;
	struct bufferevent *bev;
	struct event *deadline;      /* the idle or the frame timeout, whichever runs */
	uint64_t id;
	uint64_t users;              /* bit i: the instance in slot i used this connection */
	uint64_t ip_key;
	uint64_t dial_key;           /* nonzero while other sends may reuse it */
	uint64_t bytes_in, bytes_out;
	double opened;
	int dialer;                  /* slot of the instance that dialled, or -1 */
	unsigned inbound : 1;
	unsigned established : 1;
	unsigned oneshot : 1;
	unsigned half_closed : 1;
	unsigned closing : 1;        /* flushing its output, then gone */
	unsigned partial : 1;        /* part of a frame is waiting: the frame timeout runs */
	unsigned dispatching : 1;    /* inside a plugin callback: free later */
	unsigned dead : 1;
	unsigned secure : 1;         /* TLS */
	unsigned handshaken : 1;     /* TLS: the handshake is done, tls.verified is the peer */
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
	ip_count_add(h, addr_ip_key(sa), delta);
}

/* May another connection from this address come in? Refusals are counted
 * and logged at most once a second, so a flood cannot flood the log. */
int conn_admit(struct host *h, const struct sockaddr *sa)
{
	static double last_log[3];   /* per reason, so one flood hides no other */
	const char *why = NULL;
	int kind = 0;
	long per_ip;

	if (h->stopping) {
		why = "the host is stopping";
	} else if (h->nconns + h->nsniffs >= h->cfg.max_connections) {
		h->stats.refused_limit++;
		why = "max_connections reached";
		kind = 1;
	} else {
		per_ip = (long)(uintptr_t)idmap_get(&h->ip_counts, addr_ip_key(sa));
		if (per_ip >= h->cfg.max_connections_per_ip) {
			h->stats.refused_per_ip++;
			why = "max_connections_per_ip reached";
			kind = 2;
		}
	}
	if (why == NULL)
		return 1;
	if (host_now(h) - last_log[kind] >= 1.0) {
		char peer[64];
		addr_format(sa, peer, sizeof(peer));
		log_msg(HLOG_WARN, "%s: connection refused: %s (%llu refused so far)", peer, why,
		        (unsigned long long)(h->stats.refused_limit + h->stats.refused_per_ip));
		last_log[kind] = host_now(h);
	}
	return 0;
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
	c->opened = host_now(h);
	c->ip_key = addr_ip_key(sa);
	addr_format(sa, c->peer, sizeof(c->peer));
	if (idmap_put(&h->conn_by_id, c->id, c) < 0) {
		bufferevent_free(c->bev);
		event_free(c->deadline);
		free(c);
		return NULL;
	}
	h->nconns++;
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
	ip_count_add(h, c->ip_key, 1);   /* the per-IP cap is on what peers open */
	h->stats.accepted++;
	bufferevent_set_timeouts(c->bev, NULL, &h->tv_write);
	/* A handshake must finish within the connect timeout; then the idle
	 * timeout runs as for any connection. */
	event_add(c->deadline, secure ? &h->tv_connect : h->tv_idle);
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
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
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
	if (c->inbound)
		ip_count_add(h, c->ip_key, -1);
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
			notify(c, h->slots[i], MP2P_CONN_CLOSED, reason);
	c->dispatching--;
	if (!c->dispatching)
		conn_free(c);
}

/* A peer broke a rule: one line naming it and why, then it is dropped. */
static void conn_fail(struct conn *c, uint64_t *counter, const char *fmt, ...) MP2P_PRINTF(3, 4);
static void conn_fail(struct conn *c, uint64_t *counter, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (counter != NULL)
		(*counter)++;
	log_msg(HLOG_WARN, "%s: closing connection %llu: %s", c->peer, (unsigned long long)c->id, reason);
	conn_close(c, reason);
}

/* A TLS handshake failed. Counted, and logged at most once a second: a
 * stranger knocking at a private network must not fill the log. */
static void tls_refused(struct conn *c, const char *reason)
{
	static double last_log;
	struct host *h = c->h;

	h->stats.tls_refused++;
	if (host_now(h) - last_log >= 1.0) {
		log_msg(HLOG_WARN, "%s: closing connection %llu: %s (%llu TLS refusals so far)", c->peer,
		        (unsigned long long)c->id, reason, (unsigned long long)h->stats.tls_refused);
		last_log = host_now(h);
	}
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

	c->dispatching++;
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
				conn_fail(c, &h->stats.oversize, "frame of %u bytes is over max_frame (%ld)",
				          fh.length, h->cfg.max_frame);
			else
				conn_fail(c, &h->stats.bad_frames, "not a frame: %s", why);
			break;
		}
		if ((in = route_protocol(h, fh.protocol)) == NULL) {
			conn_fail(c, &h->stats.unknown_protocol, "frame for unknown protocol '%s'", fh.protocol);
			break;
		}
		p = evbuffer_pullup(input, (ev_ssize_t)(MP2P_FRAME_HEADER + fh.length));
		if (p == NULL) {
			conn_fail(c, NULL, "out of memory reading a frame");
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
	 * with nothing pending must send a frame within `idle`. */
	if (evbuffer_get_length(input) > 0) {
		if (!c->partial) {
			c->partial = 1;
			event_add(c->deadline, h->tv_frame);
		}
	} else if (consumed) {
		event_add(c->deadline, h->tv_idle);
	}
}

static void conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->dead)
		return;
	if (c->closing) {
		conn_close(c, "closed after flushing");
		return;
	}
	if (c->oneshot && !c->half_closed && c->established) {
		/* The peer reads one frame per connection: show it the end. */
		c->half_closed = 1;
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	}
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
		/* An inbound TLS handshake is done: the key was checked. */
		c->handshaken = 1;
		h->stats.tls_handshakes++;
		if (!c->closing && !c->partial)
			event_add(c->deadline, h->tv_idle);
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
		set_nodelay(bufferevent_getfd(c->bev));
		bufferevent_set_timeouts(c->bev, NULL, &h->tv_write);
		if (!c->closing)
			event_add(c->deadline, h->tv_idle);
		if (c->dialer >= 0) {
			c->dispatching++;
			notify(c, h->slots[c->dialer], MP2P_CONN_OPENED, NULL);
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
		conn_close_flush(c, "closed by peer");
	} else if (what & BEV_EVENT_TIMEOUT) {
		if (!c->established) {
			h->stats.timeouts_connect++;
			h->stats.dial_failures++;
			conn_close(c, "connect timeout");
		} else {
			conn_fail(c, &h->stats.timeouts_write, "write timeout: peer is not reading");
		}
	} else if ((what & BEV_EVENT_ERROR) && c->secure) {
		/* A wrong key, no key, no TLS at all, or the far end refused
		 * ours (in TLS 1.3 a dialler hears that just after its side of
		 * the handshake is done, so the first second counts too). */
		tls_failure(c->bev, &c->tls, reason, sizeof(reason));
		if (!c->established)
			h->stats.dial_failures++;
		if (!c->handshaken || !c->established || c->bytes_in == 0)
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

	(void)fd;
	(void)what;
	if (c->secure && !c->handshaken) {
		if (!c->inbound) {
			h->stats.timeouts_connect++;
			h->stats.dial_failures++;
		}
		tls_refused(c, "TLS handshake not finished within the connect timeout");
	} else if (c->partial) {
		conn_fail(c, &h->stats.timeouts_frame, "frame timeout: a frame was not completed in %g s",
		          h->cfg.t_frame);
	} else {
		conn_fail(c, &h->stats.timeouts_idle, "idle timeout: no frame in %g s", h->cfg.t_idle);
	}
}

static int protocol_of(struct mp2p_host *in, const char *protocol, const char **out)
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

static int queue_frame(struct conn *c, struct mp2p_host *in, const char *protocol,
                       const char *type, const void *payload, size_t len)
{
	struct host *h = c->h;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t hdr[MP2P_FRAME_HEADER];
	struct evbuffer_iovec v;
	const char *proto;

	if (c->dead || c->closing || type == NULL || (payload == NULL && len > 0))
		return -1;
	if (protocol_of(in, protocol, &proto) < 0) {
		log_msg(HLOG_WARN, "%s: cannot send for protocol '%s': not one of its own", in->name, protocol);
		return -1;
	}
	if (len > (size_t)h->cfg.max_frame) {
		log_msg(HLOG_WARN, "%s: refused to send a %zu-byte frame: over max_frame", in->name, len);
		return -1;
	}
	if (evbuffer_get_length(out) + MP2P_FRAME_HEADER + len > (size_t)h->cfg.max_output) {
		h->stats.output_overflow++;
		conn_fail(c, NULL, "output over max_output (%ld bytes): peer is not reading",
		          h->cfg.max_output);
		return -1;
	}
	/* Header and payload go into one reserved run of the output buffer:
	 * one copy each, no second buffer operation per frame. */
	if (evbuffer_reserve_space(out, (ev_ssize_t)(sizeof(hdr) + len), &v, 1) < 1 ||
	    v.iov_len < sizeof(hdr) + len)
		return -1;
	frame_header_write(v.iov_base, proto, type, (uint32_t)len);
	if (len > 0)
		memcpy((uint8_t *)v.iov_base + sizeof(hdr), payload, len);
	v.iov_len = sizeof(hdr) + len;
	if (evbuffer_commit_space(out, &v, 1) < 0)
		return -1;
	c->users |= 1ull << in->slot;
	c->bytes_out += sizeof(hdr) + len;
	h->stats.frames_out++;
	h->stats.bytes_out += sizeof(hdr) + len;
	in->frames_out++;
	in->bytes_out += sizeof(hdr) + len;
	return 0;
}

int conn_send(struct host *h, struct mp2p_host *in, uint64_t id, const char *protocol,
              const char *type, const void *payload, size_t len)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL)
		return -1;
	return queue_frame(c, in, protocol, type, payload, len);
}

static struct conn *dial(struct host *h, struct mp2p_host *in, const struct sockaddr *sa, int salen,
                         int secure, const char *expect_peer)
{
	struct conn *c;

	if (h->nconns >= h->cfg.max_connections) {
		h->stats.refused_limit++;
		log_msg(HLOG_WARN, "%s: cannot dial: max_connections reached", in->name);
		return NULL;
	}
	if ((c = conn_new(h, -1, sa, secure, 0, expect_peer)) == NULL)
		return NULL;
	c->dialer = in->slot;
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
	if (c->tls.verified[0] != '\0')
		return strcmp(c->tls.verified, expect_peer) == 0;
	return strcmp(c->tls.expected, expect_peer) == 0;
}

int conn_send_to(struct host *h, struct mp2p_host *in, const char *addr, const char *protocol,
                 const char *type, const void *payload, size_t len, unsigned flags,
                 const char *expect_peer, uint64_t *id_out)
{
	int mode = h->cfg.security_mode;
	int secure = mode == SEC_TLS || (mode == SEC_MIXED && !(flags & MP2P_SEND_PLAINTEXT));
	struct sockaddr_storage ss;
	char canon[64];
	uint64_t key;
	struct conn *c;
	int salen;

	if (addr_parse(addr, &ss, &salen) < 0) {
		log_msg(HLOG_DEBUG, "%s: cannot send to '%s': not a numeric ADDR:PORT", in->name, addr);
		return -1;
	}
	if ((flags & MP2P_SEND_PLAINTEXT) && mode == SEC_TLS) {
		log_msg(HLOG_DEBUG, "%s: cannot send to %s in plaintext: host.security.mode is \"tls\"",
		        in->name, addr);
		return -1;
	}
	if (expect_peer != NULL && (!secure || !peer_id_valid(expect_peer))) {
		log_msg(HLOG_DEBUG, "%s: cannot send to %s expecting a peer id: %s", in->name, addr,
		        secure ? "not a peer id" : "the connection would be plaintext");
		return -1;
	}
	addr_format((struct sockaddr *)&ss, canon, sizeof(canon));
	key = hash_bytes(canon, strlen(canon));
	if (!(flags & MP2P_SEND_ONESHOT)) {
		c = idmap_get(&h->conn_by_dial, key);
		if (c != NULL && !c->dead && !c->closing && strcmp(c->peer, canon) == 0 &&
		    reusable_for(c, expect_peer)) {
			if (queue_frame(c, in, protocol, type, payload, len) < 0)
				return -1;
			if (id_out)
				*id_out = c->id;
			return 0;
		}
	}
	if ((c = dial(h, in, (struct sockaddr *)&ss, salen, secure, expect_peer)) == NULL)
		return -1;
	if (flags & MP2P_SEND_ONESHOT) {
		c->oneshot = 1;
	} else {
		c->dial_key = key;
		idmap_put(&h->conn_by_dial, key, c);
	}
	if (queue_frame(c, in, protocol, type, payload, len) < 0) {
		conn_close(c, "frame refused");
		return -1;
	}
	if (id_out)
		*id_out = c->id;
	return 0;
}

int conn_close_id(struct host *h, uint64_t id, int flush, const char *reason)
{
	struct conn *c = conn_find(h, id);

	if (c == NULL)
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
	full.bytes_out = c->bytes_out;
	full.opened = c->opened;
	full.tls = c->secure;
	full.authenticated = c->secure && c->handshaken && c->tls.verified[0] != '\0';
	if (full.authenticated)
		memcpy(full.peer_id, c->tls.verified, sizeof(full.peer_id));
	memcpy(info, &full, full.size);
	return 0;
}

void conn_forget_slot(struct host *h, int slot)
{
	for (struct conn *c = h->conns; c != NULL; c = c->next) {
		c->users &= ~(1ull << slot);
		if (c->dialer == slot)
			c->dialer = -1;
	}
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
			if ((c->users & (1ull << i)) && h->slots[i] != NULL && off < sizeof(users)) {
				int w = snprintf(users + off, sizeof(users) - off, "%s%s", off ? "," : "",
				                 h->slots[i]->name);
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
		reply_int(r, "bytes_out", (long long)c->bytes_out);
		reply_float(r, "age", now - c->opened);
		reply_str(r, "plugins", users);
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

/* daemon_io.c -- the daemon's side of the seam: the core's connections are
 * conn.c's sockets, its clocks the system's, its timers and watches
 * libevent events on the host's loop, its checkpoints files in state_dir. */
#include "config.h"
#include "host.h"

#include <math.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

double host_now(struct host *h)
{
	struct timespec ts;

	(void)h;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double io_now(struct core *c) { return host_now(host_of(c)); }

static double io_wall_now(struct core *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void io_random_bytes(struct core *c, void *buf, size_t len)
{
	unsigned char *p = buf;

	(void)c;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0)
			continue;   /* only EINTR is possible here; the pool is ready after boot */
		p += n;
		len -= (size_t)n;
	}
}

/* --- connections: conn.c's own functions ----------------------------- */

static int io_send(struct core *c, struct mp2p_host *in, uint64_t id, const char *protocol,
                   const char *type, const void *payload, size_t len, unsigned flags)
{
	return conn_send(host_of(c), in, id, protocol, type, payload, len, flags);
}

static int io_send_to(struct core *c, struct mp2p_host *in, const char *addr, uint64_t claimed_on,
                      const char *protocol, const char *type, const void *payload, size_t len,
                      unsigned flags, const char *expect_peer, uint64_t *id_out)
{
	return conn_send_to(host_of(c), in, addr, claimed_on, protocol, type, payload, len, flags,
	                    expect_peer, id_out);
}

static int io_close(struct core *c, struct mp2p_host *in, uint64_t id, int flush,
                    const char *reason)
{
	return conn_close_id(host_of(c), in, id, flush, reason);
}

static int64_t io_pending(struct core *c, uint64_t id)
{
	return conn_pending(host_of(c), id);
}

static int io_set_low_water(struct core *c, struct mp2p_host *in, uint64_t id, size_t low)
{
	return conn_set_low_water(host_of(c), in, id, low);
}

static int io_conn_info(struct core *c, uint64_t id, struct mp2p_conn_info *info)
{
	return conn_info(host_of(c), id, info);
}

static void io_forget_slot(struct core *c, int slot)
{
	conn_forget_slot(host_of(c), slot);
}

/* --- timers and watches on the loop ---------------------------------- */

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	timer_fire(arg);
}

static int io_timer_open(struct core *c, struct mp2p_timer *t)
{
	t->io = evtimer_new(host_of(c)->base, timer_cb, t);
	return t->io == NULL ? -1 : 0;
}

static void io_timer_arm(struct core *c, struct mp2p_timer *t, double seconds)
{
	struct timeval tv;

	(void)c;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - floor(seconds)) * 1e6);
	event_add(t->io, &tv);
}

static void io_timer_disarm(struct core *c, struct mp2p_timer *t)
{
	(void)c;
	event_del(t->io);
}

static void io_timer_close(struct core *c, struct mp2p_timer *t)
{
	(void)c;
	event_free(t->io);
	t->io = NULL;
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned events = 0;

	(void)fd;
	if (what & EV_READ)
		events |= MP2P_WATCH_READ;
	if (what & EV_WRITE)
		events |= MP2P_WATCH_WRITE;
	watch_ready(arg, events);
}

static void io_watch_close(struct core *c, struct mp2p_watch *w)
{
	(void)c;
	if (w->io != NULL)
		event_free(w->io);
	w->io = NULL;
}

static int io_watch_arm(struct core *c, struct mp2p_watch *w, unsigned events)
{
	short what = EV_PERSIST;

	io_watch_close(c, w);
	if (events == 0)
		return 0;
	if (events & MP2P_WATCH_READ)
		what |= EV_READ;
	if (events & MP2P_WATCH_WRITE)
		what |= EV_WRITE;
	w->io = event_new(host_of(c)->base, w->fd, what, watch_cb, w);
	if (w->io == NULL || event_add(w->io, NULL) < 0)
		return -1;
	return 0;
}

static int io_save(struct core *c, struct mp2p_host *in)
{
	return host_save_one(host_of(c), in);
}

static int io_sign(struct core *c, const void *msg, size_t len,
                   uint8_t sig[MP2P_SIGNATURE_LEN], uint8_t pub[MP2P_PUBLIC_KEY_LEN])
{
	return hostkey_sign(host_of(c)->key, msg, len, sig, pub);
}

const struct core_io daemon_io = {
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
	.watch_arm = io_watch_arm,
	.watch_close = io_watch_close,
	.save = io_save,
	.sign = io_sign,
};

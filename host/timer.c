/* timer.c -- plugin timers and file-descriptor watches on the host's loop.
 * The host keeps every one on its instance's list, so whatever a plugin
 * forgets to free is released when the instance goes. */
#include "config.h"
#include "host.h"

#include <math.h>
#include <stdlib.h>

struct mp2p_timer {
	struct mp2p_timer *next, **pprev;
	struct mp2p_host *in;
	struct event *ev;
	void (*fire)(void *);
	void *arg;
	struct timeval every;
	int repeat;
};

struct mp2p_watch {
	struct mp2p_watch *next, **pprev;
	struct mp2p_host *in;
	struct event *ev;
	int fd;
	void (*ready)(void *, int, unsigned);
	void *arg;
};

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mp2p_timer *t = arg;

	(void)fd;
	(void)what;
	if (t->in->state != INST_RUNNING)
		return;
	/* A repeating timer is re-armed first, so fire() may stop or free it. */
	if (t->repeat)
		event_add(t->ev, &t->every);
	t->fire(t->arg);
}

mp2p_timer *timer_new(mp2p_host *in, void (*fire)(void *), void *arg)
{
	struct mp2p_timer *t;

	if (fire == NULL || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ev = evtimer_new(in->host->base, timer_cb, t);
	if (t->ev == NULL) {
		free(t);
		return NULL;
	}
	t->in = in;
	t->fire = fire;
	t->arg = arg;
	t->next = in->timers;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &in->timers;
	in->timers = t;
	return t;
}

void timer_start(mp2p_host *in, mp2p_timer *t, double seconds, unsigned flags)
{
	(void)in;
	if (t == NULL)
		return;
	if (!(seconds >= 0.0) || seconds > 1e9)
		seconds = 0.0;
	t->every.tv_sec = (time_t)seconds;
	t->every.tv_usec = (suseconds_t)((seconds - floor(seconds)) * 1e6);
	t->repeat = (flags & MP2P_TIMER_REPEAT) != 0;
	event_add(t->ev, &t->every);
}

void timer_stop(mp2p_host *in, mp2p_timer *t)
{
	(void)in;
	if (t != NULL)
		event_del(t->ev);
}

void timer_free(mp2p_host *in, mp2p_timer *t)
{
	(void)in;
	if (t == NULL)
		return;
	event_free(t->ev);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	free(t);
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mp2p_watch *w = arg;
	unsigned events = 0;

	if (w->in->state != INST_RUNNING)
		return;
	if (what & EV_READ)
		events |= MP2P_WATCH_READ;
	if (what & EV_WRITE)
		events |= MP2P_WATCH_WRITE;
	w->ready(w->arg, (int)fd, events);
}

static int watch_arm(struct mp2p_watch *w, unsigned events)
{
	short what = EV_PERSIST;

	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (events == 0)
		return 0;
	if (events & MP2P_WATCH_READ)
		what |= EV_READ;
	if (events & MP2P_WATCH_WRITE)
		what |= EV_WRITE;
	w->ev = event_new(w->in->host->base, w->fd, what, watch_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) < 0)
		return -1;
	return 0;
}

mp2p_watch *watch_new(mp2p_host *in, int fd, unsigned events,
                      void (*ready)(void *, int, unsigned), void *arg)
{
	struct mp2p_watch *w;

	if (fd < 0 || ready == NULL || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->in = in;
	w->fd = fd;
	w->ready = ready;
	w->arg = arg;
	if (watch_arm(w, events) < 0) {
		if (w->ev)
			event_free(w->ev);
		free(w);
		return NULL;
	}
	w->next = in->watches;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &in->watches;
	in->watches = w;
	return w;
}

int watch_set(mp2p_host *in, mp2p_watch *w, unsigned events)
{
	(void)in;
	return w ? watch_arm(w, events) : -1;
}

void watch_free(mp2p_host *in, mp2p_watch *w)
{
	(void)in;
	if (w == NULL)
		return;
	if (w->ev)
		event_free(w->ev);
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	free(w);
}

void timers_release(struct mp2p_host *in)
{
	while (in->timers != NULL)
		timer_free(in, in->timers);
	while (in->watches != NULL)
		watch_free(in, in->watches);
}

/* After stop(): nothing fires, but the handles stay valid, because the
 * plugin may still free them in destroy(). */
void timers_pause(struct mp2p_host *in)
{
	for (struct mp2p_timer *t = in->timers; t != NULL; t = t->next)
		event_del(t->ev);
	for (struct mp2p_watch *w = in->watches; w != NULL; w = w->next)
		if (w->ev)
			event_del(w->ev);
}

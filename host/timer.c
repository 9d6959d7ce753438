/* timer.c -- plugin timers and file-descriptor watches. The core keeps
 * every one on its instance's list, so whatever a plugin forgets to free is
 * released when the instance goes; the front end (core_io) makes them fire:
 * libevent in the daemon, the event queue in the simulator. */
#include "config.h"
#include "core.h"

#include <stdlib.h>

void timer_fire(struct mp2p_timer *t)
{
	struct core *c = t->in->core;

	if (t->in->state != INST_RUNNING)
		return;
	/* A repeating timer is re-armed first, so fire() may stop or free it. */
	if (t->repeat)
		c->io->timer_arm(c, t, t->every);
	t->fire(t->arg);
}

mp2p_timer *timer_new(mp2p_host *in, void (*fire)(void *), void *arg)
{
	struct mp2p_timer *t;

	if (fire == NULL || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->in = in;
	t->fire = fire;
	t->arg = arg;
	if (in->core->io->timer_open(in->core, t) < 0) {
		free(t);
		return NULL;
	}
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
	t->every = seconds;
	t->repeat = (flags & MP2P_TIMER_REPEAT) != 0;
	t->in->core->io->timer_arm(t->in->core, t, seconds);
}

void timer_stop(mp2p_host *in, mp2p_timer *t)
{
	(void)in;
	if (t != NULL)
		t->in->core->io->timer_disarm(t->in->core, t);
}

void timer_free(mp2p_host *in, mp2p_timer *t)
{
	(void)in;
	if (t == NULL)
		return;
	t->in->core->io->timer_close(t->in->core, t);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	free(t);
}

void watch_ready(struct mp2p_watch *w, unsigned events)
{
	if (w->in->state != INST_RUNNING)
		return;
	w->ready(w->arg, w->fd, events);
}

mp2p_watch *watch_new(mp2p_host *in, int fd, unsigned events,
                      void (*ready)(void *, int, unsigned), void *arg)
{
	struct core *c = in->core;
	struct mp2p_watch *w;

	if (fd < 0 || ready == NULL || c->io->watch_arm == NULL ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->in = in;
	w->fd = fd;
	w->ready = ready;
	w->arg = arg;
	if (c->io->watch_arm(c, w, events) < 0) {
		c->io->watch_close(c, w);
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
	return w ? w->in->core->io->watch_arm(w->in->core, w, events) : -1;
}

void watch_free(mp2p_host *in, mp2p_watch *w)
{
	(void)in;
	if (w == NULL)
		return;
	w->in->core->io->watch_close(w->in->core, w);
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
	struct core *c = in->core;

	for (struct mp2p_timer *t = in->timers; t != NULL; t = t->next)
		c->io->timer_disarm(c, t);
	for (struct mp2p_watch *w = in->watches; w != NULL; w = w->next)
		c->io->watch_arm(c, w, 0);
}

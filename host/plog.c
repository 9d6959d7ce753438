/* plog.c -- plugin log lines, rate-limited per instance and per call site.
 *
 * A peer decides how often a plugin's on_frame() or on_conn() runs, so it
 * decides how often the lines they write appear. Each instance therefore
 * keeps, for every reason it logs, the same budget the host keeps for its
 * own lines (log_rated() in log.c): at most one line a second, and the lines
 * held back meanwhile are counted and reported in one summary line.
 *
 * The reason is the call site, and the call site is the format string's
 * address: a plugin build passes the same literal from the same call, and
 * that literal lives in the module until the module is unloaded, which is
 * after this instance's table is released (instance_destroy()). The level
 * is part of the key, for wrappers that pass one format at several levels.
 *
 * Two kinds of line are never held back, and plugin.h promises both:
 * debug lines, which the operator asked for one by one by setting
 * log_level = "debug", and lines written while the host is calling one of
 * the instance's life-cycle functions (init, restore_state, start, stop,
 * save_state, destroy), which happen once per event and which the operator
 * needs every one of. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Call sites one instance may have. A plugin that logs with formats it
 * builds at run time (not literals) would otherwise grow the table without
 * end; past this many, every new site shares one last entry. */
#define PLOG_SITES 64

/* A summary quotes the call site's format, at most this much of it. */
#define PLOG_QUOTE 200

struct plog_site {
	const char *fmt;             /* the key, by address; NULL: the shared entry */
	int level;
	double last;                 /* when a line of this site was last written */
	uint64_t held;               /* lines held back since then */
};

struct plog {
	struct plog_site sites[PLOG_SITES];
	int nsites;
	mp2p_timer *flush;           /* writes the summaries a quiet second later */
	int flush_armed;
};

static struct plog_site *site_of(struct plog *pl, const char *fmt, int level)
{
	struct plog_site *s;

	for (int i = 0; i < pl->nsites; i++)
		if (pl->sites[i].fmt == fmt && pl->sites[i].level == level)
			return &pl->sites[i];
	if (pl->nsites == PLOG_SITES) {
		/* Full: the last entry becomes the shared one, level and all. */
		s = &pl->sites[PLOG_SITES - 1];
		s->fmt = NULL;
		return s;
	}
	s = &pl->sites[pl->nsites++];
	s->fmt = fmt;
	s->level = level;
	return s;
}

/* "N similar lines suppressed", naming the reason by its format, so the
 * operator sees what was held back without the peer's text. */
static void summary(struct mp2p_host *in, struct plog_site *s, double now)
{
	if (s->held == 0)
		return;
	if (s->fmt != NULL)
		log_msg(s->level, "%s: %llu similar lines suppressed in the last %.1f s: \"%.*s\"",
		        in->name, (unsigned long long)s->held, now - s->last, PLOG_QUOTE, s->fmt);
	else
		log_msg(s->level, "%s: %llu similar lines suppressed in the last %.1f s "
		        "(from call sites past the first %d)", in->name,
		        (unsigned long long)s->held, now - s->last, PLOG_SITES - 1);
	s->held = 0;
	s->last = now;
}

/* A second after the first line held back, its summary is written even if
 * no further line of that reason comes to carry it. Sites still within
 * their second wait for the next round. */
static void on_flush(void *arg)
{
	struct mp2p_host *in = arg;
	struct plog *pl = in->plog;
	double now = in->core->io->now(in->core), next = 0;

	if (pl == NULL)
		return;
	pl->flush_armed = 0;
	for (int i = 0; i < pl->nsites; i++) {
		struct plog_site *s = &pl->sites[i];
		if (s->held == 0)
			continue;
		if (now - s->last >= 1.0)
			summary(in, s, now);
		else if (next == 0 || s->last + 1.0 - now < next)
			next = s->last + 1.0 - now;
	}
	if (next > 0) {
		timer_start(in, pl->flush, next, 0);
		pl->flush_armed = 1;
	}
}

static void arm_flush(struct mp2p_host *in, struct plog_site *s, double now)
{
	struct plog *pl = in->plog;

	if (pl->flush_armed)
		return;
	if (pl->flush == NULL && (pl->flush = timer_new(in, on_flush, in)) == NULL)
		return;   /* the summary then rides on the next line, or destroy */
	timer_start(in, pl->flush, s->last + 1.0 - now, 0);
	pl->flush_armed = 1;
}

void plog_vlog(struct mp2p_host *in, int level, const char *fmt, va_list ap)
{
	struct plog_site *s;
	double now;

	if (level > log_level)
		return;
	if (level < HLOG_ERR)
		level = HLOG_ERR;
	if (level >= HLOG_DEBUG || in->lifecycle > 0 || fmt == NULL) {
		log_vmsg(level, in->name, fmt ? fmt : "(null)", ap);
		return;
	}
	if (in->plog == NULL && (in->plog = calloc(1, sizeof(*in->plog))) == NULL) {
		log_vmsg(level, in->name, fmt, ap);
		return;
	}
	s = site_of(in->plog, fmt, level);
	now = in->core->io->now(in->core);
	if (s->last != 0 && now - s->last < 1.0) {
		s->held++;
		arm_flush(in, s, now);
		return;
	}
	summary(in, s, now);
	log_vmsg(level, in->name, fmt, ap);
	s->last = now;
}

/* Before the module goes: what is still held is said now, while the
 * formats it quotes are still mapped. The flush timer is left on the
 * instance's list, which timers_release() empties (on a failed init it
 * may have done so already), and finds no table if it fires before. */
void plog_release(struct mp2p_host *in)
{
	struct plog *pl = in->plog;

	if (pl == NULL)
		return;
	for (int i = 0; i < pl->nsites; i++)
		summary(in, &pl->sites[i], in->core->io->now(in->core));
	free(pl);
	in->plog = NULL;
}

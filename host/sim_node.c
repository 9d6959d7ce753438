/* sim_node.c -- one simulated host: a core (core.h) running one instance of
 * each of the scenario's plugins, from the copies of the plugin files that
 * every node shares, with its own random stream and address.
 *
 * Files: a simulated node has no state_dir (state_dir() is NULL; the
 * shipped plugins then keep everything in memory) and checkpoint() is
 * refused. A restart after a crash is therefore a cold start, as a daemon
 * whose state_dir was lost: new instances, no saved state, node ids drawn
 * afresh from the node's stream.
 *
 * A crash is SIGKILL: no plugin's stop() runs and nothing is said on the
 * wire beyond the resets the far ends see. The instances' memory is freed
 * with destroy(), but each struct mp2p_host is kept, stopped, until the
 * run ends: a plugin that kept one (deferred work, say) and calls the API
 * with it is answered as the daemon answers a stopped instance, never with
 * freed memory. */
#include "config.h"
#include "sim_engine.h"

#include <stdlib.h>
#include <string.h>

/* Stream numbers: the network's are 1 and 2 (sim_main.c); node i's is
 * SIM_STREAM_NODE + i, so adding nodes never shifts another's stream. */
#define SIM_STREAM_NODE 1000

struct sim_node *sim_node_new(struct sim *s, long index)
{
	struct sim_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->sim = s;
	n->index = index;
	n->core.io = &sim_io;
	n->core.cfg = &s->sc->host;
	snprintf(n->id, sizeof(n->id), "sim-%ld", index);
	sim_node_addr(index, n->addr, sizeof(n->addr));
	n->core.id = n->id;
	n->core.advertise = n->addr;
	n->core.peer_id = "";
	sim_rng_seed(&n->rng, s->sc->seed, SIM_STREAM_NODE + (uint64_t)index);
	sim_event_init(&n->churn, NULL);
	/* Bootstrap from up to SIM_BOOTSTRAP distinct earlier nodes, drawn
	 * from this node's stream: node 0 knows nobody and everyone finds it. */
	for (int k = 0; k < SIM_BOOTSTRAP; k++) {
		n->boot[k] = -1;
		if (index > k) {
			long pick;
			int dup;
			do {
				pick = (long)sim_rng_below(&n->rng, (uint64_t)index);
				dup = 0;
				for (int j = 0; j < k; j++)
					dup |= n->boot[j] == pick;
			} while (dup);
			n->boot[k] = pick;
		}
	}
	return n;
}

int sim_node_start(struct sim_node *n, struct diag *errs)
{
	const struct host_config *c = n->core.cfg;
	char addrs[SIM_BOOTSTRAP][24];
	const char *list[SIM_BOOTSTRAP];
	struct config_override over;
	int nboot = 0, before = errs->count;

	for (int k = 0; k < SIM_BOOTSTRAP; k++) {
		if (n->boot[k] < 0)
			continue;
		sim_node_addr(n->boot[k], addrs[nboot], sizeof(addrs[nboot]));
		list[nboot] = addrs[nboot];
		nboot++;
	}
	over.key = "bootstrap";
	over.list = list;
	over.n = nboot;
	for (int i = 0; i < c->nplugins; i++) {
		/* A scenario that writes a plugin's `bootstrap` itself (a dead
		 * address, one node everyone joins through) gets it on every node,
		 * as written, in place of the earlier nodes. */
		const config_setting_t *pc = c->plugins[i].config;
		int own = pc != NULL && config_setting_get_member(pc, "bootstrap") != NULL;
		struct mp2p_host *in = instance_create_from(&n->core, c, &c->plugins[i],
		                                            n->sim->mods[i], own ? NULL : &over,
		                                            own ? 0 : 1, errs);
		if (in == NULL)
			return -1;
		in->slot = i;
		n->core.slots[i] = in;
	}
	if (routes_build(&n->core, n->core.slots, MAX_INSTANCES, errs) < 0)
		return -1;
	n->up = 1;
	for (int i = 0; i < c->nplugins; i++)
		if (n->core.slots[i] != NULL && instance_start(n->core.slots[i], errs) < 0)
			return -1;
	return errs->count > before ? -1 : 0;
}

static void keep_zombie(struct sim *s, struct mp2p_host *in)
{
	if (s->nzombies == s->capzombies) {
		size_t cap = s->capzombies ? 2 * s->capzombies : 64;
		struct mp2p_host **z = realloc(s->zombies, cap * sizeof(*z));
		if (z == NULL) {
			/* Nothing can reach it but a plugin's stale pointer; better a
			 * leak than a use after free. */
			return;
		}
		s->zombies = z;
		s->capzombies = cap;
	}
	s->zombies[s->nzombies++] = in;
}

/* SIGKILL for one instance: no stop(), its timers and services gone, its
 * deferred replies answered with an error, its memory freed by destroy().
 * The handle stays, stopped. */
static void instance_kill(struct sim_node *n, struct mp2p_host *in)
{
	in->state = INST_STOPPED;
	in->stop_called = 1;
	timers_pause(in);
	services_release(&n->core, in);
	reply_abandon_owner(in);
	if (in->self != NULL)
		in->mod->desc.destroy(in->self);
	in->self = NULL;
	timers_release(in);
	if (in->slot >= 0 && n->core.slots[in->slot] == in)
		n->core.slots[in->slot] = NULL;
	keep_zombie(n->sim, in);
}

void sim_node_crash(struct sim_node *n)
{
	if (!n->up)
		return;
	n->up = 0;
	n->sim->crashes++;
	/* The wire first: the instances must hear nothing of their own
	 * connections closing, as a killed process hears nothing. */
	sim_net_crash(n);
	for (int i = MAX_INSTANCES - 1; i >= 0; i--)
		if (n->core.slots[i] != NULL)
			instance_kill(n, n->core.slots[i]);
	free(n->core.routes);
	n->core.routes = NULL;
	n->core.nroutes = 0;
	services_free(&n->core);
}

/* --- churn ------------------------------------------------------------------ */

static void churn_fire(struct sim_event *ev)
{
	struct sim_node *n = (struct sim_node *)(void *)((char *)ev - offsetof(struct sim_node, churn));
	struct sim *s = n->sim;
	struct diag errs = { 0 };

	if (n->up) {
		sim_node_crash(n);
		sim_queue_push(&s->q, &n->churn, s->q.now + sim_dist_sample(&s->sc->down, &n->rng));
		return;
	}
	s->restarts++;
	if (sim_node_start(n, &errs) < 0) {
		diag_print(&errs, HLOG_WARN);
		sim_node_crash(n);
	}
	diag_clear(&errs);
	sim_queue_push(&s->q, &n->churn, s->q.now + sim_dist_sample(&s->sc->session, &n->rng));
}

/* A node joining after the start: a failure to start is logged and the
 * node stays down, as a host that would not start stays down. */
static void join_fire(struct sim_event *ev)
{
	struct sim_node *n = (struct sim_node *)(void *)((char *)ev - offsetof(struct sim_node, churn));
	struct diag errs = { 0 };

	if (sim_node_start(n, &errs) < 0) {
		diag_print(&errs, HLOG_WARN);
		sim_node_crash(n);
	}
	diag_clear(&errs);
	sim_node_churn_begin(n);
}

void sim_node_join_at(struct sim_node *n, double at)
{
	n->churn.fire = join_fire;
	sim_queue_push(&n->sim->q, &n->churn, at);
}

void sim_node_churn_begin(struct sim_node *n)
{
	const struct sim_scenario *sc = n->sim->sc;

	double now = n->sim->q.now, start = sc->churn_start > now ? sc->churn_start : now;

	if (!sc->churn)
		return;
	n->churn.fire = churn_fire;
	/* A node that joins after churn began starts its first session then. */
	sim_queue_push(&n->sim->q, &n->churn, start + sim_dist_sample(&sc->session, &n->rng));
}

/* At the end of a run, the way the daemon ends: every instance stopped
 * and destroyed (stop() may still send; the network takes it). */
void sim_node_shutdown(struct sim_node *n)
{
	sim_queue_remove(&n->sim->q, &n->churn);
	for (int i = MAX_INSTANCES - 1; i >= 0; i--)
		if (n->core.slots[i] != NULL && n->core.slots[i]->state == INST_RUNNING)
			instance_stop_begin(n->core.slots[i], MP2P_STOP_SHUTDOWN);
	for (int i = MAX_INSTANCES - 1; i >= 0; i--)
		if (n->core.slots[i] != NULL)
			instance_stop_end(n->core.slots[i]);
	sim_net_crash(n);
	for (int i = MAX_INSTANCES - 1; i >= 0; i--)
		if (n->core.slots[i] != NULL)
			instance_destroy(n->core.slots[i]);
	n->up = 0;
}

/* After every node's shutdown and sim_zombies_free(): a stopped
 * instance's handle points at its node until then. */
void sim_node_free(struct sim_node *n)
{
	if (n == NULL)
		return;
	free(n->core.routes);
	services_free(&n->core);
	counters_free(&n->core);
	free(n);
}

void sim_zombies_free(struct sim *s)
{
	for (size_t i = 0; i < s->nzombies; i++)
		instance_destroy(s->zombies[i]);
	free(s->zombies);
	s->zombies = NULL;
	s->nzombies = s->capzombies = 0;
}

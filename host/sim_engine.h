/* sim_engine.h -- the simulator's engine: many host cores (core.h) on one
 * virtual network, run by one event queue (sim.h) in virtual time.
 *
 * A node is a core and little else: the plugin files are loaded once and
 * shared, the configuration is the scenario's, and a node's own values
 * (its address, its bootstrap list) are made when it starts. The network
 * (sim_net.c) carries frames between nodes' connections with latency,
 * bandwidth and the daemon's limits and timeouts; the nodes (sim_node.c)
 * start, crash and restart under churn; sim_main.c runs the workload. */
#ifndef MP2P_SIM_ENGINE_H
#define MP2P_SIM_ENGINE_H

#include "sim.h"

/* The port every simulated node listens on; node i's IP is sim_node_ip(i). */
#define SIM_PORT 4000
/* Virtual time 0 on the wall clock plugins see (wall_now()): a fixed date,
 * so no run depends on when it ran. 2026-01-01T00:00:00Z. */
#define SIM_EPOCH 1767225600.0
/* How many earlier nodes a new node bootstraps from. */
#define SIM_BOOTSTRAP 3

struct sim_end;
struct sim_node;

/* The whole simulation. One per process. */
struct sim {
	const struct sim_scenario *sc;
	struct sim_queue q;
	struct sim_rng net_rng;          /* latencies and dial failures */
	struct sim_rng work_rng;         /* which node runs a workload command */
	struct module **mods;            /* one loaded copy per plugins[] entry */
	char *scratch;                   /* where the loader keeps those copies */
	struct sim_node **nodes;
	long nnodes;
	struct idmap ends;               /* connection id -> struct sim_end */
	struct idmap dials;              /* (node, peer) -> the end send_to() reuses */
	struct idmap per_ip;             /* (node, peer) -> inbound connections from it */
	uint64_t next_conn_id;
	/* The idle and first-frame timeouts: each is the same span for every
	 * connection, so one list per timeout, oldest first, and one queued
	 * event for its head (sim_net.c). */
	struct sim_end *idle_head, *idle_tail, *first_head, *first_tail;
	struct sim_event idle_ev, first_ev;
	struct sim_output *trace;        /* network.trace: where each frame sent is written */
	struct mp2p_host **zombies;      /* instances churn killed, kept for stale pointers */
	size_t nzombies, capzombies;
	/* The run's totals, in summary.json's "network" object. The refusals
	 * carry the daemon's names for the same limits (conn.c, dial.c). */
	uint64_t frames, ndials, dial_failures, crashes, restarts;
	uint64_t refused_per_ip, refused_max_inbound, evicted_silent, dial_refused_outbound;
};

/* A node: one core, its rng stream, its connections and its churn. */
struct sim_node {
	struct core core;                /* first: node_of() */
	struct sim *sim;
	long index;
	int up;
	struct sim_rng rng;              /* random_bytes() and its churn times */
	struct sim_end *ends;            /* its open connection ends */
	long nin, nout;
	uint64_t bytes_in, bytes_out;
	double uplink_free;              /* when its uplink has sent what is queued */
	long boot[SIM_BOOTSTRAP];        /* the nodes it bootstraps from; -1: none */
	struct sim_event churn;          /* its next crash or restart */
	char id[16];
	char addr[24];
};

static inline struct sim_node *node_of(struct core *core)
{
	return (struct sim_node *)(void *)core;
}

/* sim_net.c */
extern const struct core_io sim_io;
/* Before the first node starts. */
void sim_net_init(struct sim *s);
/* Node i's address "127.X.Y.Z:4000", in `out` (24 bytes), and back: the
 * node an address names, or -1 for any address that is not a node's. */
void sim_node_addr(long i, char *out, size_t size);
long sim_addr_node(const struct sim *s, const char *addr);
/* The node crashed: every connection end it had is gone without a word to
 * its own instances; the far ends hear a reset after the one-way delay. */
void sim_net_crash(struct sim_node *n);
long sim_net_conns(const struct sim_node *n);
void sim_net_free(struct sim *s);

/* sim_node.c */
struct sim_node *sim_node_new(struct sim *s, long index);
/* Starts the node's plugin instances (a fresh start: no saved state). */
int sim_node_start(struct sim_node *n, struct diag *errs);
/* A crash, as SIGKILL: no plugin's stop() runs, nothing is saved. */
void sim_node_crash(struct sim_node *n);
/* The end of a run: instances stopped and destroyed as the daemon does. */
void sim_node_shutdown(struct sim_node *n);
/* After every node's shutdown and sim_zombies_free(). */
void sim_node_free(struct sim_node *n);
/* Schedules the node's churn, if the scenario has any. */
void sim_node_churn_begin(struct sim_node *n);
/* Starts the node later, at virtual time `at` (the scenario's join_every),
 * then begins its churn. Until then it is down and nobody's bootstrap. */
void sim_node_join_at(struct sim_node *n, double at);
void sim_zombies_free(struct sim *s);

#endif

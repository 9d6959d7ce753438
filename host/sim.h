/* sim.h -- the simulator's building blocks: randomness, the event queue,
 * the latency model, the scenario file and what a run writes.
 *
 * maybep2psim runs many host cores in one process on a virtual clock. The
 * modules declared here know nothing of hosts or plugins: they are the
 * ground the engine (sim_net.c, sim_node.c, sim_main.c) stands on. Every
 * one of them is deterministic: the same scenario and seed give the same
 * events in the same order and byte-identical output files.
 *
 * Times are virtual seconds as doubles throughout; output files give
 * milliseconds where a person reads latencies. Nothing here blocks or
 * reads a clock. */
#ifndef MP2P_SIM_H
#define MP2P_SIM_H

#include "host.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libconfig.h>

/* sim_rng.c -- deterministic randomness: xoshiro256** seeded through splitmix64.
 * Every node and every model draws from its own stream (seed, stream number), so adding a
 * node or a command never shifts another stream: the same seed gives byte-identical output. */
struct sim_rng { uint64_t s[4]; };
/* Seeds r for stream `stream` of `seed`. Streams of one seed are independent for
 * any practical purpose (splitmix64 of seed and stream mixed, never zero state). */
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_unit(struct sim_rng *r);                 /* [0, 1), 53 random bits */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);  /* [0, n), unbiased; 0 when n is 0 */
void sim_rng_bytes(struct sim_rng *r, void *buf, size_t len);

/* A random duration or value. Parameters per kind, all in seconds for times:
 *   SIM_DIST_CONSTANT     a: the value
 *   SIM_DIST_UNIFORM      a: low, b: high (a <= b); drawn from [a, b)
 *   SIM_DIST_EXPONENTIAL  a: mean (> 0)
 *   SIM_DIST_WEIBULL      a: scale lambda (> 0), b: shape k (> 0); mean is
 *                         lambda * Gamma(1 + 1/k). k < 1 gives the long-tailed
 *                         sessions measured in deployed peer-to-peer networks.
 *   SIM_DIST_LOGNORMAL    a: mean (> 0), b: standard deviation (>= 0) of the
 *                         value itself, not of its logarithm, so an operator
 *                         writes "50 ms +- 25 ms" as a = 0.05, b = 0.025.
 * Samples are never negative. */
enum sim_dist_kind { SIM_DIST_CONSTANT, SIM_DIST_UNIFORM, SIM_DIST_EXPONENTIAL,
                     SIM_DIST_WEIBULL, SIM_DIST_LOGNORMAL };
struct sim_dist { int kind; double a, b; };
double sim_dist_sample(const struct sim_dist *d, struct sim_rng *r);
/* The distribution's mean, for reports and checks. */
double sim_dist_mean(const struct sim_dist *d);
/* "constant", "uniform", ...; NULL for an unknown kind. */
const char *sim_dist_name(int kind);
/* The kind named `name`, or -1. */
int sim_dist_kind_parse(const char *name);

/* sim_queue.c -- the one event queue: a binary min-heap ordered by (time, sequence number),
 * intrusive (the event lives inside its owner: a timer, a frame in flight, a churn step), so
 * 100,000 nodes cost no allocation per event. Ties run in the order they were pushed. The
 * keys live in the heap array beside a pointer to their event, so sifting reads one array. */
struct sim_event {
	size_t slot;                     /* index in the heap; SIM_NOT_QUEUED when not queued */
	void (*fire)(struct sim_event *e);
};
#define SIM_NOT_QUEUED ((size_t)-1)
/* One heap entry: the event's key and the event. */
struct sim_slot {
	double at;                       /* virtual seconds */
	uint64_t seq;                    /* push order, for ties */
	struct sim_event *e;
};
/* The owner sets e->fire and e->slot = SIM_NOT_QUEUED once before the first push
 * (sim_event_init does both); the queue never frees an event. */
struct sim_queue { struct sim_slot *heap; size_t n, cap; uint64_t next_seq; double now; };
void sim_event_init(struct sim_event *e, void (*fire)(struct sim_event *e));
void sim_queue_init(struct sim_queue *q);
/* Releases the heap; events still queued are left as not queued, never freed. */
void sim_queue_free(struct sim_queue *q);
/* Queues e at `at` (a time before q->now runs at q->now: the past is gone).
 * Returns 0, or -1 when the heap cannot grow (e is then not queued). */
int sim_queue_push(struct sim_queue *q, struct sim_event *e, double at); /* re-push moves it */
void sim_queue_remove(struct sim_queue *q, struct sim_event *e);        /* no-op if not queued */
struct sim_event *sim_queue_pop(struct sim_queue *q);                   /* sets q->now; NULL if empty */
/* The time of the earliest event, or -1 when the queue is empty. */
double sim_queue_next_at(const struct sim_queue *q);
/* When e is due, or -1 when it is not queued. */
double sim_event_at(const struct sim_queue *q, const struct sim_event *e);

/* sim_latency.c -- one-way delay between two nodes, and the bandwidth delay. */
enum sim_latency_kind { SIM_LAT_CONSTANT, SIM_LAT_UNIFORM, SIM_LAT_LOGNORMAL, SIM_LAT_MATRIX };
struct sim_latency {
	int kind;
	struct sim_dist dist;            /* RTT in seconds, for the first three kinds */
	int nregions;                    /* SIM_LAT_MATRIX: regions, names and RTTs (seconds) */
	char **regions;
	double *rtt;                     /* nregions x nregions */
	double *weights;                 /* SIM_LAT_MATRIX: share of nodes per region; NULL: equal */
	double jitter;                   /* SIM_LAT_MATRIX: each RTT drawn uniformly within
	                                  * +- jitter x the matrix entry; 0: exact */
};
/* One-way delay from node a to node b (half a sampled RTT). region_of gives each node's region
 * (the scenario assigns nodes to regions round-robin or by weights; see sim_latency_region). */
double sim_latency_one_way(const struct sim_latency *l, int region_a, int region_b, struct sim_rng *r);
/* Node i's region: round-robin over the regions when there are no weights,
 * otherwise the region whose cumulative share of `nodes` covers i, so that the
 * assignment depends on nothing random. 0 for the kinds without regions. */
int sim_latency_region(const struct sim_latency *l, long node, long nodes);
/* Time to push `bytes` through a link of `bandwidth` bytes a second; 0 when unlimited. */
double sim_latency_transfer(double bandwidth, uint64_t bytes);
/* Reads a matrix file into l (kind SIM_LAT_MATRIX). The format, one region per line:
 *     # comment
 *     regions  eu us asia
 *     eu       20  90  250
 *     us       90  15  180
 *     asia    250 180   40
 * RTTs in milliseconds, symmetric, non-negative, finite. Every problem is added to errs as
 * "FILE:LINE: ..." and the function returns -1; l is left empty then. */
int sim_latency_matrix_load(struct sim_latency *l, const char *path, struct diag *errs);
void sim_latency_free(struct sim_latency *l);

/* sim_scenario.c -- the scenario file, checked as strictly as maybep2p.conf (unknown keys, wrong
 * types, out-of-range values: errors naming file, line and setting, through struct diag). */
struct sim_command {
	double at;                       /* first run, virtual seconds */
	double every;                    /* between repeats */
	long repeat;                     /* how many runs */
	long node;                       /* a node index, or -1: a random live node each run */
	int argc;
	char **argv;                     /* control command words; "%i" in a word is replaced by the
	                                  * run's index (0..repeat-1), so puts and gets can pair up */
};
struct sim_scenario {
	char *path;
	config_t lc;                     /* kept alive: plugin config groups point into it */
	long nodes;
	uint64_t seed;
	double duration;                 /* virtual seconds */
	double sample_every;             /* virtual seconds between per-node samples */
	struct host_config host;         /* the optional `host` group: timeouts, limits, max_frame ...
	                                  * parsed by config.c's own code, defaults as the daemon's;
	                                  * plugins[] parsed by config.c's own plugins-list code */
	struct sim_latency latency;
	int nregions_assigned;           /* region of node i = i % latency.nregions unless weights */
	double bandwidth;                /* bytes per second per node, each direction; 0: unlimited */
	double handshake_rtts;           /* RTTs a connect takes before the first byte (1 for TCP) */
	double dial_fail;                /* probability that a dial to a live node fails */
	int trace;                       /* network.trace: every frame sent goes to frames.csv */
	int churn;                       /* 0: nodes never leave */
	struct sim_dist session, down;   /* churn: time up, time down */
	double churn_start;              /* no churn before this virtual time */
	struct sim_command *workload;
	int nworkload;
	double join_every;               /* node i starts at i x join_every virtual seconds, so the
	                                  * network grows as a real one does; 0: all start at 0 */
};
int sim_scenario_load(struct sim_scenario *s, const char *path, struct diag *errs);
void sim_scenario_free(struct sim_scenario *s);
/* The words of run `run` of a command, ready for the control dispatcher: a NULL-terminated
 * array the caller frees with sim_command_words_free(). In each word:
 *     %i            the run's index (0..repeat-1)
 *     %x            64 random hex digits from r (a random node id or key to look up)
 *     %%            a '%'
 *     %sha256:TEXT  (a whole word) the lowercase hex SHA-256 of TEXT after its own
 *                   substitutions, so "kad get --key %sha256:v%i" finds what
 *                   "kad put --immutable v%i" stored, without the scenario knowing keys
 * The parser has refused every other '%' sequence. NULL when out of memory. */
char **sim_command_expand(const struct sim_command *c, long run, struct sim_rng *r);
void sim_command_words_free(char **words);

/* sim_output.c -- what a run leaves in -o DIR. */
struct sim_output;
struct sim_output *sim_output_open(const char *dir, char **error_text);  /* dir NULL: summary only */
void sim_output_result(struct sim_output *o, double at, long node, const char *command, int ok,
                       double latency_ms, int hops, int requests);      /* results.csv */
void sim_output_sample(struct sim_output *o, double at, long node, int up, uint64_t bytes_in,
                       uint64_t bytes_out, long conns, long table_size); /* samples.csv */
/* network.trace: opens frames.csv in the output directory (nothing without one); then
 * sim_output_frame() writes one line per frame a node sends: virtual time, the sending
 * node, the address of the node at the other end, protocol, type and bytes on the wire.
 * A frame is written when it is sent, whether or not its connection ever opens, so a
 * request to a dead node shows when it was made. */
int sim_output_trace_open(struct sim_output *o, char **error_text);
void sim_output_frame(struct sim_output *o, double at, long node, const char *peer,
                      const char *protocol, const char *type, size_t bytes);
/* Adds `value` to the total `name` of `group`: summary.json gets one object per group
 * ("network": the engine's frames, dials and refusals; "counters": the plugins' counters
 * summed over the nodes), names in the order first given. Copies both strings. */
void sim_output_count(struct sim_output *o, const char *group, const char *name, uint64_t value);
/* Writes summary.json and, when gnuplot is on PATH, the PNG plots (lookup latency CDF, success
 * over time, connections per node); prints the one summary line the issue names to `out`. */
int sim_output_finish(struct sim_output *o, const struct sim_scenario *s, double wall_seconds,
                      long peak_rss_kib, FILE *out);
void sim_output_free(struct sim_output *o);

#endif

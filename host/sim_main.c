/* sim_main.c -- maybep2psim: the scenario's nodes started on the virtual
 * network, its workload run through each node's control dispatcher, the
 * nodes sampled, and the results written.
 *
 * Start-up: every node starts at virtual time 0 in index order (or node i
 * at i x join_every, when the scenario says so), and
 * bootstraps from up to SIM_BOOTSTRAP earlier nodes chosen at random from
 * its own stream (node 0 from nobody). Churn, if any, begins at the
 * scenario's churn start. A workload command runs on its named node, or on
 * a random live node drawn from the workload's own stream; a deferred reply
 * becomes a result row when it is finished, or, if its node crashed first,
 * when the crash answers it with an error. */
#include "config.h"
#include "sim_engine.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SIM_STREAM_NET 1
#define SIM_STREAM_WORK 2

static const char usage_text[] =
	"usage: maybep2psim -c SCENARIO.conf [-o DIR]\n"
	"\n"
	"Runs the scenario's nodes, each a maybep2p host core with the scenario's\n"
	"plugins, on a simulated network in virtual time, and the scenario's\n"
	"workload of control commands on them.\n"
	"\n"
	"  -c FILE   the scenario (see etc/sim/*.conf)\n"
	"  -o DIR    write results.csv, samples.csv, summary.json, run.json and,\n"
	"            when gnuplot is installed, the plots into DIR\n"
	"  -h        this help\n"
	"\n"
	"At the end one line: nodes=N commands=N ok=N success=P% p50_ms=X p99_ms=Y\n"
	"The same scenario and seed give byte-identical files in DIR, except\n"
	"run.json, which holds the wall time and peak memory.\n"
	"Exit status: 0 after a run, 1 if the scenario or a plugin failed, 2 on usage.\n";

static struct sim sim;
static struct sim_output *out;

/* --- the workload ---------------------------------------------------------- */

struct job {                       /* one scenario command and its repeats */
	struct sim_event ev;             /* first */
	const struct sim_command *cmd;
	long run;
};

struct asked {                     /* a command waiting for its reply */
	double started;
	long node;
	char *text;
};

static double number_field(const struct mp2p_reply *r, const char *key, double def)
{
	const char *v = reply_lookup(r, key);

	return v != NULL ? strtod(v, NULL) : def;
}

static void record(struct mp2p_reply *r, struct asked *a)
{
	double ms = number_field(r, "ms", (sim.q.now - a->started) * 1000.0);

	sim_output_result(out, a->started, a->node, a->text, reply_status(r) == 0, ms,
	                  (int)number_field(r, "hops", -1), (int)number_field(r, "queries", -1));
}

static void reply_done(struct mp2p_reply *r, void *arg)
{
	struct asked *a = arg;

	record(r, a);
	reply_free(r);
	free(a->text);
	free(a);
}

static long live_node(void)
{
	long start = (long)sim_rng_below(&sim.work_rng, (uint64_t)sim.nnodes);

	for (long k = 0; k < sim.nnodes; k++) {
		long i = (start + k) % sim.nnodes;
		if (sim.nodes[i]->up)
			return i;
	}
	return -1;
}

static void run_command(const struct sim_command *cmd, long run)
{
	char **words = sim_command_expand(cmd, run, &sim.work_rng);
	struct asked *a = calloc(1, sizeof(*a));
	struct mp2p_reply *r = reply_new();
	long node = cmd->node >= 0 ? cmd->node : live_node();
	size_t textlen = 1;
	int argc = 0;

	if (words == NULL || a == NULL || r == NULL) {
		sim_command_words_free(words);
		free(a);
		reply_free(r);
		return;
	}
	while (words[argc] != NULL)
		textlen += strlen(words[argc++]) + 1;
	if ((a->text = malloc(textlen)) != NULL) {
		a->text[0] = '\0';
		for (int i = 0; i < argc; i++) {
			if (i > 0)
				strcat(a->text, " ");
			strcat(a->text, words[i]);
		}
	}
	a->started = sim.q.now;
	a->node = node;
	if (node < 0 || !sim.nodes[node]->up) {
		reply_error(r, "node %ld is down", node);
	} else if (argc == 0 ||
	           core_dispatch(&sim.nodes[node]->core, r, argc, (const char *const *)words) < 0) {
		reply_usage(r, "unknown command '%s': a simulated node runs plugin commands only",
		            argc > 0 ? words[0] : "");
	}
	sim_command_words_free(words);
	if (reply_is_deferred(r)) {
		reply_set_done(r, reply_done, a);
		return;
	}
	reply_done(r, a);
}

static void job_fire(struct sim_event *ev)
{
	struct job *j = (struct job *)(void *)ev;
	long run = j->run++;

	if (j->run < j->cmd->repeat)
		sim_queue_push(&sim.q, &j->ev, j->cmd->at + (double)j->run * j->cmd->every);
	run_command(j->cmd, run);
}

/* --- samples ---------------------------------------------------------------- */

static void reply_drop(struct mp2p_reply *r, void *arg)
{
	(void)arg;
	reply_free(r);
}

/* The routing table's size, as the plugin's `stats` command reports it
 * ("nodes"); -1 when no instance reports one. */
static long table_size(struct sim_node *n)
{
	long size = -1;

	for (int i = 0; i < MAX_INSTANCES && size < 0; i++) {
		struct mp2p_host *in = n->core.slots[i];
		const char *argv[2] = { NULL, "stats" };
		struct mp2p_reply *r;
		if (in == NULL || in->state != INST_RUNNING || in->mod->desc.control == NULL)
			continue;
		if ((r = reply_new()) == NULL)
			break;
		argv[0] = in->name;
		core_dispatch(&n->core, r, 2, argv);
		if (!reply_is_deferred(r)) {
			size = (long)number_field(r, "nodes", -1);
			reply_free(r);
		} else {
			/* Nobody waits for it: let it go when it is done. */
			reply_set_done(r, reply_drop, NULL);
		}
	}
	return size;
}

static struct sim_event sample_ev;

static void sample_fire(struct sim_event *ev)
{
	for (long i = 0; i < sim.nnodes; i++) {
		struct sim_node *n = sim.nodes[i];
		sim_output_sample(out, sim.q.now, i, n->up, n->bytes_in, n->bytes_out,
		                  sim_net_conns(n), n->up ? table_size(n) : 0);
	}
	sim_queue_push(&sim.q, ev, sim.q.now + sim.sc->sample_every);
}

/* --- set-up and tear-down ------------------------------------------------------ */

static int load_modules(const struct sim_scenario *sc)
{
	const char *tmp = getenv("TMPDIR");
	char *error_text = NULL;

	sim.scratch = str_printf("%s/maybep2psim-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (sim.scratch == NULL || mkdtemp(sim.scratch) == NULL) {
		fprintf(stderr, "maybep2psim: cannot make a directory for the plugin copies: %s\n",
		        strerror(errno));
		return -1;
	}
	sim.mods = calloc((size_t)sc->host.nplugins + 1, sizeof(*sim.mods));
	if (sim.mods == NULL)
		return -1;
	for (int i = 0; i < sc->host.nplugins; i++) {
		const struct plugin_conf *pc = &sc->host.plugins[i];
		char *path = plugin_path(&sc->host, pc->file);
		sim.mods[i] = path ? loader_open(path, sim.scratch, &error_text) : NULL;
		free(path);
		if (sim.mods[i] == NULL) {
			fprintf(stderr, "%s:%d: plugin '%s': %s\n", sc->path, pc->line, pc->name,
			        error_text ? error_text : "cannot load");
			free(error_text);
			return -1;
		}
	}
	return 0;
}

static void teardown(const struct sim_scenario *sc)
{
	for (long i = 0; i < sim.nnodes; i++)
		if (sim.nodes[i] != NULL)
			sim_node_shutdown(sim.nodes[i]);
	sim_zombies_free(&sim);
	sim_net_free(&sim);
	for (long i = 0; i < sim.nnodes; i++)
		sim_node_free(sim.nodes[i]);
	free(sim.nodes);
	if (sim.mods != NULL)
		for (int i = 0; i < sc->host.nplugins; i++)
			loader_close(sim.mods[i]);
	free(sim.mods);
	if (sim.scratch != NULL)
		rmdir(sim.scratch);
	free(sim.scratch);
	sim_queue_free(&sim.q);
}

static void add_counter(void *arg, const char *instance, const char *name, uint64_t value)
{
	char key[256];

	(void)arg;
	snprintf(key, sizeof(key), "%s.%s", instance, name);
	sim_output_count(out, "counters", key, value);
}

/* The run's totals, before the shutdown's own frames: the network's, then
 * every plugin counter summed over the nodes (a node churn restarted keeps
 * counting where it left off). summary.json's "network" and "counters". */
static void count_totals(void)
{
	sim_output_count(out, "network", "frames", sim.frames);
	sim_output_count(out, "network", "dials", sim.ndials);
	sim_output_count(out, "network", "dial_failures", sim.dial_failures);
	sim_output_count(out, "network", "dial_refused_outbound", sim.dial_refused_outbound);
	sim_output_count(out, "network", "refused_per_ip", sim.refused_per_ip);
	sim_output_count(out, "network", "refused_max_inbound", sim.refused_max_inbound);
	sim_output_count(out, "network", "evicted_silent", sim.evicted_silent);
	sim_output_count(out, "network", "crashes", sim.crashes);
	sim_output_count(out, "network", "restarts", sim.restarts);
	for (long i = 0; i < sim.nnodes; i++)
		counters_each(&sim.nodes[i]->core, add_counter, NULL);
}

static double wall_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static struct sim_scenario sc;
	const char *scenario = NULL, *dir = NULL;
	struct diag errs = { 0 };
	struct job *jobs = NULL;
	char *error_text = NULL;
	struct rusage ru;
	double began = wall_clock();
	int opt, status = 1;

	while ((opt = getopt(argc, argv, "c:o:h")) != -1) {
		switch (opt) {
		case 'c': scenario = optarg; break;
		case 'o': dir = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (scenario == NULL || optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (sim_scenario_load(&sc, scenario, &errs) < 0) {
		diag_print(&errs, HLOG_ERR);
		diag_clear(&errs);
		sim_scenario_free(&sc);
		return 1;
	}
	log_level = sc.host.log_level;
	if ((out = sim_output_open(dir, &error_text)) == NULL) {
		fprintf(stderr, "maybep2psim: %s\n", error_text ? error_text : "cannot write output");
		free(error_text);
		sim_scenario_free(&sc);
		return 1;
	}
	if (sc.trace && sim_output_trace_open(out, &error_text) < 0) {
		fprintf(stderr, "maybep2psim: %s\n", error_text ? error_text : "cannot write output");
		free(error_text);
		sim_output_free(out);
		sim_scenario_free(&sc);
		return 1;
	}
	sim.trace = sc.trace ? out : NULL;
	sim.sc = &sc;
	sim_queue_init(&sim.q);
	sim_net_init(&sim);
	sim_rng_seed(&sim.net_rng, sc.seed, SIM_STREAM_NET);
	sim_rng_seed(&sim.work_rng, sc.seed, SIM_STREAM_WORK);
	if (load_modules(&sc) < 0)
		goto done;
	sim.nodes = calloc((size_t)sc.nodes, sizeof(*sim.nodes));
	if (sim.nodes == NULL)
		goto done;
	for (long i = 0; i < sc.nodes; i++) {
		if ((sim.nodes[i] = sim_node_new(&sim, i)) == NULL)
			goto done;
		sim.nnodes = i + 1;
	}
	for (long i = 0; i < sim.nnodes; i++) {
		/* Node 0 always starts now, so a scenario a plugin refuses fails at once. */
		if (i > 0 && sc.join_every > 0) {
			sim_node_join_at(sim.nodes[i], (double)i * sc.join_every);
			continue;
		}
		if (sim_node_start(sim.nodes[i], &errs) < 0) {
			diag_print(&errs, HLOG_ERR);
			goto done;
		}
		sim_node_churn_begin(sim.nodes[i]);
	}
	jobs = calloc((size_t)sc.nworkload + 1, sizeof(*jobs));
	if (jobs == NULL)
		goto done;
	for (int i = 0; i < sc.nworkload; i++) {
		jobs[i].cmd = &sc.workload[i];
		sim_event_init(&jobs[i].ev, job_fire);
		if (sc.workload[i].repeat > 0)
			sim_queue_push(&sim.q, &jobs[i].ev, sc.workload[i].at);
	}
	sim_event_init(&sample_ev, sample_fire);
	if (sc.sample_every > 0)
		sim_queue_push(&sim.q, &sample_ev, sc.sample_every);

	/* The run: one event at a time, in (time, order) order, to the end. */
	for (;;) {
		double next = sim_queue_next_at(&sim.q);
		struct sim_event *ev;
		if (next < 0 || next > sc.duration)
			break;
		ev = sim_queue_pop(&sim.q);
		ev->fire(ev);
	}
	status = 0;
	count_totals();
done:
	diag_clear(&errs);
	for (int i = 0; jobs != NULL && i < sc.nworkload; i++)
		sim_queue_remove(&sim.q, &jobs[i].ev);
	sim_queue_remove(&sim.q, &sample_ev);
	teardown(&sc);
	free(jobs);
	getrusage(RUSAGE_SELF, &ru);
	if (status == 0 && sim_output_finish(out, &sc, wall_clock() - began, ru.ru_maxrss,
	                                     stdout) < 0)
		status = 1;
	sim_output_free(out);
	sim_scenario_free(&sc);
	return status;
}

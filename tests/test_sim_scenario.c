/* test_sim_scenario.c -- the simulator's scenario file and region matrix:
 * a full scenario read back field by field, then one test per kind of
 * mistake, each with the exact text and the line it names. */
#include "config.h"
#include "unit.h"
#include "../host/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

/* The smallest valid scenario, to which a test adds or changes one thing. */
#define PLUGINS "plugins = ( { name = \"kad\"; file = \"kademlia.so\"; } );\n"
#define NETWORK "network = { latency = { model = \"constant\"; rtt_ms = 1.0; }; };\n"

static char *load(const char *text, struct sim_scenario *s, char **path_out)
{
	struct diag errs = { 0 };
	char *path = unit_write(dir, "s.conf", text);

	sim_scenario_load(s, path, &errs);
	*path_out = path;
	return unit_diag_text(&errs);
}

/* Exactly one error, the scenario's path followed by `rest`. */
static void expect(const char *text, const char *rest)
{
	struct sim_scenario s;
	char *path, *got = load(text, &s, &path), want[2048];

	snprintf(want, sizeof(want), "%s%s", path, rest);
	UNIT_TEXT_EQUAL(got, want);
	sim_scenario_free(&s);
	free(got);
	free(path);
}

static void test_full(void)
{
	struct sim_scenario s;
	char *path, *got;

	free(unit_write(dir, "m.txt", "# RTTs in ms\nregions eu us\neu 20 90\nus 90 10 # west\n"));
	got = load("nodes = 2000;\nseed = 7;\nduration = 3600.0;\nsample_every = 30;\njoin_every = 0.5;\n"
	           "host = { plugin_dir = \"/opt/p\"; timeouts = { connect = 2.5; }; "
	           "limits = { max_outbound = 64; }; };\n"
	           "plugins = ( { name = \"kad\"; file = \"kademlia.so\"; config = { k = 8; }; } );\n"
	           "network = {\n  latency = { model = \"matrix\"; file = \"m.txt\"; weights = [ 3, 1 ]; "
	           "jitter = 0.1; };\n  bandwidth = 125000; handshake_rtts = 1.5; dial_fail = 0.01;\n"
	           "  trace = true;\n};\n"
	           "churn = { start = 300; session = { dist = \"weibull\"; scale = 1800.0; shape = 0.5; };\n"
	           "  down = { dist = \"exponential\"; mean = 600; }; };\n"
	           "workload = (\n  { at = 60; every = 0.5; repeat = 100; command = \"kad put k%i v%i\"; },\n"
	           "  { at = 200; node = 5; command = [ \"kad\", \"get\", \"k 1\" ]; }\n);\n", &s, &path);
	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_STRING_EQUAL(s.path, path);
	CU_ASSERT_EQUAL(s.nodes, 2000);
	CU_ASSERT_EQUAL(s.seed, 7);
	CU_ASSERT_DOUBLE_EQUAL(s.duration, 3600.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.sample_every, 30.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.join_every, 0.5, 1e-12);
	CU_ASSERT_STRING_EQUAL(s.host.plugin_dir, "/opt/p");
	CU_ASSERT_DOUBLE_EQUAL(s.host.t_connect, 2.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.host.t_idle, 300.0, 1e-12);     /* the daemon's default */
	CU_ASSERT_EQUAL(s.host.max_outbound, 64);
	CU_ASSERT_EQUAL(s.host.max_inbound, 10000);
	CU_ASSERT_EQUAL(s.host.log_level, HLOG_WARN);
	CU_ASSERT_EQUAL(s.host.nplugins, 1);
	CU_ASSERT_STRING_EQUAL(s.host.plugins[0].name, "kad");
	CU_ASSERT_PTR_NOT_NULL(s.host.plugins[0].config);
	CU_ASSERT_EQUAL(s.latency.kind, SIM_LAT_MATRIX);
	CU_ASSERT_EQUAL(s.latency.nregions, 2);
	CU_ASSERT_EQUAL(s.nregions_assigned, 2);
	CU_ASSERT_STRING_EQUAL(s.latency.regions[1], "us");
	CU_ASSERT_DOUBLE_EQUAL(s.latency.rtt[1], 0.090, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.latency.rtt[3], 0.010, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.latency.weights[0], 3.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.latency.jitter, 0.1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.bandwidth, 125000.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.handshake_rtts, 1.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.dial_fail, 0.01, 1e-12);
	CU_ASSERT_EQUAL(s.trace, 1);
	CU_ASSERT_EQUAL(s.churn, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.churn_start, 300.0, 1e-12);
	CU_ASSERT_EQUAL(s.session.kind, SIM_DIST_WEIBULL);
	CU_ASSERT_DOUBLE_EQUAL(s.session.a, 1800.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.session.b, 0.5, 1e-12);
	CU_ASSERT_EQUAL(s.down.kind, SIM_DIST_EXPONENTIAL);
	CU_ASSERT_DOUBLE_EQUAL(s.down.a, 600.0, 1e-12);
	CU_ASSERT_EQUAL_FATAL(s.nworkload, 2);
	CU_ASSERT_EQUAL(s.workload[0].repeat, 100);
	CU_ASSERT_EQUAL(s.workload[0].node, -1);
	CU_ASSERT_DOUBLE_EQUAL(s.workload[0].every, 0.5, 1e-12);
	CU_ASSERT_EQUAL_FATAL(s.workload[0].argc, 4);
	CU_ASSERT_STRING_EQUAL(s.workload[0].argv[2], "k%i");
	CU_ASSERT_PTR_NULL(s.workload[0].argv[4]);
	CU_ASSERT_EQUAL(s.workload[1].node, 5);
	CU_ASSERT_EQUAL(s.workload[1].repeat, 1);
	CU_ASSERT_EQUAL_FATAL(s.workload[1].argc, 3);
	CU_ASSERT_STRING_EQUAL(s.workload[1].argv[2], "k 1");
	sim_scenario_free(&s);
	free(got);
	free(path);
}

static void test_defaults(void)
{
	struct sim_scenario s;
	char *path, *got = load("nodes = 3;\nduration = 10;\n" PLUGINS
	                        "network = { latency = { model = \"lognormal\"; mean_ms = 50; sd_ms = 25; }; };\n",
	                        &s, &path);

	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_EQUAL(s.seed, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.sample_every, 60.0, 1e-12);
	CU_ASSERT_STRING_EQUAL(s.host.plugin_dir, PLUGINDIR);
	CU_ASSERT_DOUBLE_EQUAL(s.host.t_connect, 5.0, 1e-12);
	CU_ASSERT_EQUAL(s.host.max_frame, 1048576);
	CU_ASSERT_EQUAL(s.latency.kind, SIM_LAT_LOGNORMAL);
	CU_ASSERT_DOUBLE_EQUAL(s.latency.dist.a, 0.050, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.latency.dist.b, 0.025, 1e-12);
	CU_ASSERT_EQUAL(s.nregions_assigned, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.handshake_rtts, 1.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(s.bandwidth, 0.0, 1e-12);
	CU_ASSERT_EQUAL(s.churn, 0);
	CU_ASSERT_EQUAL(s.nworkload, 0);
	sim_scenario_free(&s);
	free(got);
	free(path);
}

static void test_err_syntax(void)
{
	expect("nodes = 3;\nduration = 10;\nseed = = 1;\n", ":3: syntax error");
}

static void test_err_unknown_key(void)
{
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK "node_count = 4;\n",
	       ":5: setting 'node_count': unknown setting");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = {\n latency = { model = \"constant\"; rtt_ms = 1.0; mean_ms = 2.0; };\n};\n",
	       ":5: setting 'network.latency.mean_ms': unknown setting");
}

static void test_err_type(void)
{
	expect("nodes = \"many\";\nduration = 10;\n" PLUGINS NETWORK,
	       ":1: setting 'nodes': must be an integer");
	expect("nodes = 3;\nduration = \"1h\";\n" PLUGINS NETWORK,
	       ":2: setting 'duration': must be a number");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK "churn = 1;\n",
	       ":5: setting 'churn': must be a group { ... }");
}

static void test_err_range(void)
{
	expect("nodes = 0;\nduration = 10;\n" PLUGINS NETWORK,
	       ":1: setting 'nodes': must be between 1 and 10000000 (got 0)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = { model = \"constant\"; rtt_ms = 1.0; };\n dial_fail = 1.5; };\n",
	       ":5: setting 'network.dial_fail': must be between 0 and 1 (got 1.5)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = { model = \"constant\"; rtt_ms = 1.0; };\n trace = 1; };\n",
	       ":5: setting 'network.trace': must be true or false");
	expect("nodes = 3;\nduration = 0;\n" PLUGINS NETWORK,
	       ":2: setting 'duration': must be more than 0");
	expect("nodes = 3;\nseed = -2;\nduration = 10;\n" PLUGINS NETWORK,
	       ":2: setting 'seed': must be 0 or more (got -2)");
	expect("nodes = 3;\nduration = 10;\njoin_every = 5;\n" PLUGINS NETWORK,
	       ":3: setting 'join_every': the last node would join at 10 s, not before the end of the "
	       "run (duration 10 s)");
}

static void test_err_missing(void)
{
	expect("nodes = 3;\n" PLUGINS NETWORK,
	       ": setting 'duration' is missing: the virtual seconds to run");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS "network = {\n bandwidth = 0;\n};\n",
	       ":4: setting 'network': needs 'latency' (a group { ... })");
}

/* The host group and the plugins list speak with config.c's own words. */
static void test_err_host_and_plugins(void)
{
	expect("nodes = 3;\nduration = 10;\nhost = { timeouts = { connect = -1; }; };\n" PLUGINS NETWORK,
	       ":3: setting 'host.timeouts.connect': must be more than 0 seconds and at most a year (got -1)");
	expect("nodes = 3;\nduration = 10;\nhost = { listen = [ \"127.0.0.1:1\" ]; };\n" PLUGINS NETWORK,
	       ":3: setting 'host.listen': unknown setting");
	expect("nodes = 3;\nduration = 10;\nplugins = (\n { name = \"kad\"; }\n);\n" NETWORK,
	       ":4: setting 'plugins[0]': a plugin needs a file");
}

static void test_err_distribution(void)
{
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "churn = {\n session = { dist = \"gaussian\"; mean = 5; };\n"
	       " down = { dist = \"constant\"; value = 1; };\n};\n",
	       ":6: setting 'churn.session.dist': must be one of \"constant\", \"uniform\", "
	       "\"exponential\", \"weibull\", \"lognormal\"");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "churn = {\n session = { dist = \"weibull\"; scale = 5; };\n"
	       " down = { dist = \"constant\"; value = 1; };\n};\n",
	       ":6: setting 'churn.session': needs 'shape' (a number)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = {\n model = \"uniform\"; min_ms = 30; max_ms = 20; }; };\n",
	       ":5: setting 'network.latency.max_ms': must be at least min_ms (30)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = {\n model = \"exponential\"; mean_ms = 30; }; };\n",
	       ":5: setting 'network.latency.model': must be \"constant\", \"uniform\", \"lognormal\" or \"matrix\"");
}

static void test_err_workload(void)
{
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; command = \"kademlia get x\"; }\n);\n",
	       ":6: setting 'workload[0].command': 'kademlia' is neither a plugin named in `plugins` "
	       "nor a host command");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; every = 2; repeat = 6; command = \"kad get x\"; }\n);\n",
	       ":6: setting 'workload[0]': its last run at 11 s is not before the end of the run "
	       "(duration 10 s)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; repeat = 5; command = \"kad get x\"; }\n);\n",
	       ":6: setting 'workload[0].repeat': repeats 5 times, so 'every' must be more than 0");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; node = 3; command = \"kad get x\"; }\n);\n",
	       ":6: setting 'workload[0].node': must be between -1 and 2 (got 3)");
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; command = \"  \"; }\n);\n",
	       ":6: setting 'workload[0].command': names no command");
}

/* The matrix file's own errors, each behind the scenario line naming it. */
static void expect_matrix(const char *matrix, const char *rest)
{
	char want[2048], *mpath = unit_write(dir, "bad.txt", matrix);

	snprintf(want, sizeof(want), ":5: setting 'network.latency.file': %s%s", mpath, rest);
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = {\n model = \"matrix\"; file = \"bad.txt\"; }; };\n", want);
	free(mpath);
}

static void test_err_matrix(void)
{
	char want_missing[1024];

	expect_matrix("eu 1 2\n", ":1: the first line must be 'regions NAME ...' (got 'eu')");
	expect_matrix("regions a b\na 1 2\n\nb 3 4\n",
	              ":4: RTT from 'b' to 'a' is 3 ms but line 2 gives 2 ms the other way; RTTs are symmetric");
	expect_matrix("regions a b\na 1 2\n", ":2: region 'b' has no row of RTTs");
	expect_matrix("regions a b\na 1 x\n",
	              ":2: RTT 'x' from 'a' to 'b' must be a number of milliseconds from 0 to 60000");
	expect_matrix("regions a b\na 1 2\nc 2 1\n", ":3: 'c' is not a region named on line 1");
	expect_matrix("regions a b\na 1\n", ":2: region 'a' gives 1 RTTs; 2 regions need 2");
	expect_matrix("regions a a\n", ":1: region 'a' is named twice");
	expect_matrix("# nothing\n", ":1: no 'regions' line: the file names no region");
	snprintf(want_missing, sizeof(want_missing),
	         ":5: setting 'network.latency.file': %s/absent.txt: cannot read: No such file or directory", dir);
	expect("nodes = 3;\nduration = 10;\n" PLUGINS
	       "network = { latency = {\n model = \"matrix\"; file = \"absent.txt\"; }; };\n",
	       want_missing);
}

/* Each run's words: %i, %x, %% and a whole-word %sha256:. */
static void test_expand(void)
{
	char *argv[] = { "kad", "get", "--key", "%sha256:v%i", "%x", "100%%-%i", NULL };
	struct sim_command c = { .argc = 6, .argv = argv };
	struct sim_rng r, again;
	char **w;
	unsigned char b[32];
	char hex[65];

	sim_rng_seed(&r, 5, 5);
	again = r;
	w = sim_command_expand(&c, 7, &r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_STRING_EQUAL(w[0], "kad");
	/* sha256("v7"), as `printf v7 | sha256sum` prints it */
	CU_ASSERT_STRING_EQUAL(w[3], "22a706ae67234e9fce89f07dead8e03e2c9d2e3a3eafa30c86fae1508074a672");
	sim_rng_bytes(&again, b, sizeof(b));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	CU_ASSERT_STRING_EQUAL(w[4], hex);
	CU_ASSERT_STRING_EQUAL(w[5], "100%-7");
	CU_ASSERT_PTR_NULL(w[6]);
	sim_command_words_free(w);
	expect("nodes = 3;\nduration = 10;\n" PLUGINS NETWORK
	       "workload = (\n { at = 1; command = \"kad get k%d\"; }\n);\n",
	       ":6: setting 'workload[0].command': word 2 'k%d': unknown substitution "
	       "(known: %i, %x, %%, and %sha256: at a word's start)");
}

/* The scenarios shipped in etc/sim/ are valid, and say what they promise. */
static void test_shipped(void)
{
	static const struct { const char *file; long nodes; int churn; } want[] = {
		{ "kademlia-1k.conf", 1000, 0 },
		{ "kademlia-10k.conf", 10000, 1 },
		{ "kademlia-100k.conf", 100000, 0 },
		{ "classicv1-2k.conf", 2000, 0 },
	};
	const char *top = getenv("top_srcdir");

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct sim_scenario s;
		struct diag errs = { 0 };
		char path[4096];

		snprintf(path, sizeof(path), "%s/etc/sim/%s", top ? top : "..", want[i].file);
		CU_ASSERT_EQUAL(sim_scenario_load(&s, path, &errs), 0);
		if (errs.count > 0)
			fprintf(stderr, "\n  %s\n", errs.lines[0]);
		CU_ASSERT_EQUAL(s.nodes, want[i].nodes);
		CU_ASSERT_EQUAL(s.churn, want[i].churn);
		CU_ASSERT_TRUE(s.nworkload >= 1);
		if (want[i].nodes >= 10000) {
			/* the latency model for the scale runs: 50 ms +- 25 ms */
			CU_ASSERT_EQUAL(s.latency.kind, SIM_LAT_LOGNORMAL);
			CU_ASSERT_DOUBLE_EQUAL(s.latency.dist.a, 0.050, 1e-12);
			CU_ASSERT_DOUBLE_EQUAL(s.latency.dist.b, 0.025, 1e-12);
		}
		if (want[i].churn)
			CU_ASSERT_EQUAL(s.session.kind, SIM_DIST_WEIBULL);
		diag_clear(&errs);
		sim_scenario_free(&s);
	}
}

int sim_scenario_suite(void)
{
	CU_pSuite s = CU_add_suite("sim scenario", NULL, NULL);

	dir = unit_tmpdir();
	if (s == NULL)
		return -1;
	if (CU_add_test(s, "a full scenario, field by field", test_full) == NULL ||
	    CU_add_test(s, "defaults are the daemon's", test_defaults) == NULL ||
	    CU_add_test(s, "syntax error by line", test_err_syntax) == NULL ||
	    CU_add_test(s, "unknown keys", test_err_unknown_key) == NULL ||
	    CU_add_test(s, "wrong types", test_err_type) == NULL ||
	    CU_add_test(s, "out-of-range values", test_err_range) == NULL ||
	    CU_add_test(s, "missing settings", test_err_missing) == NULL ||
	    CU_add_test(s, "host group and plugins list", test_err_host_and_plugins) == NULL ||
	    CU_add_test(s, "distributions", test_err_distribution) == NULL ||
	    CU_add_test(s, "workload commands", test_err_workload) == NULL ||
	    CU_add_test(s, "region matrix file", test_err_matrix) == NULL ||
	    CU_add_test(s, "command words of each run", test_expand) == NULL ||
	    CU_add_test(s, "the scenarios in etc/sim", test_shipped) == NULL)
		return -1;
	return 0;
}

/* test_sim.c -- the simulator's modules: streams and distributions, the
 * event queue's order and removal, the latency model, the output files. */
#include "config.h"
#include "unit.h"
#include "../host/sim_engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first outputs of xoshiro256** from the state {1, 2, 3, 4}, as its
 * authors' reference implementation prints them: our generator is theirs. */
static void test_rng_reference(void)
{
	struct sim_rng r = { { 1, 2, 3, 4 } };
	static const uint64_t want[] = { 11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CU_ASSERT_EQUAL(sim_rng_next(&r), want[i]);
}

/* One (seed, stream) always gives the same numbers; another stream or
 * another seed gives different ones. */
static void test_rng_streams(void)
{
	struct sim_rng a, b, c, d;
	int same_ab = 1, same_ac = 0, same_ad = 0;

	sim_rng_seed(&a, 42, 7);
	sim_rng_seed(&b, 42, 7);
	sim_rng_seed(&c, 42, 8);
	sim_rng_seed(&d, 43, 7);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = sim_rng_next(&a);
		same_ab &= x == sim_rng_next(&b);
		same_ac += x == sim_rng_next(&c);
		same_ad += x == sim_rng_next(&d);
	}
	CU_ASSERT_TRUE(same_ab);
	CU_ASSERT_EQUAL(same_ac, 0);
	CU_ASSERT_EQUAL(same_ad, 0);
	/* (seed, stream) and (seed + 1, stream - 1) must not be one stream. */
	sim_rng_seed(&a, 42, 7);
	sim_rng_seed(&b, 43, 6);
	CU_ASSERT_NOT_EQUAL(sim_rng_next(&a), sim_rng_next(&b));
}

static void test_rng_unit_below(void)
{
	struct sim_rng r;
	int counts[10] = { 0 };
	int in_range = 1;
	const int draws = 100000;

	sim_rng_seed(&r, 1, 0);
	for (int i = 0; i < draws; i++) {
		double u = sim_rng_unit(&r);
		uint64_t k = sim_rng_below(&r, 10);
		in_range &= u >= 0.0 && u < 1.0 && k < 10;
		if (k < 10)
			counts[k]++;
	}
	CU_ASSERT_TRUE(in_range);
	/* Each bucket expects 10,000 draws; 5 standard deviations is +- 474. */
	for (int k = 0; k < 10; k++)
		CU_ASSERT_TRUE(abs(counts[k] - draws / 10) < 474);
	CU_ASSERT_EQUAL(sim_rng_below(&r, 0), 0);
	CU_ASSERT_EQUAL(sim_rng_below(&r, 1), 0);
	/* A bound near 2^64 is still respected. */
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_TRUE(sim_rng_below(&r, UINT64_MAX - 1) < UINT64_MAX - 1);
}

static void test_rng_bytes(void)
{
	struct sim_rng a, b;
	unsigned char buf[13], again[13];
	uint64_t first;

	sim_rng_seed(&a, 9, 9);
	sim_rng_seed(&b, 9, 9);
	sim_rng_bytes(&a, buf, sizeof(buf));
	first = sim_rng_next(&b);
	/* Little-endian whatever the machine: byte i is bits 8i..8i+7. */
	for (int i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(buf[i], (unsigned char)(first >> (8 * i)));
	sim_rng_seed(&b, 9, 9);
	sim_rng_bytes(&b, again, sizeof(again));
	CU_ASSERT_EQUAL(memcmp(buf, again, sizeof(buf)), 0);
}

/* Mean and standard deviation of n draws. */
static void moments(const struct sim_dist *d, uint64_t seed, int n, double *mean, double *sd)
{
	struct sim_rng r;
	double sum = 0, sum2 = 0;

	sim_rng_seed(&r, seed, 3);
	for (int i = 0; i < n; i++) {
		double x = sim_dist_sample(d, &r);
		sum += x;
		sum2 += x * x;
	}
	*mean = sum / n;
	*sd = sqrt(sum2 / n - *mean * *mean);
}

static int near(double got, double want, double rel)
{
	return fabs(got - want) <= rel * fabs(want);
}

static void test_dist_moments(void)
{
	const int n = 200000;
	double mean, sd;
	struct sim_dist d;

	d = (struct sim_dist){ SIM_DIST_CONSTANT, 0.25, 0 };
	moments(&d, 5, 100, &mean, &sd);
	CU_ASSERT_DOUBLE_EQUAL(mean, 0.25, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(sd, 0.0, 1e-9);

	/* uniform [a, b): mean (a+b)/2, sd (b-a)/sqrt(12) */
	d = (struct sim_dist){ SIM_DIST_UNIFORM, 0.025, 0.075 };
	moments(&d, 5, n, &mean, &sd);
	CU_ASSERT_TRUE(near(mean, 0.05, 0.01));
	CU_ASSERT_TRUE(near(sd, 0.05 / sqrt(12.0), 0.01));

	/* exponential: sd equals the mean */
	d = (struct sim_dist){ SIM_DIST_EXPONENTIAL, 30.0, 0 };
	moments(&d, 5, n, &mean, &sd);
	CU_ASSERT_TRUE(near(mean, 30.0, 0.02));
	CU_ASSERT_TRUE(near(sd, 30.0, 0.02));

	/* Weibull k = 0.5: mean lambda * Gamma(3) = 2 lambda, variance
	 * lambda^2 (Gamma(5) - Gamma(3)^2) = 20 lambda^2 */
	d = (struct sim_dist){ SIM_DIST_WEIBULL, 600.0, 0.5 };
	moments(&d, 5, n, &mean, &sd);
	CU_ASSERT_TRUE(near(mean, 1200.0, 0.03));
	CU_ASSERT_TRUE(near(sd, 600.0 * sqrt(20.0), 0.08));
	CU_ASSERT_DOUBLE_EQUAL(sim_dist_mean(&d), 1200.0, 1e-9);
	/* Weibull k = 1 is the exponential of mean lambda. */
	d = (struct sim_dist){ SIM_DIST_WEIBULL, 10.0, 1.0 };
	moments(&d, 6, n, &mean, &sd);
	CU_ASSERT_TRUE(near(mean, 10.0, 0.02));
	CU_ASSERT_TRUE(near(sd, 10.0, 0.03));

	/* log-normal given by the value's own mean and deviation: 50 ms +- 25 ms */
	d = (struct sim_dist){ SIM_DIST_LOGNORMAL, 0.05, 0.025 };
	moments(&d, 5, n, &mean, &sd);
	CU_ASSERT_TRUE(near(mean, 0.05, 0.01));
	CU_ASSERT_TRUE(near(sd, 0.025, 0.03));
}

/* Shape, not just moments: the Weibull's median is lambda (ln 2)^(1/k) and
 * the log-normal's is mean / sqrt(1 + cv^2). */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(const struct sim_dist *d, int n)
{
	struct sim_rng r;
	double *v = malloc(sizeof(*v) * (size_t)n), m;

	sim_rng_seed(&r, 11, 0);
	for (int i = 0; i < n; i++)
		v[i] = sim_dist_sample(d, &r);
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	m = v[n / 2];
	free(v);
	return m;
}

static void test_dist_shape(void)
{
	struct sim_dist w = { SIM_DIST_WEIBULL, 600.0, 0.5 };
	struct sim_dist l = { SIM_DIST_LOGNORMAL, 0.05, 0.025 };

	CU_ASSERT_TRUE(near(median_of(&w, 100001), 600.0 * pow(log(2.0), 2.0), 0.02));
	CU_ASSERT_TRUE(near(median_of(&l, 100001), 0.05 / sqrt(1.25), 0.01));
}

/* A fixed seed gives the same samples, bit for bit, every run. */
static void test_dist_reproducible(void)
{
	struct sim_dist d = { SIM_DIST_LOGNORMAL, 0.05, 0.025 };
	struct sim_rng a, b;
	int same = 1;

	sim_rng_seed(&a, 2026, 1);
	sim_rng_seed(&b, 2026, 1);
	for (int i = 0; i < 10000; i++) {
		double x = sim_dist_sample(&d, &a), y = sim_dist_sample(&d, &b);
		same &= memcmp(&x, &y, sizeof(x)) == 0 && x >= 0;
	}
	CU_ASSERT_TRUE(same);
}

static void test_dist_names(void)
{
	for (int k = SIM_DIST_CONSTANT; k <= SIM_DIST_LOGNORMAL; k++)
		CU_ASSERT_EQUAL(sim_dist_kind_parse(sim_dist_name(k)), k);
	CU_ASSERT_EQUAL(sim_dist_kind_parse("gaussian"), -1);
	CU_ASSERT_PTR_NULL(sim_dist_name(99));
}

/* The queue. Each test event records the order it fired in. */
struct tev {
	struct sim_event ev;
	int id;
};
static int fired[64], nfired;

static void tev_fire(struct sim_event *e)
{
	struct tev *t = (struct tev *)e;
	fired[nfired++] = t->id;
}

static void drain(struct sim_queue *q)
{
	struct sim_event *e;
	double last = -1;

	nfired = 0;
	while ((e = sim_queue_pop(q)) != NULL) {
		CU_ASSERT_TRUE(q->now >= last);
		CU_ASSERT_EQUAL(e->slot, SIM_NOT_QUEUED);
		CU_ASSERT_EQUAL(sim_event_at(q, e), -1);
		last = q->now;
		e->fire(e);
	}
}

static void test_queue_order(void)
{
	struct sim_queue q;
	struct tev t[6];
	static const double at[6] = { 3.0, 1.0, 2.0, 1.0, 0.5, 1.0 };
	static const int want[6] = { 4, 1, 3, 5, 2, 0 };

	sim_queue_init(&q);
	for (int i = 0; i < 6; i++) {
		sim_event_init(&t[i].ev, tev_fire);
		t[i].id = i;
		CU_ASSERT_EQUAL(sim_queue_push(&q, &t[i].ev, at[i]), 0);
	}
	CU_ASSERT_EQUAL(q.n, 6);
	CU_ASSERT_EQUAL(sim_queue_next_at(&q), 0.5);
	drain(&q);
	CU_ASSERT_EQUAL(nfired, 6);
	/* Ties at 1.0 run in push order: 1, 3, 5. */
	CU_ASSERT_EQUAL(memcmp(fired, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(q.now, 3.0);
	CU_ASSERT_EQUAL(sim_queue_next_at(&q), -1);
	CU_ASSERT_PTR_NULL(sim_queue_pop(&q));
	sim_queue_free(&q);
}

static void test_queue_remove_move(void)
{
	struct sim_queue q;
	struct tev t[8];
	static const int want[] = { 0, 7, 2, 4, 6, 5 };

	sim_queue_init(&q);
	for (int i = 0; i < 8; i++) {
		sim_event_init(&t[i].ev, tev_fire);
		t[i].id = i;
		sim_queue_push(&q, &t[i].ev, (double)i);
	}
	sim_queue_remove(&q, &t[3].ev);
	sim_queue_remove(&q, &t[1].ev);
	CU_ASSERT_EQUAL(t[3].ev.slot, SIM_NOT_QUEUED);
	sim_queue_remove(&q, &t[3].ev);          /* twice: a no-op */
	CU_ASSERT_EQUAL(q.n, 6);
	sim_queue_push(&q, &t[7].ev, -1.0);      /* the past runs now, after 0 pushed earlier */
	CU_ASSERT_EQUAL(sim_event_at(&q, &t[7].ev), 0.0);
	sim_queue_push(&q, &t[5].ev, 100.0);     /* re-push moves it last */
	CU_ASSERT_EQUAL(q.n, 6);
	drain(&q);
	CU_ASSERT_EQUAL(nfired, 6);
	CU_ASSERT_EQUAL(memcmp(fired, want, sizeof(want)), 0);
	sim_queue_free(&q);
}

/* Many events, pushed, moved and removed at random, still pop in
 * (time, push order) order, and the slots stay true throughout. Each
 * event remembers when and in which order the test last pushed it. */
struct rev {
	struct sim_event ev;             /* first */
	double at;
	uint64_t order;
};

static void test_queue_random(void)
{
	enum { N = 2000 };
	struct sim_queue q;
	struct rev *ev = calloc(N, sizeof(*ev));
	struct sim_rng r;
	int slots_ok = 1, order_ok = 1, at_ok = 1;
	size_t queued = N;
	double last_at = -1;
	uint64_t last_order = 0, pushes = 0;
	struct sim_event *e;

	sim_rng_seed(&r, 77, 0);
	sim_queue_init(&q);
	for (int i = 0; i < N; i++) {
		sim_event_init(&ev[i].ev, tev_fire);
		ev[i].at = (double)sim_rng_below(&r, 50);
		ev[i].order = ++pushes;
		sim_queue_push(&q, &ev[i].ev, ev[i].at);
	}
	for (int i = 0; i < N; i++) {
		struct rev *x = &ev[sim_rng_below(&r, N)];
		if (sim_rng_below(&r, 2) == 0) {
			queued += x->ev.slot == SIM_NOT_QUEUED;
			x->at = (double)sim_rng_below(&r, 50);
			x->order = ++pushes;
			sim_queue_push(&q, &x->ev, x->at);
		} else {
			queued -= x->ev.slot != SIM_NOT_QUEUED;
			sim_queue_remove(&q, &x->ev);
		}
	}
	CU_ASSERT_EQUAL(q.n, queued);
	for (size_t i = 0; i < q.n; i++) {
		struct rev *x = (struct rev *)(void *)q.heap[i].e;
		slots_ok &= x->ev.slot == i;
		at_ok &= sim_event_at(&q, &x->ev) == x->at;
	}
	CU_ASSERT_TRUE(slots_ok);
	CU_ASSERT_TRUE(at_ok);
	while ((e = sim_queue_pop(&q)) != NULL) {
		struct rev *x = (struct rev *)(void *)e;
		order_ok &= q.now == x->at &&
		            (x->at > last_at || (x->at == last_at && x->order > last_order));
		last_at = x->at;
		last_order = x->order;
	}
	CU_ASSERT_TRUE(order_ok);
	sim_queue_free(&q);
	free(ev);
}


/* The latency model. */
static void test_latency_models(void)
{
	struct sim_latency l = { .kind = SIM_LAT_CONSTANT, .dist = { SIM_DIST_CONSTANT, 0.05, 0 } };
	struct sim_rng r;
	double sum = 0;

	sim_rng_seed(&r, 1, 1);
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_one_way(&l, 0, 0, &r), 0.025, 1e-15);
	l = (struct sim_latency){ .kind = SIM_LAT_LOGNORMAL, .dist = { SIM_DIST_LOGNORMAL, 0.05, 0.025 } };
	for (int i = 0; i < 100000; i++)
		sum += sim_latency_one_way(&l, 0, 0, &r);
	/* one way is half the RTT: 25 ms on average */
	CU_ASSERT_TRUE(near(sum / 100000, 0.025, 0.01));
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_transfer(0, 1000000), 0.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_transfer(125000.0, 250000), 2.0, 1e-12);
	CU_ASSERT_EQUAL(sim_latency_region(&l, 17, 100), 0);
}

static void test_latency_matrix(void)
{
	char *d = unit_tmpdir();
	char *path = unit_write(d, "m.txt", "regions a b c\na 10 20 30\nb 20 40 50\nc 30 50 60\n");
	struct sim_latency l;
	struct diag errs = { 0 };
	struct sim_rng r;
	int counts[3] = { 0 }, in_band = 1;
	double w[3] = { 2, 1, 1 };

	CU_ASSERT_EQUAL_FATAL(sim_latency_matrix_load(&l, path, &errs), 0);
	CU_ASSERT_EQUAL(errs.count, 0);
	CU_ASSERT_EQUAL(l.nregions, 3);
	sim_rng_seed(&r, 1, 1);
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_one_way(&l, 1, 2, &r), 0.025, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_one_way(&l, 2, 1, &r), 0.025, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(sim_latency_one_way(&l, 0, 0, &r), 0.005, 1e-15);
	/* Without weights: round-robin. */
	for (long i = 0; i < 9; i++)
		CU_ASSERT_EQUAL(sim_latency_region(&l, i, 9), (int)(i % 3));
	/* With weights 2:1:1, shares within 1% over 10,000 nodes. */
	l.weights = malloc(sizeof(w));
	memcpy(l.weights, w, sizeof(w));
	for (long i = 0; i < 10000; i++)
		counts[sim_latency_region(&l, i, 10000)]++;
	CU_ASSERT_TRUE(abs(counts[0] - 5000) < 100);
	CU_ASSERT_TRUE(abs(counts[1] - 2500) < 100);
	CU_ASSERT_TRUE(abs(counts[2] - 2500) < 100);
	/* Jitter keeps each RTT within +- jitter of the entry. */
	l.jitter = 0.2;
	for (int i = 0; i < 10000; i++) {
		double d1 = sim_latency_one_way(&l, 0, 2, &r);
		in_band &= d1 >= 0.015 * 0.8 - 1e-12 && d1 <= 0.015 * 1.2 + 1e-12;
	}
	CU_ASSERT_TRUE(in_band);
	sim_latency_free(&l);
	CU_ASSERT_PTR_NULL(l.weights);
	free(path);
}

/* Output: exact files and the summary line. */
static char *slurp(const char *dir, const char *name)
{
	char path[4096], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return strdup("(missing)");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

/* One small run's worth of calls, the same every time. */
static void feed(struct sim_output *o)
{
	sim_output_result(o, 1.5, 3, "kad put k0 v0", 1, 12.25, -1, -1);
	sim_output_result(o, 2.0, 4, "kad get k0", 1, 40.0, 2, 6);
	sim_output_result(o, 2.5, 5, "kad get k1", 0, 0, 3, 9);
	sim_output_result(o, 3.0, 0, "kad get \"a,b\"", 1, 20.0, 1, 3);
	for (int t = 0; t <= 2; t++)
		for (long n = 0; n < 4; n++)
			sim_output_sample(o, 5.0 * t, n, n != 3, 600u * (unsigned)t, 600u * (unsigned)t,
			                  n + t, 10 * n);
}

static void test_output_files(void)
{
	struct sim_scenario s;
	char *d = unit_tmpdir(), *err = NULL, *line = NULL, *text;
	struct sim_output *o = sim_output_open(d, &err);
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	memset(&s, 0, sizeof(s));
	s.path = "etc/sim/x.conf";
	s.nodes = 4;
	s.seed = 9;
	s.duration = 10.0;
	feed(o);
	CU_ASSERT_EQUAL(sim_output_finish(o, &s, 1.25, 4096, mem), 0);
	fclose(mem);
	/* 3 of 4 ok; latencies 12.25, 20, 40: nearest-rank p50 is 20, p99 is 40. */
	CU_ASSERT_STRING_EQUAL(line, "nodes=4 commands=4 ok=3 success=75.00% p50_ms=20.0 p99_ms=40.0\n");
	sim_output_free(o);
	text = slurp(d, "results.csv");
	CU_ASSERT_STRING_EQUAL(text, "at_s,node,command,ok,latency_ms,hops,requests\n"
	                       "1.500000,3,kad put k0 v0,1,12.250,,\n"
	                       "2.000000,4,kad get k0,1,40.000,2,6\n"
	                       "2.500000,5,kad get k1,0,0.000,3,9\n"
	                       "3.000000,0,\"kad get \"\"a,b\"\"\",1,20.000,1,3\n");
	free(text);
	text = slurp(d, "samples.csv");
	CU_ASSERT_EQUAL(strncmp(text, "at_s,node,up,bytes_in,bytes_out,conns,table_size\n"
	                        "0.000000,0,1,0,0,0,0\n0.000000,1,1,0,0,1,10\n", 90), 0);
	free(text);
	text = slurp(d, "summary.json");
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"scenario\": \"x.conf\",\n  \"nodes\": 4,\n  \"seed\": 9,\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  \"commands\": 4,\n  \"ok\": 3,\n  \"success_pct\": 75.00,\n"));
	/* hops and requests of the two ok gets: 1 and 2, 3 and 6 */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  \"lookups_counted\": 2,\n  \"hops\": { \"median\": 1.0, \"mean\": 1.500 },\n"
	                              "  \"requests\": { \"median\": 3.0, \"mean\": 4.500 }"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"command\": \"kad get\",\n      \"commands\": 3,\n      \"ok\": 2,\n"
	                              "      \"success_pct\": 66.67,"));
	/* Steady state: the rounds at 5 s and 10 s (the second half of 10 s):
	 * three nodes up, 1200 bytes each per 5 s = 14400 a minute. */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"steady_state\": {\n    \"rounds\": 2,\n    \"nodes_up\": 3.0,\n"
	                              "    \"conns_per_node\": { \"mean\": 2.50, \"p50\": 2.5, \"p99\": 3.5, \"max\": 4 },\n"
	                              "    \"table_size_mean\": 10.00,\n    \"bytes_per_node_per_min\": 14400.0\n  }"));
	free(text);
	text = slurp(d, "run.json");
	CU_ASSERT_STRING_EQUAL(text, "{ \"wall_s\": 1.250, \"peak_rss_kib\": 4096, \"rss_per_node_kib\": 1024.00 }\n");
	free(text);
	if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
		text = slurp(d, "latency_cdf.png");
		CU_ASSERT_EQUAL(memcmp(text, "\x89PNG", 4), 0);
		free(text);
	}
	free(line);
	free(err);
}

/* The same calls give the same bytes in every deterministic file. */
static void test_output_identical(void)
{
	static const char *const files[] = { "results.csv", "samples.csv", "summary.json", NULL };
	char *dirs[2];
	struct sim_scenario s;

	memset(&s, 0, sizeof(s));
	s.path = "x.conf";
	s.nodes = 4;
	s.duration = 10.0;
	for (int i = 0; i < 2; i++) {
		struct sim_output *o;
		dirs[i] = unit_tmpdir();
		o = sim_output_open(dirs[i], NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		feed(o);
		sim_output_finish(o, &s, 0.5 * i, 1000 * i, NULL);
		sim_output_free(o);
	}
	for (const char *const *f = files; *f; f++) {
		char *a = slurp(dirs[0], *f), *b = slurp(dirs[1], *f);
		CU_ASSERT_STRING_EQUAL(a, b);
		free(a);
		free(b);
	}
}

/* Without a directory only the line is written; an empty run says zeros. */
static void test_output_summary_only(void)
{
	struct sim_scenario s;
	struct sim_output *o = sim_output_open(NULL, NULL);
	char *line = NULL, *err = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);

	memset(&s, 0, sizeof(s));
	s.nodes = 100000;
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(sim_output_finish(o, &s, 0, 0, mem), 0);
	fclose(mem);
	CU_ASSERT_STRING_EQUAL(line, "nodes=100000 commands=0 ok=0 success=0.00% p50_ms=0.0 p99_ms=0.0\n");
	sim_output_free(o);
	free(line);
	o = sim_output_open("/proc/no/such/dir", &err);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err != NULL)
		CU_ASSERT_EQUAL(strncmp(err, "/proc/no/such/dir: cannot create the output directory: ", 55), 0);
	free(err);
}

/* Node addresses both ways: every node's own address names it, and only
 * the exact form does (the daemon's rule: no leading zeros, no spaces). */
static void test_node_addresses(void)
{
	struct sim s = { .nnodes = 70000 };
	static const long some[] = { 0, 1, 255, 256, 257, 65535, 65536, 69999 };
	static const char *const refused[] = {
		"127.0.01.1:4000", "127.0.0.1:04000", "127.0.0.0:4000", "127.0.0.256:4000",
		"127.0.0.1:4001", "[::1]:4000", "127.0.0.1:4000 ", " 127.0.0.1:4000",
		"127.0.0.1", "127.0.0.1:", "127.0.0.2:4000", "127.1.256.1:4000", "",
		"127.0.0.1:99999999999999999999",
	};
	char buf[24];
	int round_trip = 1;

	for (long i = 0; i < s.nnodes; i++) {
		char want[48];
		sim_node_addr(i, buf, sizeof(buf));
		snprintf(want, sizeof(want), "127.%ld.%ld.%ld:%d", (i >> 8) & 255, i & 255,
		         1 + (i >> 16), SIM_PORT);
		round_trip &= strcmp(buf, want) == 0 && sim_addr_node(&s, buf) == i;
	}
	CU_ASSERT_TRUE(round_trip);
	for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++) {
		sim_node_addr(some[i], buf, sizeof(buf));
		CU_ASSERT_EQUAL(sim_addr_node(&s, buf), some[i]);
	}
	sim_node_addr(65536, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "127.0.0.2:4000");
	sim_node_addr(258, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "127.1.2.1:4000");
	s.nnodes = 2;                            /* 127.0.0.2 is node 65536: none here */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CU_ASSERT_EQUAL(sim_addr_node(&s, refused[i]), -1);
	sim_node_addr(1, buf, 8);                /* too small: an empty string, never a cut one */
	CU_ASSERT_STRING_EQUAL(buf, "");
}

int sim_suite(void)
{
	CU_pSuite s = CU_add_suite("sim", NULL, NULL);

	if (s == NULL)
		return -1;
	if (CU_add_test(s, "xoshiro256** reference outputs", test_rng_reference) == NULL ||
	    CU_add_test(s, "streams: same seed and stream repeat, others differ", test_rng_streams) == NULL ||
	    CU_add_test(s, "unit and below: range and uniformity", test_rng_unit_below) == NULL ||
	    CU_add_test(s, "random bytes little-endian and repeatable", test_rng_bytes) == NULL ||
	    CU_add_test(s, "distributions: means and deviations", test_dist_moments) == NULL ||
	    CU_add_test(s, "distributions: medians", test_dist_shape) == NULL ||
	    CU_add_test(s, "distributions: exact reproducibility", test_dist_reproducible) == NULL ||
	    CU_add_test(s, "distribution names", test_dist_names) == NULL ||
	    CU_add_test(s, "queue: time order, ties in push order", test_queue_order) == NULL ||
	    CU_add_test(s, "queue: removal and re-push", test_queue_remove_move) == NULL ||
	    CU_add_test(s, "queue: random pushes, moves, removals", test_queue_random) == NULL ||
	    CU_add_test(s, "latency: models, halves, transfer", test_latency_models) == NULL ||
	    CU_add_test(s, "latency: region matrix, weights, jitter", test_latency_matrix) == NULL ||
	    CU_add_test(s, "output: exact files and summary line", test_output_files) == NULL ||
	    CU_add_test(s, "output: identical inputs, identical bytes", test_output_identical) == NULL ||
	    CU_add_test(s, "output: summary only, and a directory refused", test_output_summary_only) == NULL ||
	    CU_add_test(s, "node addresses both ways", test_node_addresses) == NULL)
		return -1;
	return 0;
}

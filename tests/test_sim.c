/* test_sim.c -- the simulator's modules: streams and distributions, the
 * event queue's order and removal. */
#include "config.h"
#include "unit.h"
#include "../host/sim.h"

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
		CU_ASSERT_TRUE(e->at >= last);
		CU_ASSERT_EQUAL(q->now, e->at);
		CU_ASSERT_EQUAL(e->slot, SIM_NOT_QUEUED);
		last = e->at;
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
	CU_ASSERT_EQUAL(t[7].ev.at, 0.0);
	sim_queue_push(&q, &t[5].ev, 100.0);     /* re-push moves it last */
	CU_ASSERT_EQUAL(q.n, 6);
	drain(&q);
	CU_ASSERT_EQUAL(nfired, 6);
	CU_ASSERT_EQUAL(memcmp(fired, want, sizeof(want)), 0);
	sim_queue_free(&q);
}

/* Many events, pushed, moved and removed at random, still pop in
 * (time, sequence) order, and the slots stay true throughout. */
static void test_queue_random(void)
{
	enum { N = 2000 };
	struct sim_queue q;
	struct sim_event *ev = calloc(N, sizeof(*ev));
	struct sim_rng r;
	int slots_ok = 1, order_ok = 1;
	size_t queued = N;
	double last_at = -1;
	uint64_t last_seq = 0;
	struct sim_event *e;

	sim_rng_seed(&r, 77, 0);
	sim_queue_init(&q);
	for (int i = 0; i < N; i++) {
		sim_event_init(&ev[i], tev_fire);
		sim_queue_push(&q, &ev[i], (double)sim_rng_below(&r, 50));
	}
	for (int i = 0; i < N; i++) {
		struct sim_event *x = &ev[sim_rng_below(&r, N)];
		if (sim_rng_below(&r, 2) == 0) {
			queued += x->slot == SIM_NOT_QUEUED;
			sim_queue_push(&q, x, (double)sim_rng_below(&r, 50));
		} else {
			queued -= x->slot != SIM_NOT_QUEUED;
			sim_queue_remove(&q, x);
		}
	}
	CU_ASSERT_EQUAL(q.n, queued);
	for (size_t i = 0; i < q.n; i++)
		slots_ok &= q.heap[i]->slot == i;
	CU_ASSERT_TRUE(slots_ok);
	while ((e = sim_queue_pop(&q)) != NULL) {
		order_ok &= e->at > last_at || (e->at == last_at && e->seq > last_seq);
		last_at = e->at;
		last_seq = e->seq;
	}
	CU_ASSERT_TRUE(order_ok);
	sim_queue_free(&q);
	free(ev);
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
	    CU_add_test(s, "queue: random pushes, moves, removals", test_queue_random) == NULL)
		return -1;
	return 0;
}

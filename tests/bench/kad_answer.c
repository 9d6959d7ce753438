/* kad_answer.c -- what one FNOD answer costs the kademlia plugin: choosing
 * the k closest nodes of its table and encoding the NODS, for tables of
 * 100 to 8,000 entries, beside the way it was done before in the same run
 * (copy and sort the whole table, keep the first k).
 *
 * Tables are filled as an attacker with many ids fills them: k nodes in
 * each bucket, deepest last, with the address limits off. A table of k
 * per bucket holds at most 256 k entries, so the largest is 8,192 (k 32).
 * Targets are random ids (most share few bits with ours, the common case)
 * and ids near our own (the walk then starts deep in the table).
 *
 * Usage: kad_answer [ROUNDS]     prints one table, exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kad.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void random_id(uint8_t id[KAD_ID_LEN])
{
	for (int i = 0; i < KAD_ID_LEN; i++)
		id[i] = (uint8_t)next();
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The baseline: every live node copied and sorted by distance. */
static const uint8_t *sort_target;

static int by_distance(const void *a, const void *b)
{
	return kad_closer(sort_target, ((const struct kad_node *)a)->id,
	                  ((const struct kad_node *)b)->id);
}

static int closest_by_sorting(const struct kad_table *t, const uint8_t target[KAD_ID_LEN],
                              struct kad_node *out, int max)
{
	int total = kad_table_size(t), n = 0;
	struct kad_node *all = malloc((size_t)total * sizeof(*all));

	if (all == NULL)
		return 0;
	for (int bi = 0; bi < t->nbuckets; bi++)
		for (int i = 0; i < t->b[bi].nlive; i++)
			kad_entry_node(&t->b[bi].live[i], &all[n++]);
	sort_target = target;
	qsort(all, (size_t)n, sizeof(*all), by_distance);
	n = n > max ? max : n;
	memcpy(out, all, (size_t)n * sizeof(*all));
	free(all);
	return n;
}

static void fill(struct kad_table *t, int want)
{
	struct kad_node n;
	uint8_t rnd[KAD_ID_LEN];
	int port = 1;

	for (int cpl = 0; cpl < KAD_ID_BITS && kad_table_size(t) < want; cpl++)
		for (int i = 0; i < t->k && kad_table_size(t) < want; i++) {
			random_id(rnd);
			kad_id_in_range(t->self, cpl, 0, rnd, n.id);
			snprintf(n.addr, sizeof(n.addr), "127.%d.%d.1:%d", port / 250 % 250,
			         port % 250, 1000 + port % 60000);
			port++;
			kad_table_seen(t, &n, 1.0, NULL, NULL);
		}
}

/* Microseconds per answer: choose k + 1, drop the asker, encode NODS. */
static double answer_us(const struct kad_table *t, int sorting, int near_self, int rounds)
{
	static uint8_t buf[8192];
	struct kad_node near[KAD_MAX_K + 1];
	static struct kad_msg a;
	uint8_t target[KAD_ID_LEN], asker[KAD_ID_LEN], rnd[KAD_ID_LEN];
	double t0, total = 0;

	random_id(asker);
	for (int r = 0; r < rounds; r++) {
		int n;
		random_id(target);
		if (near_self) {
			random_id(rnd);
			kad_id_in_range(t->self, 8 + (int)(next() % 8), 0, rnd, target);
		}
		t0 = now_us();
		n = sorting ? closest_by_sorting(t, target, near, t->k + 1)
		            : kad_table_closest(t, target, near, t->k + 1, 1);
		a.type = KAD_T_NODS;
		a.nnodes = 0;
		for (int i = 0; i < n && a.nnodes < t->k; i++)
			if (memcmp(near[i].id, asker, KAD_ID_LEN) != 0)
				a.nodes[a.nnodes++] = near[i];
		if (kad_encode_answer(buf, sizeof(buf), &a) < 0)
			abort();
		total += now_us() - t0;
	}
	return total / rounds;
}

int main(int argc, char **argv)
{
	static const struct { int size, k; } cases[] = {
		{ 100, 20 }, { 1000, 20 }, { 4000, 20 }, { 5120, 20 }, { 8192, 32 }
	};
	int rounds = argc > 1 ? atoi(argv[1]) : 2000;

	printf("FNOD answer time, microseconds per answer (%d answers each)\n", rounds);
	printf("%8s %4s | %-9s | %10s %10s %7s\n", "entries", "k", "target", "outward",
	       "sort all", "ratio");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct kad_table t;
		uint8_t self[KAD_ID_LEN];

		random_id(self);
		kad_table_init(&t, self, cases[c].k);
		fill(&t, cases[c].size);
		for (int near_self = 0; near_self < 2; near_self++) {
			double ours = answer_us(&t, 0, near_self, rounds);
			double base = answer_us(&t, 1, near_self, rounds / 4 > 50 ? rounds / 4 : 50);
			printf("%8d %4d | %-9s | %10.2f %10.2f %6.0fx\n", kad_table_size(&t), t.k,
			       near_self ? "near self" : "random", ours, base, base / ours);
		}
		kad_table_release(&t);
	}
	printf("aim: outward under 20 us at the largest table\n");
	return 0;
}

/* kad_keep.c -- which of the connections a node dialled it keeps open.
 *
 * A connection costs both hosts 15 to 17 KiB and a file descriptor while
 * it is open, and a new one costs a TCP and TLS handshake (milliseconds)
 * the next time it is needed. The policy, like a connection manager
 * with a low water mark that protects routing-table peers, keeps the
 * connections that will be used again and closes the rest:
 *
 *  - one that carried a request of ours in the last `idle` seconds stays
 *    (it is in use, and an answer may still be coming on it);
 *  - past that, the connection of a live entry of the routing table (it
 *    answered us on it at its table address, and no request to it failed
 *    since) stays too, up to `keep` of them, the most recently used
 *    first: those are the nodes every lookup starts from;
 *  - every other idle one closes.
 *
 * So an idle node holds at most `keep` connections it dialled, and a busy
 * one what its work needs plus `keep`. The host's own idle timeout still
 * closes a kept connection that goes unused for long. This file knows
 * nothing of the host, so the unit tests drive it directly; kad_conns.c
 * does the bookkeeping and the closing. */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

/* Oldest first, so the most recently used are at the end. */
static int by_last(const void *a, const void *b)
{
	double x = ((const struct kad_keep *)a)->last, y = ((const struct kad_keep *)b)->last;

	return x < y ? -1 : x > y;
}

/* An idle connection, by its id, and where it sits in the records. */
struct slot {
	uint64_t conn;
	int at;
};

static int by_conn(const void *a, const void *b)
{
	uint64_t x = ((const struct slot *)a)->conn, y = ((const struct slot *)b)->conn;

	return x < y ? -1 : x > y;
}

/* Marks peer[i] for each of c[0..m) that is the connection of a live
 * table entry. The table is walked once, each entry's connection looked
 * up among the m sorted by id: O((m + entries) log m). */
static int mark_peers(const struct kad_keep *c, int m, const struct kad_table *t,
                      uint8_t *peer)
{
	struct slot *s = malloc((size_t)m * sizeof(*s));

	if (s == NULL)
		return -1;
	for (int i = 0; i < m; i++) {
		s[i].conn = c[i].conn;
		s[i].at = i;
	}
	qsort(s, (size_t)m, sizeof(*s), by_conn);
	for (int bi = 0; bi < t->nbuckets; bi++) {
		for (int j = 0; j < t->b[bi].nlive; j++) {
			const struct kad_entry *e = &t->b[bi].live[j];
			struct slot key = { e->conn, 0 }, *hit;
			if (e->conn == 0 || e->unverified || e->fails != 0)
				continue;
			hit = bsearch(&key, s, (size_t)m, sizeof(*s), by_conn);
			if (hit != NULL)
				peer[hit->at] = 1;
		}
	}
	free(s);
	return 0;
}

int kad_keep_pick(struct kad_keep *c, int *n, const struct kad_table *t, double now,
                  double idle, int keep, uint64_t *closed, int max)
{
	uint8_t *peer = NULL;
	int m = 0, kept = 0, nclosed = 0, w;

	if (*n > 1)
		qsort(c, (size_t)*n, sizeof(*c), by_last);
	/* Oldest first: the idle ones are a prefix. */
	while (m < *n && now - c[m].last >= idle)
		m++;
	if (m == 0)
		return 0;
	if (keep > 0) {
		if ((peer = calloc((size_t)m, 1)) == NULL || mark_peers(c, m, t, peer) < 0) {
			free(peer);
			return -1;
		}
	}
	/* From the most recently used down, the first `keep` peers stay;
	 * the closed ones go to closed[] and the rest slide to the end of
	 * the prefix, keeping their order. */
	w = m;
	for (int i = m - 1; i >= 0; i--) {
		if ((peer != NULL && peer[i] && kept < keep) || nclosed == max) {
			kept += peer != NULL && peer[i];
			c[--w] = c[i];
		} else {
			closed[nclosed++] = c[i].conn;
		}
	}
	free(peer);
	/* c[w..] is what stays: move it to the front. */
	if (w > 0)
		memmove(c, c + w, (size_t)(*n - w) * sizeof(*c));
	*n -= w;
	return nclosed;
}

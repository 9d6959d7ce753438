/* kad_table.c -- the routing table: k-buckets with replacement caches.
 *
 * Only nodes that answered one of our requests get here (the glue makes
 * sure of it), so the table never holds an address nobody answered from.
 * A full bucket keeps its old nodes: a newcomer waits in the replacement
 * cache while the least recently seen node is pinged, and takes its slot
 * only if that ping fails. Long-lived nodes are the likeliest to stay. */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

int kad_table_init(struct kad_table *t, const uint8_t self[KAD_ID_LEN], int k)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->self, self, KAD_ID_LEN);
	t->k = k < 1 ? 1 : k > KAD_MAX_K ? KAD_MAX_K : k;
	t->nbuckets = 1;
	t->b[0].live = calloc((size_t)t->k, sizeof(struct kad_entry));
	t->b[0].repl = calloc((size_t)t->k, sizeof(struct kad_entry));
	if (t->b[0].live == NULL || t->b[0].repl == NULL) {
		kad_table_release(t);
		return -1;
	}
	return 0;
}

void kad_table_release(struct kad_table *t)
{
	for (int i = 0; i < KAD_ID_BITS; i++) {
		free(t->b[i].live);
		free(t->b[i].repl);
		t->b[i].live = t->b[i].repl = NULL;
		t->b[i].nlive = t->b[i].nrepl = 0;
	}
	t->nbuckets = 0;
}

int kad_table_bucket_of(const struct kad_table *t, const uint8_t id[KAD_ID_LEN])
{
	int cpl = kad_common_prefix(t->self, id);
	return cpl < t->nbuckets - 1 ? cpl : t->nbuckets - 1;
}

static int index_in(const struct kad_entry *e, int n, const uint8_t id[KAD_ID_LEN])
{
	for (int i = 0; i < n; i++)
		if (memcmp(e[i].n.id, id, KAD_ID_LEN) == 0)
			return i;
	return -1;
}

static void remove_at(struct kad_entry *e, int *n, int i)
{
	memmove(&e[i], &e[i + 1], (size_t)(*n - i - 1) * sizeof(*e));
	(*n)--;
}

/* Splits the last bucket: the nodes sharing exactly nbuckets-1 bits with
 * self stay, the closer ones move to the new last bucket. Replacement
 * entries follow the same rule. */
static int split_last(struct kad_table *t)
{
	int last = t->nbuckets - 1;
	struct kad_bucket *old = &t->b[last], *nb = &t->b[last + 1];
	int keep = 0, keepr = 0;

	if (last + 1 >= KAD_ID_BITS)
		return -1;
	nb->live = calloc((size_t)t->k, sizeof(struct kad_entry));
	nb->repl = calloc((size_t)t->k, sizeof(struct kad_entry));
	if (nb->live == NULL || nb->repl == NULL) {
		free(nb->live);
		free(nb->repl);
		nb->live = nb->repl = NULL;
		return -1;
	}
	nb->nlive = nb->nrepl = 0;
	nb->touched = old->touched;
	for (int i = 0; i < old->nlive; i++) {
		if (kad_common_prefix(t->self, old->live[i].n.id) > last)
			nb->live[nb->nlive++] = old->live[i];
		else
			old->live[keep++] = old->live[i];
	}
	old->nlive = keep;
	for (int i = 0; i < old->nrepl; i++) {
		if (kad_common_prefix(t->self, old->repl[i].n.id) > last)
			nb->repl[nb->nrepl++] = old->repl[i];
		else
			old->repl[keepr++] = old->repl[i];
	}
	old->nrepl = keepr;
	t->nbuckets++;
	return 0;
}

int kad_table_has_room(const struct kad_table *t, const uint8_t id[KAD_ID_LEN])
{
	int bi = kad_table_bucket_of(t, id);

	if (memcmp(id, t->self, KAD_ID_LEN) == 0)
		return 0;
	if (index_in(t->b[bi].live, t->b[bi].nlive, id) >= 0)
		return 0;
	return t->b[bi].nlive < t->k ||
	       (bi == t->nbuckets - 1 && t->nbuckets < KAD_ID_BITS);
}

/* Puts a node in the replacement cache, newest last; a full cache drops
 * its oldest, which is the least likely to still be up. */
static void cache(struct kad_bucket *b, int k, const struct kad_node *n, double now)
{
	int i = index_in(b->repl, b->nrepl, n->id);

	if (i >= 0)
		remove_at(b->repl, &b->nrepl, i);
	else if (b->nrepl == k)
		remove_at(b->repl, &b->nrepl, 0);
	memset(&b->repl[b->nrepl], 0, sizeof(b->repl[0]));
	b->repl[b->nrepl].n = *n;
	b->repl[b->nrepl].last_seen = now;
	b->nrepl++;
}

int kad_table_seen(struct kad_table *t, const struct kad_node *n, double now,
                   struct kad_node *ping_out, int *need_ping)
{
	struct kad_bucket *b;
	int bi, i;

	if (need_ping)
		*need_ping = 0;
	if (memcmp(n->id, t->self, KAD_ID_LEN) == 0)
		return KAD_TB_SELF;
	for (;;) {
		bi = kad_table_bucket_of(t, n->id);
		b = &t->b[bi];
		i = index_in(b->live, b->nlive, n->id);
		if (i >= 0) {
			struct kad_entry e = b->live[i];
			remove_at(b->live, &b->nlive, i);
			e.n = *n;          /* it answered from this address */
			e.last_seen = now;
			e.fails = 0;
			e.pinging = 0;
			b->live[b->nlive++] = e;
			return KAD_TB_UPDATED;
		}
		if (b->nlive < t->k) {
			memset(&b->live[b->nlive], 0, sizeof(b->live[0]));
			b->live[b->nlive].n = *n;
			b->live[b->nlive].last_seen = now;
			b->nlive++;
			if ((i = index_in(b->repl, b->nrepl, n->id)) >= 0)
				remove_at(b->repl, &b->nrepl, i);
			return KAD_TB_ADDED;
		}
		if (bi != t->nbuckets - 1 || split_last(t) < 0)
			break;
	}
	cache(b, t->k, n, now);
	if (!b->live[0].pinging) {
		b->live[0].pinging = 1;
		if (ping_out)
			*ping_out = b->live[0].n;
		if (need_ping)
			*need_ping = 1;
	}
	return KAD_TB_CACHED;
}

int kad_table_failed(struct kad_table *t, const uint8_t id[KAD_ID_LEN], int limit)
{
	int bi = kad_table_bucket_of(t, id);
	struct kad_bucket *b = &t->b[bi];
	int i = index_in(b->live, b->nlive, id);

	if (i < 0) {
		/* A cached node that fails is simply forgotten. */
		if ((i = index_in(b->repl, b->nrepl, id)) >= 0)
			remove_at(b->repl, &b->nrepl, i);
		return 0;
	}
	b->live[i].fails++;
	/* A node that failed stays while nothing can take its slot: an empty
	 * slot is worth less than a node that may only have been slow. It goes
	 * when it failed an eviction ping, failed `limit` times, or a verified
	 * replacement is waiting. */
	if (!b->live[i].pinging && b->live[i].fails < limit && b->nrepl == 0)
		return 0;
	remove_at(b->live, &b->nlive, i);
	if (b->nrepl > 0) {
		struct kad_entry e = b->repl[b->nrepl - 1];
		b->nrepl--;
		e.fails = 0;
		e.pinging = 0;
		b->live[b->nlive++] = e;
	}
	return 1;
}

const struct kad_entry *kad_table_find(const struct kad_table *t,
                                       const uint8_t id[KAD_ID_LEN])
{
	int bi = kad_table_bucket_of(t, id);
	int i = index_in(t->b[bi].live, t->b[bi].nlive, id);

	return i >= 0 ? &t->b[bi].live[i] : NULL;
}

/* A node beside its distance to the target, so that qsort needs no
 * context (and the plugin no global to pass it in). */
struct by_dist {
	uint8_t dist[KAD_ID_LEN];
	struct kad_node n;
};

static int by_distance(const void *a, const void *b)
{
	return memcmp(((const struct by_dist *)a)->dist, ((const struct by_dist *)b)->dist,
	              KAD_ID_LEN);
}

/* Every live node, sorted: the table holds at most a few hundred, so a
 * full sort is cheaper to get right than a walk outward from one bucket. */
int kad_table_closest(const struct kad_table *t, const uint8_t target[KAD_ID_LEN],
                      struct kad_node *out, int max)
{
	int total = kad_table_size(t), n = 0;
	struct by_dist *all;

	if (max <= 0 || total == 0)
		return 0;
	if ((all = malloc((size_t)total * sizeof(*all))) == NULL)
		return 0;
	for (int bi = 0; bi < t->nbuckets; bi++) {
		for (int i = 0; i < t->b[bi].nlive; i++, n++) {
			all[n].n = t->b[bi].live[i].n;
			for (int k = 0; k < KAD_ID_LEN; k++)
				all[n].dist[k] = all[n].n.id[k] ^ target[k];
		}
	}
	qsort(all, (size_t)n, sizeof(*all), by_distance);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		out[i] = all[i].n;
	free(all);
	return n;
}

int kad_table_size(const struct kad_table *t)
{
	int n = 0;

	for (int bi = 0; bi < t->nbuckets; bi++)
		n += t->b[bi].nlive;
	return n;
}

void kad_table_touch(struct kad_table *t, const uint8_t id[KAD_ID_LEN], double now)
{
	t->b[kad_table_bucket_of(t, id)].touched = now;
}

/* kad_table.c -- the routing table: k-buckets with replacement caches.
 *
 * Only nodes that answered one of our requests get here (the glue makes
 * sure of it), so the table never holds an address nobody answered from.
 * A full bucket keeps its old nodes: a newcomer waits in the replacement
 * cache while the least recently seen node is pinged, and takes its slot
 * only if that ping fails. Long-lived nodes are the likeliest to stay.
 *
 * Ids are free to make up, addresses are not: one machine can answer for
 * any number of ids, so entries are also counted by address. At most
 * per_ip_bucket entries of one ip group share a bucket and at most
 * per_prefix entries of one prefix group share the table, so no single
 * address or neighbourhood can fill a bucket or the answers we give. */
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

void kad_table_set_limits(struct kad_table *t, int per_ip_bucket, int per_prefix)
{
	t->per_ip_bucket = per_ip_bucket > 0 ? per_ip_bucket : 0;
	t->per_prefix = per_prefix > 0 ? per_prefix : 0;
}

void kad_table_mark_unverified(struct kad_table *t)
{
	for (int bi = 0; bi < t->nbuckets; bi++)
		for (int i = 0; i < t->b[bi].nlive; i++)
			t->b[bi].live[i].unverified = 1;
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

/* Entries of e[0..n) in g's ip group, and in its prefix group. */
static void count_groups(const struct kad_entry *e, int n, const struct kad_groups *g,
                         const uint8_t *skip_id, int *ip, int *prefix)
{
	for (int i = 0; i < n; i++) {
		if (skip_id && memcmp(e[i].n.id, skip_id, KAD_ID_LEN) == 0)
			continue;
		if (memcmp(e[i].g.prefix, g->prefix, KAD_GROUP_LEN) != 0)
			continue;
		(*prefix)++;
		*ip += memcmp(e[i].g.ip, g->ip, KAD_GROUP_LEN) == 0;
	}
}

/* May a node with groups g (and id, which does not count against itself)
 * take a live slot in bucket bi? The ip limit counts the bucket, the
 * prefix limit the whole table. After a split the bucket's entries are
 * spread over two buckets, so a refusal here is checked again then. */
static int live_fits(const struct kad_table *t, int bi, const struct kad_groups *g,
                     const uint8_t *id)
{
	int ip = 0, prefix = 0;

	if (t->per_ip_bucket == 0 && t->per_prefix == 0)
		return 1;
	count_groups(t->b[bi].live, t->b[bi].nlive, g, id, &ip, &prefix);
	if (t->per_ip_bucket && ip >= t->per_ip_bucket)
		return 0;
	if (t->per_prefix == 0)
		return 1;
	prefix = 0;
	for (int b = 0; b < t->nbuckets; b++) {
		int dummy = 0;
		count_groups(t->b[b].live, t->b[b].nlive, g, id, &dummy, &prefix);
	}
	return prefix < t->per_prefix;
}

/* The same limits among the replacement caches. */
static int repl_fits(const struct kad_table *t, int bi, const struct kad_groups *g,
                     const uint8_t *id)
{
	int ip = 0, prefix = 0;

	if (t->per_ip_bucket == 0 && t->per_prefix == 0)
		return 1;
	count_groups(t->b[bi].repl, t->b[bi].nrepl, g, id, &ip, &prefix);
	if (t->per_ip_bucket && ip >= t->per_ip_bucket)
		return 0;
	if (t->per_prefix == 0)
		return 1;
	prefix = 0;
	for (int b = 0; b < t->nbuckets; b++) {
		int dummy = 0;
		count_groups(t->b[b].repl, t->b[b].nrepl, g, id, &dummy, &prefix);
	}
	return prefix < t->per_prefix;
}

int kad_table_has_room(const struct kad_table *t, const uint8_t id[KAD_ID_LEN],
                       const char *addr)
{
	int bi = kad_table_bucket_of(t, id);
	struct kad_groups g;

	if (memcmp(id, t->self, KAD_ID_LEN) == 0 || kad_addr_groups(addr, &g) < 0)
		return 0;
	if (index_in(t->b[bi].live, t->b[bi].nlive, id) >= 0)
		return 0;
	/* A bucket that would split may hold the node after the split even
	 * if its ip has its share of the bucket now: the ping decides. */
	if (bi == t->nbuckets - 1 && t->nbuckets < KAD_ID_BITS && t->b[bi].nlive >= t->k)
		return 1;
	return t->b[bi].nlive < t->k && live_fits(t, bi, &g, NULL);
}

/* Puts a node in the replacement cache, newest last; a full cache drops
 * its oldest, which is the least likely to still be up. */
static int cache(struct kad_table *t, int bi, const struct kad_node *n,
                 const struct kad_groups *g, double now)
{
	struct kad_bucket *b = &t->b[bi];
	int i = index_in(b->repl, b->nrepl, n->id);

	if (!repl_fits(t, bi, g, n->id)) {
		if (i >= 0)
			remove_at(b->repl, &b->nrepl, i);
		return -1;
	}
	if (i >= 0)
		remove_at(b->repl, &b->nrepl, i);
	else if (b->nrepl == t->k)
		remove_at(b->repl, &b->nrepl, 0);
	memset(&b->repl[b->nrepl], 0, sizeof(b->repl[0]));
	b->repl[b->nrepl].n = *n;
	b->repl[b->nrepl].g = *g;
	b->repl[b->nrepl].last_seen = now;
	b->nrepl++;
	return 0;
}

int kad_table_seen(struct kad_table *t, const struct kad_node *n, double now,
                   struct kad_node *ping_out, int *need_ping)
{
	struct kad_bucket *b;
	struct kad_groups g;
	int bi, i;

	if (need_ping)
		*need_ping = 0;
	if (memcmp(n->id, t->self, KAD_ID_LEN) == 0)
		return KAD_TB_SELF;
	if (kad_addr_groups(n->addr, &g) < 0)
		return KAD_TB_LIMIT;
	for (;;) {
		bi = kad_table_bucket_of(t, n->id);
		b = &t->b[bi];
		i = index_in(b->live, b->nlive, n->id);
		if (i >= 0) {
			struct kad_entry e = b->live[i];
			remove_at(b->live, &b->nlive, i);
			/* It answered from this address. A move into a crowded
			 * neighbourhood costs it its slot like any newcomer. */
			if (memcmp(e.g.ip, g.ip, KAD_GROUP_LEN) != 0 && !live_fits(t, bi, &g, n->id))
				return KAD_TB_LIMIT;
			e.n = *n;
			e.g = g;
			e.last_seen = now;
			e.fails = 0;
			e.pinging = 0;
			e.unverified = 0;
			b->live[b->nlive++] = e;
			return KAD_TB_UPDATED;
		}
		if (b->nlive < t->k && !live_fits(t, bi, &g, NULL))
			return KAD_TB_LIMIT;
		if (b->nlive < t->k) {
			memset(&b->live[b->nlive], 0, sizeof(b->live[0]));
			b->live[b->nlive].n = *n;
			b->live[b->nlive].g = g;
			b->live[b->nlive].last_seen = now;
			b->nlive++;
			if ((i = index_in(b->repl, b->nrepl, n->id)) >= 0)
				remove_at(b->repl, &b->nrepl, i);
			return KAD_TB_ADDED;
		}
		if (bi != t->nbuckets - 1 || split_last(t) < 0)
			break;
	}
	if (!live_fits(t, bi, &g, NULL) || cache(t, bi, n, &g, now) < 0)
		return KAD_TB_LIMIT;
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
	 * when it failed an eviction ping, failed `limit` times, a verified
	 * replacement is waiting, or it came from saved state and has never
	 * answered this run. */
	if (!b->live[i].pinging && !b->live[i].unverified && b->live[i].fails < limit &&
	    b->nrepl == 0)
		return 0;
	remove_at(b->live, &b->nlive, i);
	/* The newest replacement that fits the address limits of the live
	 * entries takes the slot. */
	for (int r = b->nrepl - 1; r >= 0; r--) {
		struct kad_entry e = b->repl[r];
		if (!live_fits(t, bi, &e.g, NULL))
			continue;
		remove_at(b->repl, &b->nrepl, r);
		e.fails = 0;
		e.pinging = 0;
		b->live[b->nlive++] = e;
		break;
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

/* Adds bucket bi's live entries to buf[*n..], sorted by distance to the
 * target among themselves. A bucket holds at most k entries, so insertion
 * sort does, and needs no global to carry the target into qsort. */
static void take_bucket(const struct kad_table *t, const uint8_t target[KAD_ID_LEN], int bi,
                        int verified_only, struct kad_node *buf, int *n)
{
	int from = *n;

	for (int i = 0; i < t->b[bi].nlive; i++) {
		struct kad_node x;
		int j;
		if (verified_only && t->b[bi].live[i].unverified)
			continue;
		x = t->b[bi].live[i].n;
		for (j = *n; j > from && kad_closer(target, x.id, buf[j - 1].id) < 0; j--)
			buf[j] = buf[j - 1];
		buf[j] = x;
		(*n)++;
	}
}

static int id_bit(const uint8_t id[KAD_ID_LEN], int i)
{
	return id[i / 8] >> (7 - i % 8) & 1;
}

/* Buckets partition the id space by distance to self, and so also by
 * distance to a target sharing c leading bits with self, which lets us
 * visit whole buckets nearest first and sort only what we take:
 * - bucket c shares more than c bits with the target: nearest of all;
 * - every deeper bucket j differs from the target first at bit c. Among
 *   them, at bit j a node of bucket j differs from self and a node of a
 *   deeper bucket agrees with self, so where the target differs from self
 *   at bit j, bucket j is nearer than everything deeper, and where the
 *   target agrees with self, farther. The last bucket sits between;
 * - bucket i < c differs from the target first at bit i: c-1 before c-2.
 * With c at or past the last bucket, the last bucket comes first. The
 * work is a few buckets of at most k entries, whatever the table size. */
int kad_table_closest(const struct kad_table *t, const uint8_t target[KAD_ID_LEN],
                      struct kad_node *out, int max, int verified_only)
{
	struct kad_node buf[3 * KAD_MAX_K];
	int farther[KAD_ID_BITS];
	int last = t->nbuckets - 1, c, n = 0, nfar = 0;

	if (max > 2 * KAD_MAX_K)
		max = 2 * KAD_MAX_K;
	if (max <= 0 || t->nbuckets == 0)
		return 0;
	c = kad_common_prefix(t->self, target);
	if (c >= last) {
		take_bucket(t, target, last, verified_only, buf, &n);
		c = last;
	} else {
		take_bucket(t, target, c, verified_only, buf, &n);
		for (int j = c + 1; j < last && n < max; j++) {
			if (id_bit(target, j) != id_bit(t->self, j))
				take_bucket(t, target, j, verified_only, buf, &n);
			else
				farther[nfar++] = j;
		}
		if (n < max)
			take_bucket(t, target, last, verified_only, buf, &n);
		while (nfar > 0 && n < max)
			take_bucket(t, target, farther[--nfar], verified_only, buf, &n);
	}
	for (int bi = c - 1; bi >= 0 && n < max; bi--)
		take_bucket(t, target, bi, verified_only, buf, &n);
	if (n > max)
		n = max;
	memcpy(out, buf, (size_t)n * sizeof(*buf));
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

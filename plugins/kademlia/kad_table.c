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
 * address or neighbourhood can fill a bucket or the answers we give.
 *
 * A table costs what it holds: arrays grow with their entries, entries
 * keep their address parsed, and the groups are worked out from it when
 * counted, not stored beside it (kad.h). */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

/* Entries are allocated this many at a time, up to k: a bucket far from
 * self is full, the deepest ones hold a few, and replacement caches are
 * often empty, so k slots for every array would mostly be waste. */
#define GROW_STEP 4

static int grow_entries(struct kad_entry **e, uint8_t *cap, int want, int k)
{
	struct kad_entry *ne;
	int ncap;

	if (want <= *cap)
		return 0;
	if (want > k)
		return -1;
	ncap = (want + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
	if (ncap > k)
		ncap = k;
	if ((ne = realloc(*e, (size_t)ncap * sizeof(*ne))) == NULL)
		return -1;
	*e = ne;
	*cap = (uint8_t)ncap;
	return 0;
}

/* Room for one more bucket; the array doubles, so a table of b buckets
 * has moved at most log2(b) times. Pointers into t->b do not survive it. */
static int grow_buckets(struct kad_table *t)
{
	struct kad_bucket *nb;
	int ncap;

	if (t->nbuckets < t->capbuckets)
		return 0;
	ncap = t->capbuckets ? 2 * t->capbuckets : 8;
	if (ncap > KAD_ID_BITS)
		ncap = KAD_ID_BITS;
	if (ncap <= t->nbuckets || (nb = realloc(t->b, (size_t)ncap * sizeof(*nb))) == NULL)
		return -1;
	memset(nb + t->capbuckets, 0, (size_t)(ncap - t->capbuckets) * sizeof(*nb));
	t->b = nb;
	t->capbuckets = ncap;
	return 0;
}

int kad_table_init(struct kad_table *t, const uint8_t self[KAD_ID_LEN], int k)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->self, self, KAD_ID_LEN);
	t->k = k < 1 ? 1 : k > KAD_MAX_K ? KAD_MAX_K : k;
	if (grow_buckets(t) < 0)
		return -1;
	t->nbuckets = 1;
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
	for (int i = 0; i < t->nbuckets; i++) {
		free(t->b[i].live);
		free(t->b[i].repl);
	}
	free(t->b);
	t->b = NULL;
	t->nbuckets = t->capbuckets = 0;
}

int kad_table_bucket_of(const struct kad_table *t, const uint8_t id[KAD_ID_LEN])
{
	int cpl = kad_common_prefix(t->self, id);
	return cpl < t->nbuckets - 1 ? cpl : t->nbuckets - 1;
}

void kad_entry_node(const struct kad_entry *e, struct kad_node *out)
{
	memcpy(out->id, e->id, KAD_ID_LEN);
	kad_addr_unpack(&e->a, out->addr);
}

int kad_entry_addr_is(const struct kad_entry *e, const char *addr)
{
	struct kad_paddr a;

	/* Two spellings of one address are one address (PROTOCOL.md 2). */
	return kad_addr_pack(addr, &a) == 0 && memcmp(a.ip, e->a.ip, 16) == 0 &&
	       a.port == e->a.port;
}

static int index_in(const struct kad_entry *e, int n, const uint8_t id[KAD_ID_LEN])
{
	for (int i = 0; i < n; i++)
		if (memcmp(e[i].id, id, KAD_ID_LEN) == 0)
			return i;
	return -1;
}

static void remove_at(struct kad_entry *e, uint8_t *n, int i)
{
	memmove(&e[i], &e[i + 1], (size_t)(*n - i - 1) * sizeof(*e));
	(*n)--;
}

/* A fresh entry for n at address a. */
static struct kad_entry entry_new(const struct kad_node *n, const struct kad_paddr *a,
                                  double now)
{
	struct kad_entry e;

	memset(&e, 0, sizeof(e));
	memcpy(e.id, n->id, KAD_ID_LEN);
	e.a = *a;
	e.last_seen = now;
	return e;
}

/* Splits the last bucket: the nodes sharing exactly nbuckets-1 bits with
 * self stay, the closer ones move to the new last bucket. Replacement
 * entries follow the same rule. */
static int split_last(struct kad_table *t)
{
	int last = t->nbuckets - 1, keep = 0, keepr = 0, move = 0, mover = 0;
	struct kad_bucket *old, *nb;

	if (last + 1 >= KAD_ID_BITS || grow_buckets(t) < 0)
		return -1;
	old = &t->b[last];
	nb = &t->b[last + 1];
	for (int i = 0; i < old->nlive; i++)
		move += kad_common_prefix(t->self, old->live[i].id) > last;
	for (int i = 0; i < old->nrepl; i++)
		mover += kad_common_prefix(t->self, old->repl[i].id) > last;
	memset(nb, 0, sizeof(*nb));
	if (grow_entries(&nb->live, &nb->caplive, move, t->k) < 0 ||
	    grow_entries(&nb->repl, &nb->caprepl, mover, t->k) < 0) {
		free(nb->live);
		free(nb->repl);
		memset(nb, 0, sizeof(*nb));
		return -1;
	}
	nb->touched = old->touched;
	for (int i = 0; i < old->nlive; i++) {
		if (kad_common_prefix(t->self, old->live[i].id) > last)
			nb->live[nb->nlive++] = old->live[i];
		else
			old->live[keep++] = old->live[i];
	}
	old->nlive = (uint8_t)keep;
	for (int i = 0; i < old->nrepl; i++) {
		if (kad_common_prefix(t->self, old->repl[i].id) > last)
			nb->repl[nb->nrepl++] = old->repl[i];
		else
			old->repl[keepr++] = old->repl[i];
	}
	old->nrepl = (uint8_t)keepr;
	t->nbuckets++;
	return 0;
}

/* Is a in group g's prefix group (and *ip: its ip group)? The same as
 * comparing kad_paddr_groups(a) with g, without building the groups: an
 * IPv4 (mapped) address and a plain IPv6 one never share a group, and a
 * group's bytes past its prefix are zero. */
static int in_prefix(const struct kad_paddr *a, const struct kad_groups *g, int *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	int a4 = memcmp(a->ip, mapped, 12) == 0, g4 = memcmp(g->prefix, mapped, 12) == 0;

	if (a4 != g4 || memcmp(a->ip, g->prefix, a4 ? 15 : 6) != 0)
		return 0;
	*ip = memcmp(a->ip, g->ip, a4 ? 16 : 8) == 0;
	return 1;
}

/* May a node with groups g (and id, which does not count against itself)
 * take a slot in bucket bi? `repl` 0 counts the live entries, 1 the
 * replacement caches: each obeys the limits among its own. The ip limit
 * counts the bucket, the prefix limit the whole table. After a split the
 * bucket's entries are spread over two buckets, so a refusal here is
 * checked again then. */
static int fits(const struct kad_table *t, int bi, const struct kad_groups *g,
                const uint8_t *id, int repl)
{
	int ip = 0, prefix = 0;

	if (t->per_ip_bucket == 0 && t->per_prefix == 0)
		return 1;
	for (int b = 0; b < t->nbuckets; b++) {
		const struct kad_entry *e = repl ? t->b[b].repl : t->b[b].live;
		int n = repl ? t->b[b].nrepl : t->b[b].nlive, same_ip;
		if (t->per_prefix == 0 && b != bi)
			continue;
		for (int i = 0; i < n; i++) {
			if (!in_prefix(&e[i].a, g, &same_ip) ||
			    (id && memcmp(e[i].id, id, KAD_ID_LEN) == 0))
				continue;
			prefix++;
			ip += b == bi && same_ip;
		}
	}
	if (t->per_ip_bucket && ip >= t->per_ip_bucket)
		return 0;
	return t->per_prefix == 0 || prefix < t->per_prefix;
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
	return t->b[bi].nlive < t->k && fits(t, bi, &g, NULL, 0);
}

/* Puts a node in the replacement cache, newest last; a full cache drops
 * its oldest, which is the least likely to still be up. */
static int cache(struct kad_table *t, int bi, const struct kad_node *n,
                 const struct kad_paddr *a, const struct kad_groups *g, double now)
{
	struct kad_bucket *b = &t->b[bi];
	int i = index_in(b->repl, b->nrepl, n->id);

	if (!fits(t, bi, g, n->id, 1)) {
		if (i >= 0)
			remove_at(b->repl, &b->nrepl, i);
		return -1;
	}
	if (i >= 0)
		remove_at(b->repl, &b->nrepl, i);
	else if (b->nrepl == t->k)
		remove_at(b->repl, &b->nrepl, 0);
	if (grow_entries(&b->repl, &b->caprepl, b->nrepl + 1, t->k) < 0)
		return -1;
	b->repl[b->nrepl++] = entry_new(n, a, now);
	return 0;
}

int kad_table_seen(struct kad_table *t, const struct kad_node *n, double now,
                   struct kad_node *ping_out, int *need_ping)
{
	struct kad_bucket *b;
	struct kad_paddr a;
	struct kad_groups g;
	int bi, i;

	if (need_ping)
		*need_ping = 0;
	if (memcmp(n->id, t->self, KAD_ID_LEN) == 0)
		return KAD_TB_SELF;
	if (kad_addr_pack(n->addr, &a) < 0)
		return KAD_TB_LIMIT;
	kad_paddr_groups(&a, &g);
	for (;;) {
		bi = kad_table_bucket_of(t, n->id);
		b = &t->b[bi];
		i = index_in(b->live, b->nlive, n->id);
		if (i >= 0) {
			struct kad_entry e = b->live[i];
			struct kad_groups eg;
			remove_at(b->live, &b->nlive, i);
			/* It answered from this address. A move into a crowded
			 * neighbourhood costs it its slot like any newcomer. */
			kad_paddr_groups(&e.a, &eg);
			if (memcmp(eg.ip, g.ip, KAD_GROUP_LEN) != 0 && !fits(t, bi, &g, n->id, 0))
				return KAD_TB_LIMIT;
			if (e.a.port != a.port || memcmp(e.a.ip, a.ip, sizeof(a.ip)) != 0)
				e.conn = 0;     /* a connection to the old address */
			e.a = a;
			e.last_seen = now;
			e.fails = 0;
			e.pinging = 0;
			e.unverified = 0;
			b->live[b->nlive++] = e;
			return KAD_TB_UPDATED;
		}
		if (b->nlive < t->k && !fits(t, bi, &g, NULL, 0))
			return KAD_TB_LIMIT;
		if (b->nlive < t->k) {
			if (grow_entries(&b->live, &b->caplive, b->nlive + 1, t->k) < 0)
				return KAD_TB_NOMEM;
			b->live[b->nlive++] = entry_new(n, &a, now);
			if ((i = index_in(b->repl, b->nrepl, n->id)) >= 0)
				remove_at(b->repl, &b->nrepl, i);
			return KAD_TB_ADDED;
		}
		if (bi != t->nbuckets - 1 || split_last(t) < 0)
			break;
	}
	if (!fits(t, bi, &g, NULL, 0) || cache(t, bi, n, &a, &g, now) < 0)
		return KAD_TB_LIMIT;
	if (!b->live[0].pinging) {
		b->live[0].pinging = 1;
		if (ping_out)
			kad_entry_node(&b->live[0], ping_out);
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
	if (b->live[i].fails < UINT8_MAX)
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
	 * entries takes the slot (the live array has room: one just left). */
	for (int r = b->nrepl - 1; r >= 0; r--) {
		struct kad_entry e = b->repl[r];
		struct kad_groups eg;
		kad_paddr_groups(&e.a, &eg);
		if (!fits(t, bi, &eg, NULL, 0))
			continue;
		remove_at(b->repl, &b->nrepl, r);
		e.fails = 0;
		e.pinging = 0;
		b->live[b->nlive++] = e;
		break;
	}
	return 1;
}

void kad_table_note_conn(struct kad_table *t, const struct kad_node *n, uint64_t conn)
{
	int bi = kad_table_bucket_of(t, n->id);
	int i = index_in(t->b[bi].live, t->b[bi].nlive, n->id);

	if (i >= 0 && kad_entry_addr_is(&t->b[bi].live[i], n->addr))
		t->b[bi].live[i].conn = conn;
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
                        int verified_only, const struct kad_entry **buf, int *n)
{
	int from = *n;

	for (int i = 0; i < t->b[bi].nlive; i++) {
		const struct kad_entry *x = &t->b[bi].live[i];
		int j;
		if (verified_only && x->unverified)
			continue;
		for (j = *n; j > from && kad_closer(target, x->id, buf[j - 1]->id) < 0; j--)
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
	const struct kad_entry *buf[3 * KAD_MAX_K];
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
	/* Only the entries given out are turned back into text. */
	for (int i = 0; i < n; i++)
		kad_entry_node(buf[i], &out[i]);
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

/* kad_store.c -- the values this node holds: bounded, expiring, newest
 * wins, shared fairly between the addresses that store them.
 *
 * A sorted array of pointers: lookups are a binary search, and inserting
 * moves at most max_values pointers, which is cheaper than it sounds and
 * simpler than a hash table that must also be walked in order. */
#include "kad.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void kad_store_init(struct kad_store *s, int max_values, uint32_t max_size)
{
	memset(s, 0, sizeof(*s));
	s->max_values = max_values < 1 ? 1 : max_values;
	/* An honest node republishes for many writers, so one address may
	 * hold a good part of the store; but it takes eight addresses, from
	 * four neighbourhoods, to fill it, and even then the eviction below
	 * keeps room for everyone else. */
	s->ip_share = s->max_values / 8 < 1 ? 1 : s->max_values / 8;
	s->prefix_share = s->max_values / 4 < 1 ? 1 : s->max_values / 4;
	s->max_size = max_size;
	s->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)s;
}

void kad_store_source(const char *addr, uint8_t source[KAD_ID_LEN])
{
	struct kad_groups g;

	memset(source, 0, KAD_ID_LEN);
	if (addr != NULL && kad_addr_groups(addr, &g) == 0) {
		memcpy(source, g.ip, KAD_GROUP_LEN);
		memcpy(source + KAD_GROUP_LEN, g.prefix, KAD_GROUP_LEN);
	}
}

static int is_own(const uint8_t source[KAD_ID_LEN])
{
	static const uint8_t zero[KAD_ID_LEN];
	return memcmp(source, zero, KAD_ID_LEN) == 0;
}

void kad_store_release(struct kad_store *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* Index of key, or -(insertion point) - 1. */
static int find(const struct kad_store *s, const uint8_t key[KAD_ID_LEN])
{
	int lo = 0, hi = s->n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = memcmp(s->v[mid]->key, key, KAD_ID_LEN);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

int kad_value_newer(uint64_t seq_a, const void *a, uint32_t la,
                    uint64_t seq_b, const void *b, uint32_t lb)
{
	uint32_t m = la < lb ? la : lb;
	int c;

	if (seq_a != seq_b)
		return seq_a > seq_b ? 1 : -1;
	c = memcmp(a, b, m);
	if (c != 0)
		return c > 0 ? 1 : -1;
	return la == lb ? 0 : la > lb ? 1 : -1;
}

/* Values held from source's ip group and from its prefix group. */
static void count_source(const struct kad_store *s, const uint8_t source[KAD_ID_LEN],
                         int *ip, int *prefix)
{
	*ip = *prefix = 0;
	for (int i = 0; i < s->n; i++) {
		if (memcmp(s->v[i]->source + KAD_GROUP_LEN, source + KAD_GROUP_LEN,
		           KAD_GROUP_LEN) != 0)
			continue;
		(*prefix)++;
		*ip += memcmp(s->v[i]->source, source, KAD_GROUP_LEN) == 0;
	}
}

static uint64_t next_rand(struct kad_store *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void remove_index(struct kad_store *s, int i)
{
	free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (size_t)(s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* The store is full and a source holding `have` values in its prefix
 * group wants one more. Among a few values drawn at random, the one whose
 * prefix group holds the most is dropped, if that group holds more than
 * have + 1 (for our own puts, any group at all). A source that floods
 * holds most of the store, so the draw finds it at once. Returns 0 if a
 * value was dropped. */
static int evict_for(struct kad_store *s, int have, int own)
{
	int victim = -1, most = 0;

	for (int tries = 0; tries < 16 && s->n > 0; tries++) {
		int i = (int)(next_rand(s) % (uint64_t)s->n), ip, prefix;
		if (is_own(s->v[i]->source))
			continue;
		count_source(s, s->v[i]->source, &ip, &prefix);
		if (prefix > most) {
			most = prefix;
			victim = i;
		}
	}
	/* Our own put must find room: any value not ours will do. */
	for (int i = 0; victim < 0 && own && i < s->n; i++)
		if (!is_own(s->v[i]->source))
			victim = i;
	if (victim < 0 || (!own && most <= have + 1))
		return -1;
	remove_index(s, victim);
	return 0;
}

static struct kad_value *make(const uint8_t key[KAD_ID_LEN], uint64_t seq,
                              const void *data, uint32_t len, double expires,
                              double republish_at, const uint8_t source[KAD_ID_LEN],
                              int origin)
{
	struct kad_value *v = malloc(sizeof(*v) + len);

	if (v == NULL)
		return NULL;
	memcpy(v->key, key, KAD_ID_LEN);
	v->seq = seq;
	v->expires = expires;
	v->republish_at = republish_at;
	memcpy(v->source, source, KAD_ID_LEN);
	v->origin = origin;
	v->len = len;
	if (len)
		memcpy(v->data, data, len);
	return v;
}

int kad_store_put(struct kad_store *s, const uint8_t key[KAD_ID_LEN], uint64_t seq,
                  const void *data, uint32_t len, double expires, double republish_at,
                  const uint8_t source[KAD_ID_LEN], int own, int origin)
{
	int i = find(s, key), ip = 0, prefix = 0;
	struct kad_value *v;

	if (len > s->max_size)
		return KAD_ST_TOOBIG;
	if (i >= 0) {
		struct kad_value *old = s->v[i];
		int c = kad_value_newer(seq, data, len, old->seq, old->data, old->len);
		if (c < 0)
			return KAD_ST_OLDER;
		if (c == 0) {
			/* The same version again: someone republished it, so it
			 * lives on and we need not republish it this round. */
			if (expires > old->expires)
				old->expires = expires;
			old->republish_at = republish_at;
			old->origin |= origin;
			return KAD_ST_STORED;
		}
		if ((v = make(key, seq, data, len, expires, republish_at, source,
		              origin | old->origin)) == NULL)
			return KAD_ST_NOMEM;
		free(old);
		s->v[i] = v;
		return KAD_ST_STORED;
	}
	if (!own) {
		count_source(s, source, &ip, &prefix);
		if (ip >= s->ip_share || prefix >= s->prefix_share)
			return KAD_ST_QUOTA;
	}
	/* Our own puts always find room: they push out another's value, or
	 * if every value is ours, the store grows past max_values (by what
	 * the operator alone put). */
	if (s->n >= s->max_values && evict_for(s, prefix, own) < 0 && !own)
		return KAD_ST_FULL;
	i = find(s, key);
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct kad_value **nv = realloc(s->v, (size_t)cap * sizeof(*nv));
		if (nv == NULL)
			return KAD_ST_NOMEM;
		s->v = nv;
		s->cap = cap;
	}
	if ((v = make(key, seq, data, len, expires, republish_at, source, origin)) == NULL)
		return KAD_ST_NOMEM;
	i = -i - 1;
	memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(*s->v));
	s->v[i] = v;
	s->n++;
	return KAD_ST_STORED;
}

struct kad_value *kad_store_get(struct kad_store *s, const uint8_t key[KAD_ID_LEN],
                                double now)
{
	int i = find(s, key);

	if (i < 0 || s->v[i]->expires <= now)
		return NULL;
	return s->v[i];
}

int kad_store_expire(struct kad_store *s, double now)
{
	int kept = 0, gone = 0;

	for (int i = 0; i < s->n; i++) {
		if (s->v[i]->expires <= now) {
			free(s->v[i]);
			gone++;
		} else {
			s->v[kept++] = s->v[i];
		}
	}
	s->n = kept;
	return gone;
}

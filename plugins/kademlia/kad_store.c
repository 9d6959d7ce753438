/* kad_store.c -- the values this node holds: bounded, expiring, newest wins.
 *
 * A sorted array of pointers: lookups are a binary search, and inserting
 * moves at most max_values pointers, which is cheaper than it sounds and
 * simpler than a hash table that must also be walked in order. */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

void kad_store_init(struct kad_store *s, int max_values, uint32_t max_size)
{
	memset(s, 0, sizeof(*s));
	s->max_values = max_values < 1 ? 1 : max_values;
	/* One storer may fill a quarter of the store: enough for an honest
	 * node that republishes for many writers, too little to crowd out
	 * everyone else. */
	s->share = s->max_values / 4 < 1 ? 1 : s->max_values / 4;
	s->max_size = max_size;
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

static int count_storer(const struct kad_store *s, const uint8_t storer[KAD_ID_LEN])
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += memcmp(s->v[i]->storer, storer, KAD_ID_LEN) == 0;
	return n;
}

static struct kad_value *make(const uint8_t key[KAD_ID_LEN], uint64_t seq,
                              const void *data, uint32_t len, double expires,
                              double republish_at, const uint8_t storer[KAD_ID_LEN],
                              int origin)
{
	struct kad_value *v = malloc(sizeof(*v) + len);

	if (v == NULL)
		return NULL;
	memcpy(v->key, key, KAD_ID_LEN);
	v->seq = seq;
	v->expires = expires;
	v->republish_at = republish_at;
	memcpy(v->storer, storer, KAD_ID_LEN);
	v->origin = origin;
	v->len = len;
	if (len)
		memcpy(v->data, data, len);
	return v;
}

int kad_store_put(struct kad_store *s, const uint8_t key[KAD_ID_LEN], uint64_t seq,
                  const void *data, uint32_t len, double expires, double republish_at,
                  const uint8_t storer[KAD_ID_LEN], int exempt, int origin)
{
	int i = find(s, key);
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
		if ((v = make(key, seq, data, len, expires, republish_at, storer,
		              origin | old->origin)) == NULL)
			return KAD_ST_NOMEM;
		free(old);
		s->v[i] = v;
		return KAD_ST_STORED;
	}
	if (s->n >= s->max_values)
		return KAD_ST_FULL;
	if (!exempt && s->n >= s->share && count_storer(s, storer) >= s->share)
		return KAD_ST_QUOTA;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct kad_value **nv = realloc(s->v, (size_t)cap * sizeof(*nv));
		if (nv == NULL)
			return KAD_ST_NOMEM;
		s->v = nv;
		s->cap = cap;
	}
	if ((v = make(key, seq, data, len, expires, republish_at, storer, origin)) == NULL)
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

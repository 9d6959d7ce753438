/* kad_state.c -- the state blob: node id, routing table and values.
 *
 * The same bytes go to the host's save_state() hook (hot swaps and clean
 * restarts) and, without the values, to the `routes` file the plugin keeps
 * in its state_dir. Times are stored as seconds left, with the wall clock
 * of the save, because the host's monotonic clock starts over on restart.
 * Loading trusts nothing: every length is checked, and a damaged blob
 * changes nothing at all. */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t magic[4] = { 'K', 'A', 'D', '1' };

struct buf {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;
		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(b, x, 4);
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static uint32_t secs_left(double at, double now)
{
	double d = at - now;
	return d <= 0 ? 0 : d > 4e9 ? 4000000000u : (uint32_t)(d + 0.5);
}

int kad_state_save(const struct kad_state_view *v, int with_values,
                   uint8_t **out, size_t *len_out)
{
	struct buf b = { 0 };
	const struct kad_table *t = v->table;
	const struct kad_store *s = v->store;
	uint32_t nvalues = 0;

	put(&b, magic, 4);
	put(&b, v->self, KAD_ID_LEN);
	put64(&b, v->wall);
	put32(&b, (uint32_t)kad_table_size(t));
	for (int bi = 0; bi < t->nbuckets; bi++) {
		for (int i = 0; i < t->b[bi].nlive; i++) {
			struct kad_node n;
			uint8_t al;
			kad_entry_node(&t->b[bi].live[i], &n);
			al = (uint8_t)strlen(n.addr);
			put(&b, n.id, KAD_ID_LEN);
			put(&b, &al, 1);
			put(&b, n.addr, al);
		}
	}
	if (with_values && s)
		for (int i = 0; i < s->n; i++)
			nvalues += s->v[i]->expires > v->now;
	put32(&b, nvalues);
	for (int i = 0; with_values && s && i < s->n; i++) {
		const struct kad_value *x = s->v[i];
		uint8_t origin = (uint8_t)(x->origin != 0);
		if (x->expires <= v->now)
			continue;
		put(&b, x->key, KAD_ID_LEN);
		put64(&b, x->seq);
		put32(&b, secs_left(x->expires, v->now));
		put32(&b, secs_left(x->republish_at, v->now));
		put(&b, x->source, KAD_ID_LEN);
		put(&b, &origin, 1);
		put32(&b, x->len);
		put(&b, x->data, x->len);
	}
	if (b.bad) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len_out = b.len;
	return 0;
}

int kad_state_peek_self(const uint8_t *p, size_t len, uint8_t self[KAD_ID_LEN])
{
	if (len < 4 + KAD_ID_LEN || memcmp(p, magic, 4) != 0)
		return -1;
	memcpy(self, p + 4, KAD_ID_LEN);
	return 0;
}

/* One pass checks the whole blob; a second applies it. */
static int walk(const uint8_t *p, size_t len, struct kad_table *t, struct kad_store *s,
                double now, uint64_t wall, double republish, int *nodes_out,
                int *values_out)
{
	struct kad_rd r = { p, len, 0 };
	const uint8_t *self;
	uint64_t saved, elapsed;
	uint32_t n;
	int nodes = 0, values = 0;

	if (!kad_take(&r, 4) || memcmp(p, magic, 4) != 0)
		return -1;
	self = kad_take(&r, KAD_ID_LEN);
	saved = kad_get64(&r);
	elapsed = wall > saved ? wall - saved : 0;
	n = kad_get32(&r);
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct kad_node node;
		const uint8_t *id = kad_take(&r, KAD_ID_LEN), *al = kad_take(&r, 1), *a;
		if (r.bad || *al == 0 || *al > KAD_ADDR_MAX || (a = kad_take(&r, *al)) == NULL)
			return -1;
		memcpy(node.id, id, KAD_ID_LEN);
		memcpy(node.addr, a, *al);
		node.addr[*al] = '\0';
		if (strlen(node.addr) != *al || !kad_addr_valid(node.addr))
			return -1;
		if (t && memcmp(node.id, self, KAD_ID_LEN) != 0 &&
		    kad_table_seen(t, &node, now, NULL, NULL) != KAD_TB_CACHED)
			nodes++;
	}
	n = kad_get32(&r);
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		const uint8_t *key = kad_take(&r, KAD_ID_LEN), *source, *origin, *data;
		uint64_t seq = kad_get64(&r);
		uint32_t ttl = kad_get32(&r), rep = kad_get32(&r), vl;
		source = kad_take(&r, KAD_ID_LEN);
		origin = kad_take(&r, 1);
		vl = kad_get32(&r);
		if (r.bad || (data = kad_take(&r, vl)) == NULL)
			return -1;
		/* Only records that prove themselves: a value saved by a build
		 * that kept unsigned values is dropped, not served. */
		if (!s || ttl <= elapsed || kad_record_check(key, seq, data, vl) != KAD_REC_OK)
			continue;
		ttl -= (uint32_t)elapsed;
		rep = rep > elapsed ? rep - (uint32_t)elapsed : 0;
		if (rep > republish)
			rep = (uint32_t)republish;
		if (kad_store_put(s, key, seq, data, vl, now + ttl, now + rep, source, 1,
		                  *origin != 0) == KAD_ST_STORED)
			values++;
	}
	if (r.bad || r.left != 0)
		return -1;
	if (nodes_out)
		*nodes_out = nodes;
	if (values_out)
		*values_out = values;
	return 0;
}

int kad_state_load(const uint8_t *p, size_t len, struct kad_table *t,
                   struct kad_store *s, double now, uint64_t wall,
                   double republish, int *nodes_out, int *values_out)
{
	if (walk(p, len, NULL, NULL, now, wall, republish, NULL, NULL) < 0)
		return -1;
	return walk(p, len, t, s, now, wall, republish, nodes_out, values_out);
}

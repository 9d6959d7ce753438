/* cv1_dedup.c -- the bounded cache of broadcast ids already delivered.
 *
 * Entries sit in a ring in arrival order, so the oldest is always at the
 * head: it leaves when its time is up or when the ring is full, whichever
 * comes first. A hash of chained indexes finds an id in constant time. The
 * memory is fixed at init; no id from the network can make it grow.
 */
#include "cv1.h"

#include <stdlib.h>
#include <string.h>

static uint32_t bucket_of(const struct cv1_dedup *d, uint64_t id)
{
	/* Ids are random, but a peer picks them: mix before masking. */
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (uint32_t)id & (d->nbuckets - 1);
}

int cv1_dedup_init(struct cv1_dedup *d, size_t cap, double ttl)
{
	memset(d, 0, sizeof(*d));
	if (cap == 0 || cap > (1u << 24))
		return -1;
	d->cap = cap;
	d->ttl = ttl;
	d->nbuckets = 1;
	while (d->nbuckets < cap)
		d->nbuckets <<= 1;
	d->ids = calloc(cap, sizeof(*d->ids));
	d->times = calloc(cap, sizeof(*d->times));
	d->next = calloc(cap, sizeof(*d->next));
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->ids || !d->times || !d->next || !d->buckets) {
		cv1_dedup_free(d);
		return -1;
	}
	return 0;
}

void cv1_dedup_free(struct cv1_dedup *d)
{
	if (d == NULL)
		return;
	free(d->ids);
	free(d->times);
	free(d->next);
	free(d->buckets);
	memset(d, 0, sizeof(*d));
}

/* Drops the oldest entry from the ring and from its chain. */
static void evict_head(struct cv1_dedup *d)
{
	uint32_t idx = (uint32_t)d->head;
	uint32_t *link = &d->buckets[bucket_of(d, d->ids[idx])];

	while (*link != 0 && *link != idx + 1)
		link = &d->next[*link - 1];
	if (*link == idx + 1)
		*link = d->next[idx];
	d->next[idx] = 0;
	d->head = (d->head + 1) % d->cap;
	d->count--;
}

static void expire(struct cv1_dedup *d, double now)
{
	while (d->count > 0 && d->times[d->head] + d->ttl <= now)
		evict_head(d);
}

int cv1_dedup_contains(struct cv1_dedup *d, uint64_t id, double now)
{
	expire(d, now);
	for (uint32_t i = d->buckets[bucket_of(d, id)]; i != 0; i = d->next[i - 1])
		if (d->ids[i - 1] == id)
			return 1;
	return 0;
}

/* Returns 1 if id was there already; otherwise remembers it and returns 0. */
int cv1_dedup_check_add(struct cv1_dedup *d, uint64_t id, double now)
{
	uint32_t b, idx;

	if (cv1_dedup_contains(d, id, now))
		return 1;
	if (d->count == d->cap)
		evict_head(d);
	idx = (uint32_t)((d->head + d->count) % d->cap);
	b = bucket_of(d, id);
	d->ids[idx] = id;
	d->times[idx] = now;
	d->next[idx] = d->buckets[b];
	d->buckets[b] = idx + 1;
	d->count++;
	return 0;
}

size_t cv1_dedup_count(const struct cv1_dedup *d)
{
	return d->count;
}

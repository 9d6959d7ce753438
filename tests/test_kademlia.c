/* test_kademlia.c -- unit tests of the Kademlia plugin's core: ids and XOR
 * distance, k-buckets, the payload codec, the lookup state machine against
 * a fake transport, the value store and the state blob. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "kad.h"
#include "addr_rows.h"

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
	/* xorshift: deterministic ids, so a failure can be replayed. */
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void random_id(uint8_t id[KAD_ID_LEN])
{
	for (int i = 0; i < KAD_ID_LEN; i++)
		id[i] = (uint8_t)next_rand();
}

static void make_node(struct kad_node *n, int port)
{
	random_id(n->id);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", port);
}

/* --- ids ---------------------------------------------------------------- */

static void test_xor_distance(void)
{
	uint8_t a[KAD_ID_LEN] = { 0 }, b[KAD_ID_LEN] = { 0 }, t[KAD_ID_LEN] = { 0 }, d[KAD_ID_LEN];

	a[0] = 0x0f;
	b[0] = 0xf0;
	kad_xor(d, a, b);
	CU_ASSERT_EQUAL(d[0], 0xff);
	CU_ASSERT_EQUAL(d[1], 0);
	/* a differs from t in lower bits than b does: a is closer. */
	CU_ASSERT(kad_closer(t, a, b) < 0);
	CU_ASSERT(kad_closer(t, b, a) > 0);
	CU_ASSERT_EQUAL(kad_closer(t, a, a), 0);
	t[0] = 0xf0;
	CU_ASSERT(kad_closer(t, b, a) < 0);
	/* Distance is symmetric and zero only to itself. */
	kad_xor(d, a, a);
	for (int i = 0; i < KAD_ID_LEN; i++)
		CU_ASSERT_EQUAL(d[i], 0);
}

static void test_common_prefix(void)
{
	uint8_t a[KAD_ID_LEN] = { 0 }, b[KAD_ID_LEN] = { 0 };

	CU_ASSERT_EQUAL(kad_common_prefix(a, b), KAD_ID_BITS);
	b[0] = 0x80;
	CU_ASSERT_EQUAL(kad_common_prefix(a, b), 0);
	b[0] = 0x01;
	CU_ASSERT_EQUAL(kad_common_prefix(a, b), 7);
	b[0] = 0;
	b[3] = 0x10;
	CU_ASSERT_EQUAL(kad_common_prefix(a, b), 27);
	b[3] = 0;
	b[KAD_ID_LEN - 1] = 1;
	CU_ASSERT_EQUAL(kad_common_prefix(a, b), KAD_ID_BITS - 1);
}

static void test_hash_and_hex(void)
{
	uint8_t h[KAD_ID_LEN], back[KAD_ID_LEN];
	char hex[2 * KAD_ID_LEN + 1];

	/* The SHA-256 test vector of FIPS 180-2. */
	CU_ASSERT_EQUAL(kad_key_hash("abc", 3, h), 0);
	kad_id_hex(h, hex);
	CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223"
	                            "b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_EQUAL(kad_id_parse(hex, back), 0);
	CU_ASSERT_EQUAL(memcmp(h, back, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(kad_id_parse("abc", back), -1);
	hex[5] = 'g';
	CU_ASSERT_EQUAL(kad_id_parse(hex, back), -1);
}

static void test_id_in_range(void)
{
	uint8_t self[KAD_ID_LEN], rnd[KAD_ID_LEN], out[KAD_ID_LEN];

	random_id(self);
	for (int cpl = 0; cpl < 40; cpl++) {
		random_id(rnd);
		kad_id_in_range(self, cpl, 0, rnd, out);
		CU_ASSERT_EQUAL(kad_common_prefix(self, out), cpl);
		kad_id_in_range(self, cpl, 1, rnd, out);
		CU_ASSERT(kad_common_prefix(self, out) >= cpl);
	}
}

/* --- routing table ------------------------------------------------------ */

/* A node sharing exactly cpl leading bits with self. */
static void node_at(struct kad_node *n, const uint8_t self[KAD_ID_LEN], int cpl, int port)
{
	uint8_t rnd[KAD_ID_LEN];

	random_id(rnd);
	kad_id_in_range(self, cpl, 0, rnd, n->id);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", port);
}

static void test_bucket_index_and_split(void)
{
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n;
	int need;

	random_id(self);
	CU_ASSERT_EQUAL_FATAL(kad_table_init(&t, self, 4), 0);
	CU_ASSERT_EQUAL(t.nbuckets, 1);
	/* Four far nodes fill the only bucket without a split. */
	for (int i = 0; i < 4; i++) {
		node_at(&n, self, 0, 1000 + i);
		CU_ASSERT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, &need), KAD_TB_ADDED);
	}
	CU_ASSERT_EQUAL(t.nbuckets, 1);
	CU_ASSERT_EQUAL(kad_table_bucket_of(&t, n.id), 0);
	/* A fifth, closer node splits the bucket holding self. */
	node_at(&n, self, 3, 2000);
	CU_ASSERT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, &need), KAD_TB_ADDED);
	CU_ASSERT_EQUAL(t.nbuckets, 2);
	CU_ASSERT_EQUAL(t.b[0].nlive, 4);
	CU_ASSERT_EQUAL(t.b[1].nlive, 1);
	CU_ASSERT_EQUAL(kad_table_bucket_of(&t, n.id), 1);
	CU_ASSERT_EQUAL(kad_table_size(&t), 5);
	/* Self is never stored. */
	memcpy(n.id, self, KAD_ID_LEN);
	CU_ASSERT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, &need), KAD_TB_SELF);
	/* Nodes close to self keep splitting down to their depth. */
	for (int cpl = 1; cpl < 12; cpl++) {
		node_at(&n, self, cpl, 3000 + cpl);
		kad_table_seen(&t, &n, 2.0, NULL, &need);
	}
	for (int bi = 0; bi < t.nbuckets; bi++) {
		for (int i = 0; i < t.b[bi].nlive; i++) {
			int cpl = kad_common_prefix(self, t.b[bi].live[i].id);
			CU_ASSERT(bi == t.nbuckets - 1 ? cpl >= bi : cpl == bi);
		}
		CU_ASSERT(t.b[bi].nlive <= 4);
	}
	kad_table_release(&t);
}

static void test_bucket_lru_order(void)
{
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n[3];

	random_id(self);
	kad_table_init(&t, self, 4);
	for (int i = 0; i < 3; i++) {
		node_at(&n[i], self, 0, 1000 + i);
		kad_table_seen(&t, &n[i], (double)i, NULL, NULL);
	}
	/* Seeing the oldest again moves it to the tail. */
	CU_ASSERT_EQUAL(kad_table_seen(&t, &n[0], 10.0, NULL, NULL), KAD_TB_UPDATED);
	CU_ASSERT_EQUAL(memcmp(t.b[0].live[0].id, n[1].id, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(t.b[0].live[2].id, n[0].id, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(t.b[0].live[2].last_seen, 10.0);
	/* The address it answered from replaces the old one. */
	snprintf(n[0].addr, sizeof(n[0].addr), "127.0.0.2:99");
	kad_table_seen(&t, &n[0], 11.0, NULL, NULL);
	kad_entry_node(kad_table_find(&t, n[0].id), &n[1]);
	CU_ASSERT_STRING_EQUAL(n[1].addr, "127.0.0.2:99");
	kad_table_release(&t);
}

static void test_ping_before_evict(void)
{
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node old[4], fresh, fresh2, ping;
	int need = 0;

	random_id(self);
	kad_table_init(&t, self, 4);
	/* A near node first, so the far bucket is split off and cannot split. */
	node_at(&fresh, self, 5, 900);
	kad_table_seen(&t, &fresh, 0.0, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		node_at(&old[i], self, 0, 1000 + i);
		kad_table_seen(&t, &old[i], 1.0 + i, NULL, NULL);
	}
	node_at(&fresh, self, 0, 2000);
	node_at(&fresh2, self, 0, 2001);
	while (t.nbuckets < 2) {        /* make sure bucket 0 is not the last */
		struct kad_node near;
		node_at(&near, self, 8, 3000);
		kad_table_seen(&t, &near, 0.0, NULL, NULL);
	}
	CU_ASSERT_EQUAL(kad_table_has_room(&t, fresh.id, fresh.addr), 0);
	/* Full: the newcomer is cached and the least recently seen pinged. */
	CU_ASSERT_EQUAL(kad_table_seen(&t, &fresh, 5.0, &ping, &need), KAD_TB_CACHED);
	CU_ASSERT_EQUAL(need, 1);
	CU_ASSERT_EQUAL(memcmp(ping.id, old[0].id, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(t.b[0].nrepl, 1);
	/* While that ping is out, no second ping is asked for. */
	CU_ASSERT_EQUAL(kad_table_seen(&t, &fresh2, 6.0, &ping, &need), KAD_TB_CACHED);
	CU_ASSERT_EQUAL(need, 0);
	CU_ASSERT_EQUAL(t.b[0].nrepl, 2);
	/* It answers: the long-lived node stays, moved to the tail. */
	kad_table_seen(&t, &old[0], 7.0, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(kad_table_find(&t, old[0].id));
	CU_ASSERT_PTR_NULL(kad_table_find(&t, fresh.id));
	CU_ASSERT_EQUAL(memcmp(t.b[0].live[3].id, old[0].id, KAD_ID_LEN), 0);
	/* Next newcomer: now old[1] is pinged, and fails: it is evicted and the
	 * newest replacement takes its slot. */
	CU_ASSERT_EQUAL(kad_table_seen(&t, &fresh, 8.0, &ping, &need), KAD_TB_CACHED);
	CU_ASSERT_EQUAL(need, 1);
	CU_ASSERT_EQUAL(memcmp(ping.id, old[1].id, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(kad_table_failed(&t, old[1].id, 3), 1);
	CU_ASSERT_PTR_NULL(kad_table_find(&t, old[1].id));
	CU_ASSERT_PTR_NOT_NULL(kad_table_find(&t, fresh.id));
	CU_ASSERT_EQUAL(t.b[0].nlive, 4);
	CU_ASSERT_EQUAL(t.b[0].nrepl, 1);
	kad_table_release(&t);
}

static void test_failed_without_replacement(void)
{
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n;

	random_id(self);
	kad_table_init(&t, self, 4);
	node_at(&n, self, 0, 1000);
	kad_table_seen(&t, &n, 1.0, NULL, NULL);
	/* With nothing to replace it, a node survives failures up to the limit. */
	CU_ASSERT_EQUAL(kad_table_failed(&t, n.id, 3), 0);
	CU_ASSERT_EQUAL(kad_table_failed(&t, n.id, 3), 0);
	CU_ASSERT_EQUAL(kad_table_find(&t, n.id)->fails, 2);
	/* An answer clears the count. */
	kad_table_seen(&t, &n, 2.0, NULL, NULL);
	CU_ASSERT_EQUAL(kad_table_find(&t, n.id)->fails, 0);
	kad_table_failed(&t, n.id, 3);
	kad_table_failed(&t, n.id, 3);
	CU_ASSERT_EQUAL(kad_table_failed(&t, n.id, 3), 1);
	CU_ASSERT_EQUAL(kad_table_size(&t), 0);
	kad_table_release(&t);
}

static void test_table_closest(void)
{
	struct kad_table t;
	uint8_t self[KAD_ID_LEN], target[KAD_ID_LEN];
	struct kad_node n, out[8];
	int got;

	random_id(self);
	random_id(target);
	kad_table_init(&t, self, 20);
	for (int i = 0; i < 60; i++) {
		make_node(&n, 1000 + i);
		kad_table_seen(&t, &n, 1.0, NULL, NULL);
	}
	got = kad_table_closest(&t, target, out, 8, 0);
	CU_ASSERT_EQUAL(got, 8);
	for (int i = 1; i < got; i++)
		CU_ASSERT(kad_closer(target, out[i - 1].id, out[i].id) < 0);
	/* Nothing in the table is closer than the last one returned. */
	for (int bi = 0; bi < t.nbuckets; bi++)
		for (int i = 0; i < t.b[bi].nlive; i++) {
			int listed = 0;
			for (int j = 0; j < got; j++)
				listed |= memcmp(out[j].id, t.b[bi].live[i].id, KAD_ID_LEN) == 0;
			if (!listed)
				CU_ASSERT(kad_closer(target, out[got - 1].id, t.b[bi].live[i].id) < 0);
		}
	kad_table_release(&t);
}

/* The outward walk returns exactly what sorting the whole table would, for
 * tables of every shape: deep ones (many buckets) and targets anywhere. */
static void test_table_closest_exact(void)
{
	uint32_t saved_rng = rng;    /* the later tests replay their own draws */
	for (int round = 0; round < 40; round++) {
		struct kad_table t;
		uint8_t self[KAD_ID_LEN], target[KAD_ID_LEN];
		struct kad_node n, out[KAD_MAX_K + 1], all[256 * 8];
		int got, total = 0, want = 1 + round % (KAD_MAX_K + 1);

		random_id(self);
		kad_table_init(&t, self, 8);
		for (int i = 0; i < 400; i++) {
			node_at(&n, self, (int)(rand() % 40), 1000 + i);
			kad_table_seen(&t, &n, 1.0, NULL, NULL);
		}
		if (round % 3 == 0)
			random_id(target);
		else    /* near self, so the walk starts deep in the table */
			kad_id_in_range(self, (int)(rand() % 30), 0, target, target);
		for (int bi = 0; bi < t.nbuckets; bi++)
			for (int i = 0; i < t.b[bi].nlive; i++)
				kad_entry_node(&t.b[bi].live[i], &all[total++]);
		for (int i = 1; i < total; i++)         /* insertion sort: a reference */
			for (int j = i; j > 0 && kad_closer(target, all[j].id, all[j - 1].id) < 0; j--) {
				struct kad_node x = all[j];
				all[j] = all[j - 1];
				all[j - 1] = x;
			}
		got = kad_table_closest(&t, target, out, want, 0);
		CU_ASSERT_EQUAL(got, want < total ? want : total);
		for (int i = 0; i < got; i++)
			CU_ASSERT_EQUAL(memcmp(out[i].id, all[i].id, KAD_ID_LEN), 0);
		kad_table_release(&t);
	}
	rng = saved_rng;
}

/* One address gets at most per_ip entries in a bucket, one /24 at most
 * per_prefix in the table; the replacement cache obeys the same. */
static void test_table_address_limits(void)
{
	uint32_t saved_rng = rng;    /* the later tests replay their own draws */
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n;
	int added = 0, limited = 0;

	random_id(self);
	kad_table_init(&t, self, 8);
	kad_table_set_limits(&t, 2, 10);
	/* 200 ids at one address, all in bucket 0. */
	for (int i = 0; i < 200; i++) {
		int r;
		node_at(&n, self, 0, 1000 + i);
		r = kad_table_seen(&t, &n, 1.0, NULL, NULL);
		added += r == KAD_TB_ADDED;
		limited += r == KAD_TB_LIMIT;
	}
	CU_ASSERT_EQUAL(added, 2);
	CU_ASSERT_EQUAL(limited, 198);
	CU_ASSERT_EQUAL(kad_table_has_room(&t, n.id, "127.0.0.1:9"), 0);
	/* Ids anywhere in the table from addresses of one /24. */
	added = 0;
	for (int i = 0; i < 2000; i++) {
		node_at(&n, self, (int)(rand() % 64), 2000 + i);
		snprintf(n.addr, sizeof(n.addr), "127.0.0.%d:%d", 2 + i % 250, 2000 + i);
		added += kad_table_seen(&t, &n, 1.0, NULL, NULL) == KAD_TB_ADDED;
	}
	CU_ASSERT_EQUAL(kad_table_size(&t), 10);
	/* Another /24 still gets in; an IPv4-mapped form of the first does not. */
	node_at(&n, self, 1, 5000);
	snprintf(n.addr, sizeof(n.addr), "[::ffff:127.0.0.77]:5000");
	CU_ASSERT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, NULL), KAD_TB_LIMIT);
	snprintf(n.addr, sizeof(n.addr), "127.0.1.1:5000");
	CU_ASSERT_NOT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, NULL), KAD_TB_LIMIT);
	/* Replacement caches: a full bucket 0 of distinct /24s, then one
	 * address offering many ids keeps at most two in the cache. */
	kad_table_release(&t);
	kad_table_init(&t, self, 4);
	kad_table_set_limits(&t, 2, 10);
	node_at(&n, self, 9, 1);
	snprintf(n.addr, sizeof(n.addr), "127.9.9.9:1");
	kad_table_seen(&t, &n, 1.0, NULL, NULL);    /* so bucket 0 cannot split */
	for (int i = 0; i < 4; i++) {
		node_at(&n, self, 0, 1);
		snprintf(n.addr, sizeof(n.addr), "127.%d.0.1:1", 20 + i);
		kad_table_seen(&t, &n, 1.0, NULL, NULL);
	}
	CU_ASSERT_EQUAL(t.b[0].nlive, 4);
	for (int i = 0; i < 50; i++) {
		node_at(&n, self, 0, 3000 + i);
		snprintf(n.addr, sizeof(n.addr), "127.50.0.1:%d", 3000 + i);
		kad_table_seen(&t, &n, 1.0, NULL, NULL);
	}
	CU_ASSERT_EQUAL(t.b[0].nrepl, 2);
	kad_table_release(&t);
	rng = saved_rng;
}

/* A table takes memory as it fills: a bucket's arrays hold what it has,
 * not k entries each, and an entry gives back the address text it was
 * given (an IPv6 one in canonical form). */
static void test_table_memory_on_demand(void)
{
	uint32_t saved_rng = rng;
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n, back, mapped;
	static const char *const texts[][2] = {
		{ "127.0.0.1:4000", "127.0.0.1:4000" },
		{ "[::1]:4001", "[::1]:4001" },
		{ "[0:0::1]:4002", "[::1]:4002" },
		{ "[::ffff:127.0.0.5]:4003", "[::ffff:127.0.0.5]:4003" },
		{ "127.255.255.254:65535", "127.255.255.254:65535" },
	};

	random_id(self);
	CU_ASSERT_EQUAL_FATAL(kad_table_init(&t, self, 20), 0);
	CU_ASSERT_EQUAL(t.nbuckets, 1);
	CU_ASSERT_EQUAL(t.b[0].caplive, 0);
	CU_ASSERT_EQUAL(t.b[0].caprepl, 0);
	CU_ASSERT_EQUAL(sizeof(struct kad_entry), 72);
	for (int i = 0; i < 5; i++) {
		node_at(&n, self, 0, 1);
		snprintf(n.addr, sizeof(n.addr), "%s", texts[i][0]);
		CU_ASSERT_EQUAL(kad_table_seen(&t, &n, 1.0, NULL, NULL), KAD_TB_ADDED);
		kad_entry_node(kad_table_find(&t, n.id), &back);
		CU_ASSERT_EQUAL(memcmp(back.id, n.id, KAD_ID_LEN), 0);
		CU_ASSERT_STRING_EQUAL(back.addr, texts[i][1]);
		CU_ASSERT(kad_entry_addr_is(kad_table_find(&t, n.id), texts[i][0]));
		CU_ASSERT(kad_entry_addr_is(kad_table_find(&t, n.id), texts[i][1]));
		CU_ASSERT(!kad_entry_addr_is(kad_table_find(&t, n.id), "127.0.0.1:1"));
		if (i == 3)
			mapped = n;
	}
	/* The IPv4 text and its mapped IPv6 form are one address, each given
	 * back as it was written. */
	CU_ASSERT(kad_entry_addr_is(kad_table_find(&t, mapped.id), "127.0.0.5:4003"));
	CU_ASSERT(!kad_entry_addr_is(kad_table_find(&t, mapped.id), "127.0.0.5:4004"));
	CU_ASSERT_EQUAL(t.b[0].nlive, 5);
	CU_ASSERT(t.b[0].caplive >= 5 && t.b[0].caplive < 20);
	CU_ASSERT_EQUAL(t.b[0].caprepl, 0);
	/* Fill bucket 0 and split: each side holds what it got. */
	for (int i = 0; i < 40; i++) {
		node_at(&n, self, i % 2 ? 0 : 1 + i % 5, 2000 + i);
		kad_table_seen(&t, &n, 2.0, NULL, NULL);
	}
	for (int bi = 0; bi < t.nbuckets; bi++) {
		CU_ASSERT(t.b[bi].caplive >= t.b[bi].nlive && t.b[bi].caplive <= 20);
		CU_ASSERT(t.b[bi].caprepl >= t.b[bi].nrepl && t.b[bi].caprepl <= 20);
	}
	CU_ASSERT(t.nbuckets > 1);
	CU_ASSERT(t.capbuckets >= t.nbuckets);
	kad_table_release(&t);
	CU_ASSERT_PTR_NULL(t.b);
	rng = saved_rng;
}

/* Restored entries seed our lookups but are not named to others until
 * they answer, and one failure removes them. */
static void test_table_unverified(void)
{
	uint32_t saved_rng = rng;    /* the later tests replay their own draws */
	struct kad_table t;
	uint8_t self[KAD_ID_LEN], target[KAD_ID_LEN];
	struct kad_node n[3], out[4];

	random_id(self);
	random_id(target);
	kad_table_init(&t, self, 8);
	for (int i = 0; i < 3; i++) {
		node_at(&n[i], self, 0, 100 + i);
		kad_table_seen(&t, &n[i], 1.0, NULL, NULL);
	}
	kad_table_mark_unverified(&t);
	CU_ASSERT_EQUAL(kad_table_closest(&t, target, out, 4, 0), 3);
	CU_ASSERT_EQUAL(kad_table_closest(&t, target, out, 4, 1), 0);
	kad_table_seen(&t, &n[1], 2.0, NULL, NULL);
	CU_ASSERT_EQUAL(kad_table_closest(&t, target, out, 4, 1), 1);
	CU_ASSERT_EQUAL(memcmp(out[0].id, n[1].id, KAD_ID_LEN), 0);
	CU_ASSERT_EQUAL(kad_table_failed(&t, n[0].id, 2), 1);
	CU_ASSERT_EQUAL(kad_table_size(&t), 2);
	kad_table_release(&t);
	rng = saved_rng;
}

/* --- connections kept (kad_keep.c) -------------------------------------- */

/* Connections 1 to 8 with their last use; then which kad_keep_pick()
 * closed (by id, in the order it took them out) and which stayed. */
static int keep_run(const double *last, const struct kad_table *t, double now, int keep,
                    int max, uint64_t *closed, struct kad_keep *c, int *n)
{
	*n = 8;
	for (int i = 0; i < 8; i++) {
		c[i].conn = (uint64_t)i + 1;
		c[i].last = last[i];
	}
	return kad_keep_pick(c, n, t, now, 30.0, keep, closed, max);
}

static int closed_has(const uint64_t *closed, int n, uint64_t conn)
{
	for (int i = 0; i < n; i++)
		if (closed[i] == conn)
			return 1;
	return 0;
}

/* Idle connections close, except the `keep` most recently used of those
 * that are the connection of a live table entry; one used within `idle`
 * seconds is never closed nor counted. */
static void test_keep_policy(void)
{
	uint32_t saved_rng = rng;
	struct kad_table t;
	uint8_t self[KAD_ID_LEN];
	struct kad_node n[6];
	struct kad_keep c[8];
	uint64_t closed[8];
	int nc, left;
	/* Connections 1, 2, 3: live entries' (3 idle exactly 30 s); 4: an
	 * entry's, in use; 5: no entry's; 6: an entry that later moved to
	 * another address; 7: an entry that failed since; 8: in use. */
	static const double last[8] = { 10, 20, 70, 95, 15, 5, 40, 99 };

	random_id(self);
	kad_table_init(&t, self, 8);
	for (int i = 0; i < 6; i++) {
		node_at(&n[i], self, i, 100 + i);
		CU_ASSERT_EQUAL(kad_table_seen(&t, &n[i], 1.0, NULL, NULL), KAD_TB_ADDED);
	}
	kad_table_note_conn(&t, &n[0], 1);
	kad_table_note_conn(&t, &n[1], 2);
	kad_table_note_conn(&t, &n[2], 3);
	kad_table_note_conn(&t, &n[3], 4);
	kad_table_note_conn(&t, &n[4], 6);
	kad_table_note_conn(&t, &n[5], 7);
	/* An answer from another address than the entry's notes nothing. */
	{
		struct kad_node elsewhere = n[0];
		snprintf(elsewhere.addr, sizeof(elsewhere.addr), "127.0.0.1:998");
		kad_table_note_conn(&t, &elsewhere, 5);
		CU_ASSERT_EQUAL(kad_table_find(&t, n[0].id)->conn, 1);
	}
	snprintf(n[4].addr, sizeof(n[4].addr), "127.0.0.1:999");
	CU_ASSERT_EQUAL(kad_table_seen(&t, &n[4], 2.0, NULL, NULL), KAD_TB_UPDATED);
	CU_ASSERT_EQUAL(kad_table_find(&t, n[4].id)->conn, 0);
	CU_ASSERT_EQUAL(kad_table_failed(&t, n[5].id, 3), 0);

	/* keep 2 at 100 s: 3 and 2 stay, 1 goes with 5, 6, 7. */
	nc = keep_run(last, &t, 100.0, 2, 8, closed, c, &left);
	CU_ASSERT_EQUAL(nc, 4);
	CU_ASSERT_EQUAL(left, 4);
	for (uint64_t id = 1; id <= 8; id++)
		CU_ASSERT_EQUAL(closed_has(closed, nc, id), id == 1 || id == 5 || id == 6 || id == 7);
	/* What stays is oldest first: 2, 3, 4, 8. */
	CU_ASSERT(left == 4 && c[0].conn == 2 && c[1].conn == 3 && c[2].conn == 4 && c[3].conn == 8);
	/* Most recently used first: 7 (40 s), 5 (15 s), 1 (10 s), 6 (5 s). */
	CU_ASSERT(nc == 4 && closed[0] == 7 && closed[1] == 5 && closed[2] == 1 && closed[3] == 6);

	/* keep 0: every idle one closes; those in use stay. */
	nc = keep_run(last, &t, 100.0, 0, 8, closed, c, &left);
	CU_ASSERT_EQUAL(nc, 6);
	CU_ASSERT(left == 2 && c[0].conn == 4 && c[1].conn == 8);
	/* A bound above the peers keeps all three. */
	nc = keep_run(last, &t, 100.0, 100, 8, closed, c, &left);
	CU_ASSERT_EQUAL(nc, 3);
	CU_ASSERT_EQUAL(left, 5);
	/* At most `max` taken out per call: the most recent of them first,
	 * the older ones stay for the next call. */
	nc = keep_run(last, &t, 100.0, 0, 2, closed, c, &left);
	CU_ASSERT(nc == 2 && closed[0] == 3 && closed[1] == 7);
	CU_ASSERT_EQUAL(left, 6);
	nc = kad_keep_pick(c, &left, &t, 100.0, 30.0, 0, closed, 8);
	CU_ASSERT_EQUAL(nc, 4);
	CU_ASSERT_EQUAL(left, 2);
	/* Later, 4 has gone idle too and is the most recent: keep 1 keeps it. */
	nc = keep_run(last, &t, 200.0, 1, 8, closed, c, &left);
	CU_ASSERT_EQUAL(nc, 7);
	CU_ASSERT(left == 1 && c[0].conn == 4);
	/* Restored entries that have not answered yet keep nothing. */
	kad_table_mark_unverified(&t);
	nc = keep_run(last, &t, 100.0, 100, 8, closed, c, &left);
	CU_ASSERT_EQUAL(nc, 6);
	left = 0;
	CU_ASSERT_EQUAL(kad_keep_pick(c, &left, &t, 100.0, 30.0, 100, closed, 8), 0);
	kad_table_release(&t);
	rng = saved_rng;
}

/* --- wire --------------------------------------------------------------- */

static uint8_t wbuf[70000];

static void roundtrip(struct kad_msg *m, int request)
{
	static struct kad_msg d;
	int len = request ? kad_encode_request(wbuf, sizeof(wbuf), m)
	                  : kad_encode_answer(wbuf, sizeof(wbuf), m);

	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(kad_decode(m->type, wbuf, (size_t)len, 65536, &d), KAD_E_OK);
	CU_ASSERT_EQUAL(d.type, m->type);
	CU_ASSERT_EQUAL(d.reqid, m->reqid);
	CU_ASSERT_EQUAL(memcmp(d.id, m->id, KAD_ID_LEN), 0);
	if (request)
		CU_ASSERT_STRING_EQUAL(d.addr, m->addr);
	if (m->type == KAD_T_FNOD || m->type == KAD_T_FVAL || m->type == KAD_T_STOR ||
	    m->type == KAD_T_VALU)
		CU_ASSERT_EQUAL(memcmp(d.key, m->key, KAD_ID_LEN), 0);
	if (m->type == KAD_T_STOR || m->type == KAD_T_VALU) {
		CU_ASSERT_EQUAL(d.seq, m->seq);
		CU_ASSERT_EQUAL(d.ttl, m->ttl);
		CU_ASSERT_EQUAL(d.vlen, m->vlen);
		CU_ASSERT_EQUAL(memcmp(d.value, m->value, m->vlen), 0);
	}
	if (m->type == KAD_T_STOK)
		CU_ASSERT_EQUAL(d.status, m->status);
	if (m->type == KAD_T_NODS) {
		CU_ASSERT_EQUAL(d.nnodes, m->nnodes);
		for (int i = 0; i < m->nnodes; i++) {
			CU_ASSERT_EQUAL(memcmp(d.nodes[i].id, m->nodes[i].id, KAD_ID_LEN), 0);
			CU_ASSERT_STRING_EQUAL(d.nodes[i].addr, m->nodes[i].addr);
		}
	}
	/* Every shorter prefix and one extra byte are refused. */
	for (int cut = 0; cut < len; cut++)
		CU_ASSERT_NOT_EQUAL(kad_decode(m->type, wbuf, (size_t)cut, 65536, &d), KAD_E_OK);
	wbuf[len] = 0;
	CU_ASSERT_EQUAL(kad_decode(m->type, wbuf, (size_t)len + 1, 65536, &d), KAD_E_SHORT);
}

static void test_wire_roundtrip(void)
{
	static struct kad_msg m;
	static const uint8_t value[] = "the value";

	memset(&m, 0, sizeof(m));
	m.reqid = 0x0102030405060708ull;
	random_id(m.id);
	random_id(m.key);
	snprintf(m.addr, sizeof(m.addr), "127.0.0.1:4000");
	m.type = KAD_T_PING;
	roundtrip(&m, 1);
	m.type = KAD_T_FNOD;
	roundtrip(&m, 1);
	m.type = KAD_T_FVAL;
	snprintf(m.addr, sizeof(m.addr), "[::1]:4000");
	roundtrip(&m, 1);
	m.type = KAD_T_STOR;
	m.seq = 0xfffffffffffffff0ull;
	m.ttl = 3600;
	m.value = value;
	m.vlen = sizeof(value);
	roundtrip(&m, 1);
	m.type = KAD_T_VALU;
	roundtrip(&m, 0);
	m.vlen = 0;
	roundtrip(&m, 0);
	m.type = KAD_T_PONG;
	roundtrip(&m, 0);
	m.type = KAD_T_STOK;
	m.status = KAD_STOK_NEWER;
	roundtrip(&m, 0);
	m.type = KAD_T_NODS;
	m.nnodes = 0;
	roundtrip(&m, 0);
	m.nnodes = KAD_MAX_K;
	for (int i = 0; i < KAD_MAX_K; i++)
		make_node(&m.nodes[i], 5000 + i);
	roundtrip(&m, 0);
}

static void test_wire_rejects(void)
{
	static struct kad_msg m, d;
	int len;

	memset(&m, 0, sizeof(m));
	random_id(m.id);
	snprintf(m.addr, sizeof(m.addr), "127.0.0.1:4000");
	m.type = KAD_T_NODS;
	m.nnodes = 1;
	make_node(&m.nodes[0], 4001);
	len = kad_encode_answer(wbuf, sizeof(wbuf), &m);
	/* Wrong version (1 and 2 are spoken). */
	wbuf[0] = 3;
	CU_ASSERT_EQUAL(kad_decode(KAD_T_NODS, wbuf, (size_t)len, 100, &d), KAD_E_VERSION);
	wbuf[0] = KAD_WIRE_VERSION_1;
	CU_ASSERT_EQUAL(kad_decode(KAD_T_NODS, wbuf, (size_t)len, 100, &d), KAD_E_OK);
	CU_ASSERT_EQUAL(d.version, KAD_WIRE_VERSION_1);
	wbuf[0] = KAD_WIRE_VERSION;
	/* A count over KAD_MAX_K is refused before anything else is read. */
	wbuf[1 + 8 + KAD_ID_LEN] = 200;
	CU_ASSERT_EQUAL(kad_decode(KAD_T_NODS, wbuf, (size_t)len, 100, &d), KAD_E_COUNT);
	wbuf[1 + 8 + KAD_ID_LEN] = 1;
	/* An impossible address in an entry: port 0. */
	memcpy(wbuf + len - 4, "0000", 4);
	CU_ASSERT_EQUAL(kad_decode(KAD_T_NODS, wbuf, (size_t)len, 100, &d), KAD_E_ADDRESS);
	/* Unknown type. */
	CU_ASSERT_EQUAL(kad_decode(KAD_T_NONE, wbuf, (size_t)len, 100, &d), KAD_E_TYPE);
	CU_ASSERT_EQUAL(kad_type_from_wire("XXXX"), KAD_T_NONE);
	CU_ASSERT_EQUAL(kad_type_from_wire("FVAL"), KAD_T_FVAL);
	/* A value over the limit: in version 1 the value itself, in version 2
	 * the record, which may carry KAD_REC_OVERHEAD bytes more. */
	m.type = KAD_T_STOR;
	m.value = wbuf + 1000;
	m.vlen = 101;
	m.version = KAD_WIRE_VERSION_1;
	len = kad_encode_request(wbuf, sizeof(wbuf), &m);
	CU_ASSERT_EQUAL(kad_decode(KAD_T_STOR, wbuf, (size_t)len, 100, &d), KAD_E_VALUE);
	CU_ASSERT_EQUAL(kad_decode(KAD_T_STOR, wbuf, (size_t)len, 101, &d), KAD_E_OK);
	m.version = 0;
	m.value = wbuf + 2000;
	m.vlen = 100 + KAD_REC_OVERHEAD + 1;
	len = kad_encode_request(wbuf, sizeof(wbuf), &m);
	CU_ASSERT_EQUAL(kad_decode(KAD_T_STOR, wbuf, (size_t)len, 100, &d), KAD_E_VALUE);
	CU_ASSERT_EQUAL(kad_decode(KAD_T_STOR, wbuf, (size_t)len, 101, &d), KAD_E_OK);
	CU_ASSERT_EQUAL(d.version, KAD_WIRE_VERSION);
	/* An unknown STOK status. */
	m.type = KAD_T_STOK;
	m.status = 2;
	len = kad_encode_answer(wbuf, sizeof(wbuf), &m);
	wbuf[len - 1] = 7;
	CU_ASSERT_EQUAL(kad_decode(KAD_T_STOK, wbuf, (size_t)len, 100, &d), KAD_E_STATUS);
	/* Encoders refuse what they cannot represent. */
	m.type = KAD_T_PONG;
	CU_ASSERT_EQUAL(kad_encode_request(wbuf, sizeof(wbuf), &m), -1);
	m.type = KAD_T_PING;
	CU_ASSERT_EQUAL(kad_encode_request(wbuf, 10, &m), -1);
	m.addr[0] = '\0';
	CU_ASSERT_EQUAL(kad_encode_request(wbuf, sizeof(wbuf), &m), -1);
}

static void test_addr_valid(void)
{
	CU_ASSERT(kad_addr_valid("127.0.0.1:1"));
	CU_ASSERT(kad_addr_valid("10.1.2.3:65535"));
	CU_ASSERT(kad_addr_valid("[::1]:80"));
	CU_ASSERT(kad_addr_valid("[2001:db8::1]:4000"));
	CU_ASSERT(!kad_addr_valid("127.0.0.1:0"));
	CU_ASSERT(!kad_addr_valid("127.0.0.1:65536"));
	CU_ASSERT(!kad_addr_valid("127.0.0.1:08"));
	CU_ASSERT(!kad_addr_valid("127.0.0.1"));
	CU_ASSERT(!kad_addr_valid("0.0.0.0:80"));
	CU_ASSERT(!kad_addr_valid("255.255.255.255:80"));
	CU_ASSERT(!kad_addr_valid("224.0.0.1:80"));
	CU_ASSERT(!kad_addr_valid("[::]:80"));
	CU_ASSERT(!kad_addr_valid("[ff02::1]:80"));
	/* Forbidden ranges in their IPv4-mapped forms. */
	CU_ASSERT(!kad_addr_valid("[::ffff:224.0.0.1]:80"));
	CU_ASSERT(!kad_addr_valid("[::ffff:0.0.0.0]:80"));
	CU_ASSERT(!kad_addr_valid("[::ffff:255.255.255.255]:80"));
	CU_ASSERT(!kad_addr_valid("[::ffff:e000:1]:80"));
	CU_ASSERT(kad_addr_valid("[::ffff:127.0.0.1]:80"));
	CU_ASSERT(!kad_addr_valid("127.000.0.1:80"));
	CU_ASSERT(!kad_addr_valid("[::1]:080"));
	CU_ASSERT(!kad_addr_valid("example.com:80"));
	CU_ASSERT(!kad_addr_valid("1.2.3.4:80x"));
	CU_ASSERT(!kad_addr_valid("[::1:80"));
	CU_ASSERT(!kad_addr_valid(""));
}

/* The shared address table: a node address follows the same rule as the
 * host and the classicv1 plugin. */
static void test_addr_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ok = kad_addr_valid(rows[i].text), want = addr_row_dialable(&rows[i]);
		if (ok != want)
			printf("\n  row %s: valid %d, want %d", rows[i].text, ok, want);
		CU_ASSERT_EQUAL(ok, want);
	}
}

/* --- lookup against a fake transport ----------------------------------- */

#define NET 200
#define FK 8

struct fake_net {
	struct kad_node node[NET];
	struct kad_table table[NET];
	int silent[NET];
	int holds[NET];          /* has the value (FIND_VALUE tests) */
	struct { uint64_t reqid; int to; int answered; } sent[4096];
	int nsent;
	int max_inflight;
	int done;
	uint64_t next_reqid;
};

static struct fake_net *net;

static int index_of(const struct kad_node *n)
{
	for (int i = 0; i < NET; i++)
		if (memcmp(net->node[i].id, n->id, KAD_ID_LEN) == 0)
			return i;
	return -1;
}

static int fake_query(void *arg_unused, struct kad_lookup *lk, const struct kad_node *to,
                      uint64_t *reqid_out)
{
	int i = index_of(to);

	CU_ASSERT_FATAL(i >= 0 && net->nsent < 4096);
	/* The caller counts this one after we return. */
	if (lk->inflight + 1 > net->max_inflight)
		net->max_inflight = lk->inflight + 1;
	*reqid_out = ++net->next_reqid;
	net->sent[net->nsent].reqid = *reqid_out;
	net->sent[net->nsent].to = i;
	net->sent[net->nsent].answered = 0;
	net->nsent++;
	return 0;
}

static void fake_done(void *arg, struct kad_lookup *lk)
{
	net->done++;
}

static const struct kad_lookup_io fake_io = { fake_query, fake_done, NULL };

/* Every node's table holds every other node, as far as its k-buckets
 * allow: real routing state, without the network. */
static void net_build(void)
{
	net = calloc(1, sizeof(*net));
	for (int i = 0; i < NET; i++)
		make_node(&net->node[i], 10000 + i);
	for (int i = 0; i < NET; i++) {
		kad_table_init(&net->table[i], net->node[i].id, FK);
		for (int j = 0; j < NET; j++)
			kad_table_seen(&net->table[i], &net->node[j], 1.0, NULL, NULL);
	}
}

static void net_free(void)
{
	for (int i = 0; i < NET; i++)
		kad_table_release(&net->table[i]);
	free(net);
	net = NULL;
}

/* Answers every query sent and not yet answered, in order; silent nodes
 * stay silent. Returns how many were answered. */
static int net_answer(struct kad_lookup *lk, double now, const uint8_t *value)
{
	int answered = 0;

	for (int s = 0; s < net->nsent && !net->done; s++) {
		int i = net->sent[s].to;
		if (net->sent[s].answered || net->silent[i])
			continue;
		net->sent[s].answered = 1;
		answered++;
		if (lk->kind == KAD_LK_VALUE && net->holds[i]) {
			CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[s].reqid, net->node[i].id,
			                                    7, 100, value, 5, now), 0);
		} else {
			struct kad_node near[FK];
			int n = kad_table_closest(&net->table[i], lk->target, near, FK, 0);
			CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[s].reqid, net->node[i].id,
			                                    near, n, now), 0);
		}
	}
	return answered;
}

/* The k closest nodes to target among those not silent, by selection. */
static int true_closest(const uint8_t target[KAD_ID_LEN], int *out, int k)
{
	int taken[NET] = { 0 }, n = 0;

	for (int i = 0; i < k; i++)
		out[i] = -1;

	while (n < k) {
		int best = -1;
		for (int i = 0; i < NET; i++)
			if (!net->silent[i] && !taken[i] &&
			    (best < 0 || kad_closer(target, net->node[i].id, net->node[best].id) < 0))
				best = i;
		if (best < 0)
			break;
		taken[best] = 1;
		out[n++] = best;
	}
	return n;
}

static void run_lookup(struct kad_lookup *lk, struct kad_rtt *rtt, int kind,
                       const uint8_t target[KAD_ID_LEN], int from, const uint8_t *value)
{
	struct kad_node seed[FK];
	double now = 100.0;
	int n, rounds = 0;

	kad_lookup_init(lk, net->node[from].id, target, kind, FK, 3, &fake_io, NULL, rtt, 5.0, now);
	n = kad_table_closest(&net->table[from], target, seed, FK, 0);
	kad_lookup_seed(lk, seed, n);
	kad_lookup_step(lk, now);
	while (!net->done && rounds++ < 1000) {
		if (net_answer(lk, now, value) == 0) {
			/* Only silence left: let time pass. */
			now += 0.5;
			kad_lookup_tick(lk, now);
		}
	}
	CU_ASSERT_EQUAL(net->done, 1);
}

static void test_lookup_converges(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN];
	struct kad_node res[FK];
	int want[FK];

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	for (int trial = 0; trial < 20; trial++) {
		random_id(target);
		net->done = 0;
		net->nsent = 0;
		net->max_inflight = 0;
		run_lookup(lk, &rtt, KAD_LK_NODE, target, trial, NULL);
		CU_ASSERT(lk->finished);
		/* alpha in flight until an answer names nobody closer; then the
		 * rest of the k closest at once. */
		CU_ASSERT(net->max_inflight <= (lk->widened ? FK : 3));
		CU_ASSERT_EQUAL(kad_lookup_result(lk, res, FK), FK);
		true_closest(target, want, FK);
		for (int i = 0; i < FK; i++)
			CU_ASSERT_EQUAL(memcmp(res[i].id, net->node[want[i]].id, KAD_ID_LEN), 0);
		CU_ASSERT(lk->hops >= 1 && lk->hops <= 6);
		/* Far fewer queries than nodes: that is the point of it. */
		CU_ASSERT(lk->queries < 60);
		CU_ASSERT_EQUAL(lk->timeouts, 0);
		kad_lookup_release(lk);
	}
	CU_ASSERT(rtt.samples > 0);
	net_free();
	free(lk);
}

static void test_lookup_silences(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN];
	struct kad_node res[FK];
	int want[FK], got, silent_in_top;

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	/* One node in four never answers, the asker excepted. */
	for (int i = 1; i < NET; i += 4)
		net->silent[i] = 1;
	for (int trial = 0; trial < 10; trial++) {
		random_id(target);
		net->done = 0;
		net->nsent = 0;
		run_lookup(lk, &rtt, KAD_LK_NODE, target, 0, NULL);
		/* Silent nodes stay in everyone's table and so fill slots of the
		 * k closest that answers name: the lookup returns every live node
		 * among the k closest, in order, and may miss only as many of the
		 * next ones as there were silent nodes in the true top k. */
		got = kad_lookup_result(lk, res, FK);
		silent_in_top = 0;
		{
			int all[FK], saved[NET];
			memcpy(saved, net->silent, sizeof(saved));
			memset(net->silent, 0, sizeof(net->silent));
			true_closest(target, all, FK);
			memcpy(net->silent, saved, sizeof(saved));
			for (int i = 0; i < FK; i++)
				silent_in_top += net->silent[all[i]];
		}
		CU_ASSERT(got >= FK - silent_in_top);
		true_closest(target, want, FK);
		/* The closest live node is always found; the others are in
		 * distance order and among the 2k closest live nodes. */
		CU_ASSERT_EQUAL(memcmp(res[0].id, net->node[want[0]].id, KAD_ID_LEN), 0);
		for (int i = 1; i < got; i++)
			CU_ASSERT(kad_closer(target, res[i - 1].id, res[i].id) < 0);
		{
			int wide[2 * FK];
			true_closest(target, wide, 2 * FK);
			for (int i = 0; i < got; i++) {
				int in = 0;
				for (int j = 0; j < 2 * FK; j++)
					in |= index_of(&res[i]) == wide[j];
				CU_ASSERT(in);
			}
		}
		for (int i = 0; i < got; i++)
			CU_ASSERT_FALSE(net->silent[index_of(&res[i])]);
		kad_lookup_release(lk);
	}
	net_free();
	free(lk);
}

static void test_lookup_all_silent(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN];
	struct kad_node res[FK];

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	for (int i = 1; i < NET; i++)
		net->silent[i] = 1;
	random_id(target);
	run_lookup(lk, &rtt, KAD_LK_NODE, target, 0, NULL);
	CU_ASSERT_EQUAL(kad_lookup_result(lk, res, FK), 0);
	CU_ASSERT_EQUAL(lk->answers, 0);
	/* Each seed timed out softly (rtt not yet measured: the ceiling) and
	 * then failed at the hard timeout. */
	CU_ASSERT(lk->timeouts >= 3);
	CU_ASSERT_EQUAL(lk->inflight, 0);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

/* The closest node is slow, not dead: past its adaptive timeout it gives
 * its slot away, but the lookup waits for it, and its late answer counts. */
static void test_lookup_late_answer(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN];
	struct kad_node seed[FK], res[FK];
	int want[FK];
	double now = 10.0;

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	kad_rtt_sample(&rtt, 0.001);
	random_id(target);
	true_closest(target, want, FK);
	net->silent[want[0]] = 1;
	kad_lookup_init(lk, net->node[want[FK - 1]].id, target, KAD_LK_NODE, FK, 3, &fake_io,
	                NULL, &rtt, 5.0, now);
	kad_lookup_seed(lk, seed, kad_table_closest(&net->table[want[FK - 1]], target, seed, FK, 0));
	kad_lookup_step(lk, now);
	for (int i = 0; i < 100 && !net->done; i++) {
		if (net_answer(lk, now, NULL) == 0) {
			now += 0.1;
			kad_lookup_tick(lk, now);
			if (now > 11.0)
				break;
		}
	}
	/* Everyone else answered long ago; the slow one holds the end. */
	CU_ASSERT_EQUAL(net->done, 0);
	CU_ASSERT(lk->timeouts >= 1);
	CU_ASSERT_EQUAL(lk->inflight, 0);
	net->silent[want[0]] = 0;
	net_answer(lk, now, NULL);
	CU_ASSERT_EQUAL(net->done, 1);
	CU_ASSERT_EQUAL(kad_lookup_result(lk, res, FK), FK);
	CU_ASSERT_EQUAL(memcmp(res[0].id, net->node[want[0]].id, KAD_ID_LEN), 0);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

static void test_lookup_wrong_answers(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN], stranger[KAD_ID_LEN];
	struct kad_node seed[FK], self_only;

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	random_id(target);
	random_id(stranger);
	kad_lookup_init(lk, net->node[0].id, target, KAD_LK_NODE, FK, 3, &fake_io, NULL, &rtt,
	                5.0, 1.0);
	kad_lookup_seed(lk, seed, kad_table_closest(&net->table[0], target, seed, FK, 0));
	kad_lookup_step(lk, 1.0);
	CU_ASSERT_EQUAL(net->nsent, 3);
	CU_ASSERT_EQUAL(lk->inflight, 3);
	/* An id we never sent is refused and changes nothing. */
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, 999999, net->node[net->sent[0].to].id, NULL, 0, 1.1), -1);
	CU_ASSERT_EQUAL(lk->inflight, 3);
	/* An answer from someone other than the node asked: dropped, that
	 * candidate failed, and a replacement query goes out. */
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[0].reqid, stranger, NULL, 0, 1.1), 0);
	CU_ASSERT_EQUAL(lk->dropped, 1);
	CU_ASSERT_EQUAL(lk->answers, 0);
	CU_ASSERT_EQUAL(net->nsent, 4);
	/* The same id again is no longer pending. */
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[0].reqid, net->node[net->sent[0].to].id,
	                                    NULL, 0, 1.2), -1);
	/* A node answering with itself and with the asker adds nothing. */
	self_only = net->node[net->sent[1].to];
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[1].reqid, self_only.id, &self_only, 1, 1.2), 0);
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[2].reqid, net->node[net->sent[2].to].id,
	                                    &net->node[0], 1, 1.2), 0);
	for (int i = 0; i < lk->n; i++)
		CU_ASSERT_NOT_EQUAL(memcmp(lk->c[i].n.id, net->node[0].id, KAD_ID_LEN), 0);
	/* A value to a FIND_NODE is a wrong answer. */
	CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[3].reqid, net->node[net->sent[3].to].id,
	                                    1, 1, (const uint8_t *)"x", 1, 1.3), 0);
	CU_ASSERT_EQUAL(lk->dropped, 2);
	CU_ASSERT_FALSE(lk->found);
	for (int i = 0; i < 4; i++)
		net->sent[i].answered = 1;
	net->done = 0;
	while (!net->done) {
		if (net_answer(lk, 2.0, NULL) == 0)
			kad_lookup_tick(lk, 100.0);
	}
	CU_ASSERT(lk->finished);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

static void test_lookup_value(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t key[KAD_ID_LEN];
	int want[FK];

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	random_id(key);
	true_closest(key, want, FK);
	/* Only the 3rd to 5th closest hold it, as after churn. */
	for (int i = 2; i < 5; i++)
		net->holds[want[i]] = 1;
	run_lookup(lk, &rtt, KAD_LK_VALUE, key, want[FK - 1], (const uint8_t *)"hello");
	CU_ASSERT_EQUAL_FATAL(lk->found, 1);
	CU_ASSERT_EQUAL(lk->vlen, 5);
	CU_ASSERT_EQUAL(memcmp(lk->value, "hello", 5), 0);
	CU_ASSERT_EQUAL(lk->seq, 7);
	CU_ASSERT_EQUAL(lk->ttl, 100);
	/* It stopped at the first value: that is the last query answered. */
	CU_ASSERT(lk->finished);
	/* The cache target lacked the value and answered, and no closer
	 * candidate did. */
	if (lk->cache_at >= 0) {
		int ci = lk->cache_at;
		CU_ASSERT_EQUAL(lk->c[ci].state, KAD_C_DONE);
		CU_ASSERT_FALSE(lk->c[ci].had_value);
		CU_ASSERT_FALSE(net->holds[index_of(&lk->c[ci].n)]);
		for (int i = 0; i < ci; i++)
			CU_ASSERT(lk->c[i].state != KAD_C_DONE || lk->c[i].had_value);
	}
	kad_lookup_release(lk);
	/* No holder at all: the lookup ends without a value. */
	memset(net->holds, 0, sizeof(net->holds));
	net->done = 0;
	net->nsent = 0;
	run_lookup(lk, &rtt, KAD_LK_VALUE, key, 0, NULL);
	CU_ASSERT_FALSE(lk->found);
	CU_ASSERT(lk->answers >= FK);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

/* Two versions in the first wave: no query after the first value, the
 * answers in flight are awaited, the newest wins, the older holder is
 * marked stale and the one without the value is the cache target. */
static void test_lookup_value_versions(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t key[KAD_ID_LEN];
	struct kad_node seed[FK];
	int n;

	net_build();
	kad_rtt_init(&rtt, 0.05, 2.0);
	random_id(key);
	kad_lookup_init(lk, net->node[0].id, key, KAD_LK_VALUE, FK, 3, &fake_io, NULL, &rtt, 5.0, 1.0);
	n = kad_table_closest(&net->table[0], key, seed, FK, 0);
	kad_lookup_seed(lk, seed, n);
	kad_lookup_step(lk, 1.0);
	CU_ASSERT_EQUAL_FATAL(net->nsent, 3);
	/* The first answer: an old version. Nothing more is sent. */
	CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[0].reqid, net->node[net->sent[0].to].id,
	                                    5, 100, (const uint8_t *)"old", 3, 1.1), 0);
	CU_ASSERT_EQUAL(net->nsent, 3);
	CU_ASSERT_EQUAL(net->done, 0);
	/* The second: a newer one, which wins. */
	CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[1].reqid, net->node[net->sent[1].to].id,
	                                    7, 90, (const uint8_t *)"new!", 4, 1.2), 0);
	CU_ASSERT_EQUAL(net->done, 0);
	/* The third lacks it; now the lookup ends. */
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[2].reqid, net->node[net->sent[2].to].id,
	                                    NULL, 0, 1.3), 0);
	CU_ASSERT_EQUAL_FATAL(net->done, 1);
	CU_ASSERT_EQUAL(net->nsent, 3);
	CU_ASSERT_EQUAL(lk->seq, 7);
	CU_ASSERT_EQUAL(lk->ttl, 90);
	CU_ASSERT_EQUAL(lk->vlen, 4);
	CU_ASSERT_EQUAL(memcmp(lk->value, "new!", 4), 0);
	for (int i = 0; i < lk->n; i++) {
		int from0 = memcmp(lk->c[i].n.id, net->node[net->sent[0].to].id, KAD_ID_LEN) == 0;
		int from1 = memcmp(lk->c[i].n.id, net->node[net->sent[1].to].id, KAD_ID_LEN) == 0;
		CU_ASSERT_EQUAL(lk->c[i].stale, from0);
		if (from1)
			CU_ASSERT(lk->c[i].had_value && !lk->c[i].stale);
	}
	CU_ASSERT_FATAL(lk->cache_at >= 0);
	CU_ASSERT_EQUAL(memcmp(lk->c[lk->cache_at].n.id, net->node[net->sent[2].to].id, KAD_ID_LEN), 0);
	kad_lookup_release(lk);

	/* A silent member of the first wave cannot hold the answer for long:
	 * once it goes LATE, the value found is returned. */
	net->done = 0;
	net->nsent = 0;
	kad_lookup_init(lk, net->node[0].id, key, KAD_LK_VALUE, FK, 3, &fake_io, NULL, &rtt, 5.0, 1.0);
	kad_lookup_seed(lk, seed, n);
	kad_lookup_step(lk, 1.0);
	kad_lookup_on_value(lk, net->sent[0].reqid, net->node[net->sent[0].to].id, 5, 100,
	                    (const uint8_t *)"old", 3, 1.1);
	kad_lookup_on_nodes(lk, net->sent[1].reqid, net->node[net->sent[1].to].id, NULL, 0, 1.1);
	CU_ASSERT_EQUAL(net->done, 0);
	kad_lookup_tick(lk, 3.5);
	CU_ASSERT_EQUAL(net->done, 1);
	CU_ASSERT(lk->found && lk->seq == 5);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

/* A node lookup whose answers name nobody closer than the closest known
 * asks the rest of the k closest at once, not alpha per round trip. */
static void test_lookup_widens(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t target[KAD_ID_LEN];
	struct kad_node seed[FK], res[FK];
	int want[FK], n;

	net_build();
	kad_rtt_init(&rtt, KAD_RTT_FLOOR, 2.0);
	random_id(target);
	true_closest(target, want, FK);
	/* Seeded with exactly the k closest: nobody can name a closer one. */
	for (int i = 0; i < FK; i++)
		seed[i] = net->node[want[i]];
	kad_lookup_init(lk, net->node[want[FK - 1]].id, target, KAD_LK_NODE, FK, 3, &fake_io,
	                NULL, &rtt, 5.0, 1.0);
	kad_lookup_seed(lk, seed, FK - 1);
	kad_lookup_step(lk, 1.0);
	CU_ASSERT_EQUAL(net->nsent, 3);
	CU_ASSERT_FALSE(lk->widened);
	/* The closest answers, naming the k closest it knows: none closer. */
	n = kad_table_closest(&net->table[want[0]], target, res, FK, 0);
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[0].reqid, net->node[want[0]].id,
	                                    res, n, 1.001), 0);
	CU_ASSERT(lk->widened);
	/* Every candidate of the window not yet asked is asked now. */
	CU_ASSERT_EQUAL(lk->inflight, FK - 1);
	net->sent[0].answered = 1;
	while (!net->done && net_answer(lk, 1.002, NULL) > 0)
		;
	CU_ASSERT_EQUAL(net->done, 1);
	CU_ASSERT_EQUAL(kad_lookup_result(lk, res, FK), FK);
	kad_lookup_release(lk);
	/* A put's lookup ends right there: it stores on the k closest known. */
	net->done = 0;
	net->nsent = 0;
	kad_lookup_init(lk, net->node[want[FK - 1]].id, target, KAD_LK_NODE, FK, 3, &fake_io,
	                NULL, &rtt, 5.0, 1.0);
	lk->end_at_convergence = 1;
	kad_lookup_seed(lk, seed, FK - 1);
	kad_lookup_step(lk, 1.0);
	/* A farther node naming nobody closer than the closest candidate
	 * proves nothing: that candidate has not answered yet. */
	n = kad_table_closest(&net->table[want[1]], target, res, FK, 0);
	kad_lookup_on_nodes(lk, net->sent[1].reqid, net->node[want[1]].id, res, n, 1.001);
	CU_ASSERT_FALSE(lk->widened);
	CU_ASSERT_EQUAL(net->done, 0);
	n = kad_table_closest(&net->table[want[0]], target, res, FK, 0);
	kad_lookup_on_nodes(lk, net->sent[0].reqid, net->node[want[0]].id, res, n, 1.002);
	CU_ASSERT_EQUAL(net->done, 1);
	CU_ASSERT_EQUAL(net->nsent, 4);
	CU_ASSERT_EQUAL(memcmp(lk->c[0].n.id, net->node[want[0]].id, KAD_ID_LEN), 0);
	kad_lookup_release(lk);
	/* A value lookup keeps alpha: any of the k closest holds the value. */
	net->done = 0;
	net->nsent = 0;
	kad_lookup_init(lk, net->node[want[FK - 1]].id, target, KAD_LK_VALUE, FK, 3, &fake_io,
	                NULL, &rtt, 5.0, 1.0);
	kad_lookup_seed(lk, seed, FK - 1);
	kad_lookup_step(lk, 1.0);
	n = kad_table_closest(&net->table[want[0]], target, res, FK, 0);
	kad_lookup_on_nodes(lk, net->sent[0].reqid, net->node[want[0]].id, res, n, 1.001);
	CU_ASSERT_FALSE(lk->widened);
	CU_ASSERT_EQUAL(lk->inflight, 3);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

/* After the first value, a silent member of the first wave holds the get
 * back for as long again as the value took, not its soft timeout. */
static void test_lookup_value_grace(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t key[KAD_ID_LEN];
	struct kad_node seed[FK];

	net_build();
	kad_rtt_init(&rtt, KAD_RTT_FLOOR, 2.0);
	/* A soft timeout of 0.8 s: only the grace can end this lookup early. */
	kad_rtt_sample(&rtt, 0.4);
	random_id(key);
	kad_lookup_init(lk, net->node[0].id, key, KAD_LK_VALUE, FK, 3, &fake_io, NULL, &rtt, 5.0, 1.0);
	kad_lookup_seed(lk, seed, kad_table_closest(&net->table[0], key, seed, FK, 0));
	kad_lookup_step(lk, 1.0);
	CU_ASSERT_EQUAL_FATAL(net->nsent, 3);
	/* The value after 3 ms; the other two stay silent. */
	CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[0].reqid, net->node[net->sent[0].to].id,
	                                    5, 100, (const uint8_t *)"val", 3, 1.003), 0);
	CU_ASSERT_DOUBLE_EQUAL(kad_lookup_next_deadline(lk), 1.006, 1e-9);
	kad_lookup_tick(lk, 1.0055);
	CU_ASSERT_EQUAL(net->done, 0);
	/* A member of the first wave answering within the grace counts. */
	CU_ASSERT_EQUAL(kad_lookup_on_nodes(lk, net->sent[1].reqid, net->node[net->sent[1].to].id,
	                                    NULL, 0, 1.0057), 0);
	CU_ASSERT_EQUAL(net->done, 0);
	kad_lookup_tick(lk, 1.0061);
	CU_ASSERT_EQUAL(net->done, 1);
	CU_ASSERT_EQUAL(lk->timeouts, 1);
	CU_ASSERT(lk->found && lk->seq == 5);
	/* No query was sent after the value. */
	CU_ASSERT_EQUAL(net->nsent, 3);
	kad_lookup_release(lk);
	net_free();
	free(lk);
}

/* An immutable record cannot be bettered: the first ends the get at once,
 * without the grace the other queries would get, and answers still in
 * flight are then no longer taken. A mutable record, on the same
 * lookup's start, waits for them (test_lookup_value_grace). */
static void test_lookup_immutable_ends(void)
{
	struct kad_lookup *lk = malloc(sizeof(*lk));
	struct kad_rtt rtt;
	uint8_t key[KAD_ID_LEN], rec[64], mrec[] = { KAD_REC_MUTABLE, 'v' };
	struct kad_node seed[FK];
	int rlen;

	net_build();
	kad_rtt_init(&rtt, KAD_RTT_FLOOR, 2.0);
	kad_rtt_sample(&rtt, 0.4);
	rlen = kad_record_immutable(rec, sizeof(rec), "val", 3, key);
	CU_ASSERT_FATAL(rlen > 0);
	for (int immutable = 0; immutable <= 1; immutable++) {
		net->done = 0;
		net->nsent = 0;
		kad_lookup_init(lk, net->node[0].id, key, KAD_LK_VALUE, FK, 3, &fake_io, NULL, &rtt,
		                5.0, 1.0);
		kad_lookup_seed(lk, seed, kad_table_closest(&net->table[0], key, seed, FK, 0));
		kad_lookup_step(lk, 1.0);
		CU_ASSERT_EQUAL_FATAL(net->nsent, 3);
		CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[0].reqid,
		                                    net->node[net->sent[0].to].id, 0, 100,
		                                    immutable ? rec : mrec,
		                                    immutable ? (uint32_t)rlen : 2, 1.003), 0);
		CU_ASSERT_EQUAL(net->done, immutable);
		CU_ASSERT_EQUAL(lk->inflight, 2);
		if (immutable) {
			CU_ASSERT(lk->finished && lk->found);
			CU_ASSERT_DOUBLE_EQUAL(lk->ended, 1.003, 1e-12);
			CU_ASSERT_EQUAL(lk->vlen, (uint32_t)rlen);
			CU_ASSERT_EQUAL(memcmp(lk->value, rec, (size_t)rlen), 0);
			/* The two still out are not waited for, nor taken. */
			CU_ASSERT_EQUAL(kad_lookup_on_value(lk, net->sent[1].reqid,
			                                    net->node[net->sent[1].to].id, 0, 100,
			                                    rec, (uint32_t)rlen, 1.004), -1);
		} else {
			/* The mutable one waits out its grace (3 ms). */
			CU_ASSERT_FALSE(lk->finished);
			kad_lookup_tick(lk, 1.0061);
			CU_ASSERT_EQUAL(net->done, 1);
		}
		CU_ASSERT_EQUAL(net->nsent, 3);
		kad_lookup_release(lk);
	}
	net_free();
	free(lk);
}

/* Bootstrap retries: 1 s, doubling, never more than 60 s apart. The
 * daemon test test_kademlia_timing sees the first rounds go out on time. */
static void test_boot_backoff(void)
{
	static const double want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	double w = KAD_BOOT_FIRST, at = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_DOUBLE_EQUAL(w, want[i], 1e-9);
		at += w;
		w = kad_backoff_next(w);
	}
	/* Rounds go out at 0, 1, 3, 7, 15, 31, 63, 123, 183, 243 s. */
	CU_ASSERT_DOUBLE_EQUAL(at, 243.0, 1e-9);
}

/* The soft timeout: twice the 90th percentile of the last 32 round trips,
 * between the floor and request_timeout; 1 s (or request_timeout if
 * smaller) before the first sample. */
static void test_rtt(void)
{
	struct kad_rtt r;

	kad_rtt_init(&r, 0.05, 2.0);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), KAD_RTT_SEED, 1e-12);
	kad_rtt_init(&r, 0.05, 0.5);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 0.5, 1e-12);
	kad_rtt_init(&r, 0.05, 2.0);
	kad_rtt_sample(&r, -1.0);
	CU_ASSERT_EQUAL(r.samples, 0);
	/* One sample of 1 ms: 2 ms, raised to the floor. */
	kad_rtt_sample(&r, 0.001);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 0.05, 1e-12);
	/* Ten samples, 1 to 10 ms: the 9th smallest is the p90. */
	kad_rtt_init(&r, KAD_RTT_FLOOR, 2.0);
	for (int i = 10; i >= 1; i--)
		kad_rtt_sample(&r, i * 0.001);
	CU_ASSERT_DOUBLE_EQUAL(r.p90, 0.009, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 0.018, 1e-12);
	/* A full ring of 1 ms round trips with 3 of 32 at 800 ms (under one
	 * in ten): the timeout stays at 2 ms. RFC 6298's estimate, fed the
	 * same samples, climbs to hundreds of milliseconds. */
	kad_rtt_init(&r, KAD_RTT_FLOOR, 2.0);
	for (int i = 0; i < KAD_RTT_RING; i++)
		kad_rtt_sample(&r, i % 11 == 5 ? 0.8 : 0.001);
	CU_ASSERT_DOUBLE_EQUAL(r.p90, 0.001, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 0.002, 1e-12);
	/* A fourth slow one of 32 is the 29th smallest: now they count. */
	kad_rtt_sample(&r, 0.8);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 1.6, 1e-12);
	/* Only the last 32 count: 32 fast ones push the slow ones out. */
	for (int i = 0; i < KAD_RTT_RING; i++)
		kad_rtt_sample(&r, 0.0004);
	CU_ASSERT_DOUBLE_EQUAL(r.p90, 0.0004, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), KAD_RTT_FLOOR, 1e-12);
	CU_ASSERT_EQUAL(r.samples, 32 + 1 + 32);
	/* The ceiling is request_timeout. */
	for (int i = 0; i < KAD_RTT_RING; i++)
		kad_rtt_sample(&r, 30.0);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 2.0, 1e-12);
	/* Between: 31 at 3 ms and one at 5 ms: p90 3 ms, timeout 6 ms. */
	kad_rtt_init(&r, KAD_RTT_FLOOR, 2.0);
	for (int i = 0; i < KAD_RTT_RING - 1; i++)
		kad_rtt_sample(&r, 0.003);
	kad_rtt_sample(&r, 0.005);
	CU_ASSERT_DOUBLE_EQUAL(kad_rtt_timeout(&r), 0.006, 1e-12);
}

/* --- store -------------------------------------------------------------- */

static void test_store_replace(void)
{
	struct kad_store s;
	uint8_t key[KAD_ID_LEN], w1[KAD_ID_LEN], w2[KAD_ID_LEN];
	struct kad_value *v;

	random_id(key);
	random_id(w1);
	random_id(w2);
	kad_store_init(&s, 100, 16);
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 5, "five", 4, 100, 50, w1, 0, 0), KAD_ST_STORED);
	/* An older write loses. */
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 4, "four", 4, 100, 50, w2, 0, 0), KAD_ST_OLDER);
	v = kad_store_get(&s, key, 1);
	CU_ASSERT_EQUAL(v->seq, 5);
	CU_ASSERT_EQUAL(memcmp(v->data, "five", 4), 0);
	/* A newer one wins. */
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 6, "six!", 4, 100, 50, w2, 0, 0), KAD_ST_STORED);
	v = kad_store_get(&s, key, 1);
	CU_ASSERT_EQUAL(v->seq, 6);
	CU_ASSERT_EQUAL(memcmp(v->source, w2, KAD_ID_LEN), 0);
	/* Equal sequence numbers: the bytes decide, the same on every node. */
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 6, "aaaa", 4, 100, 50, w1, 0, 0), KAD_ST_OLDER);
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 6, "zzzz", 4, 100, 50, w1, 0, 0), KAD_ST_STORED);
	/* The same version again extends its life and postpones republishing. */
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 6, "zzzz", 4, 300, 250, w2, 0, 0), KAD_ST_STORED);
	v = kad_store_get(&s, key, 1);
	CU_ASSERT_EQUAL(v->expires, 300);
	CU_ASSERT_EQUAL(v->republish_at, 250);
	CU_ASSERT_EQUAL(s.n, 1);
	/* Too big. */
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 9, "01234567890123456", 17, 100, 50, w1, 0, 0),
	                KAD_ST_TOOBIG);
	CU_ASSERT_EQUAL(kad_value_newer(1, "b", 1, 1, "a", 1), 1);
	CU_ASSERT_EQUAL(kad_value_newer(1, "a", 1, 1, "ab", 2), -1);
	CU_ASSERT_EQUAL(kad_value_newer(1, "a", 1, 1, "a", 1), 0);
	kad_store_release(&s);
}

static void test_store_expiry(void)
{
	struct kad_store s;
	uint8_t key[KAD_ID_LEN], w[KAD_ID_LEN];

	random_id(w);
	kad_store_init(&s, 100, 16);
	for (int i = 0; i < 10; i++) {
		random_id(key);
		CU_ASSERT_EQUAL(kad_store_put(&s, key, 1, "v", 1, 10.0 + i, 5, w, 1, 0), KAD_ST_STORED);
	}
	/* Expired values are invisible at once and gone at the sweep. */
	CU_ASSERT_PTR_NOT_NULL(kad_store_get(&s, key, 18.9));
	CU_ASSERT_PTR_NULL(kad_store_get(&s, key, 19.0));
	CU_ASSERT_EQUAL(kad_store_expire(&s, 15.0), 6);
	CU_ASSERT_EQUAL(s.n, 4);
	for (int i = 1; i < s.n; i++)
		CU_ASSERT(memcmp(s.v[i - 1]->key, s.v[i]->key, KAD_ID_LEN) < 0);
	CU_ASSERT_EQUAL(kad_store_expire(&s, 100.0), 4);
	CU_ASSERT_EQUAL(s.n, 0);
	kad_store_release(&s);
}

static void test_store_limits(void)
{
	struct kad_store s;
	uint8_t key[KAD_ID_LEN], greedy[KAD_ID_LEN], neighbour[KAD_ID_LEN];
	uint8_t other[KAD_ID_LEN], own[KAD_ID_LEN];
	int stored = 0, quota = 0;

	kad_store_source("127.1.1.1:4000", greedy);
	kad_store_source("127.1.1.2:4000", neighbour);    /* same /24 */
	kad_store_source("127.2.2.2:4000", other);
	memset(own, 0, sizeof(own));
	kad_store_init(&s, 40, 16);
	CU_ASSERT_EQUAL(s.ip_share, 5);
	CU_ASSERT_EQUAL(s.prefix_share, 10);
	/* One address gets its share and no more, whatever ids it claims. */
	for (int i = 0; i < 30; i++) {
		int r;
		random_id(key);
		r = kad_store_put(&s, key, 1, "v", 1, 100, 50, greedy, 0, 0);
		stored += r == KAD_ST_STORED;
		quota += r == KAD_ST_QUOTA;
	}
	CU_ASSERT_EQUAL(stored, 5);
	CU_ASSERT_EQUAL(quota, 25);
	/* Updating a key it already holds is still allowed. */
	CU_ASSERT_EQUAL(kad_store_put(&s, s.v[0]->key, 2, "w", 1, 100, 50, greedy, 0, 0),
	                KAD_ST_STORED);
	/* Its neighbourhood shares the prefix quota. */
	stored = 0;
	for (int i = 0; i < 10; i++) {
		random_id(key);
		stored += kad_store_put(&s, key, 1, "v", 1, 100, 50, neighbour, 0, 0) == KAD_ST_STORED;
	}
	CU_ASSERT_EQUAL(stored, 5);
	/* Our own puts fill the rest, and then push out others' values. */
	for (int i = 0; i < 40; i++) {
		random_id(key);
		CU_ASSERT_EQUAL(kad_store_put(&s, key, 1, "v", 1, 100, 50, own, 1, 1), KAD_ST_STORED);
	}
	CU_ASSERT_EQUAL(s.n, 40);
	for (int i = 0; i < s.n; i++)
		CU_ASSERT(s.v[i]->origin);
	/* Full of our own: another's value is refused, our own still fits. */
	random_id(key);
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 1, "v", 1, 100, 50, other, 0, 0), KAD_ST_FULL);
	CU_ASSERT_EQUAL(kad_store_put(&s, key, 1, "v", 1, 100, 50, own, 1, 1), KAD_ST_STORED);
	CU_ASSERT_EQUAL(s.n, 41);
	kad_store_release(&s);
}

/* A full store gives way to a source with few values: the one holding
 * the most loses one. */
static void test_store_fair_when_full(void)
{
	uint32_t saved_rng = rng;    /* the later tests replay their own draws */
	struct kad_store s;
	uint8_t key[KAD_ID_LEN], src[KAD_ID_LEN], honest[KAD_ID_LEN];
	char addr[32];
	int honest_ok = 0;

	kad_store_init(&s, 64, 16);
	/* Eight /24s of flooders, each at its quota, fill it. */
	for (int a = 0; a < 8; a++) {
		snprintf(addr, sizeof(addr), "127.%d.0.1:1", 10 + a);
		kad_store_source(addr, src);
		for (int i = 0; i < 8; i++) {
			random_id(key);
			kad_store_put(&s, key, 1, "v", 1, 100, 50, src, 0, 0);
		}
	}
	CU_ASSERT_EQUAL(s.n, 64);
	/* Twenty honest sources each store one value, and all get in. */
	for (int h = 0; h < 20; h++) {
		snprintf(addr, sizeof(addr), "127.99.%d.1:1", h);
		kad_store_source(addr, honest);
		random_id(key);
		honest_ok += kad_store_put(&s, key, 1, "v", 1, 100, 50, honest, 0, 0) == KAD_ST_STORED;
	}
	CU_ASSERT_EQUAL(honest_ok, 20);
	CU_ASSERT_EQUAL(s.n, 64);
	kad_store_release(&s);
	rng = saved_rng;
}

/* --- records ------------------------------------------------------------ */

static void test_records(void)
{
	struct kad_keypair kp, other;
	struct kad_signer sg, sg_other;
	uint8_t seed[KAD_PUB_LEN], key[KAD_ID_LEN], key2[KAD_ID_LEN], rec[512], bad[512];
	uint8_t writer[KAD_ID_LEN], joined[KAD_ID_LEN + 5];
	struct kad_record r;
	int len;
	uint32_t saved_rng = rng;

	random_id(seed);
	CU_ASSERT_EQUAL_FATAL(kad_keypair_from_private(&kp, seed), 0);
	random_id(seed);
	CU_ASSERT_EQUAL_FATAL(kad_keypair_from_private(&other, seed), 0);
	memcpy(sg.pub, kp.pub, KAD_PUB_LEN);
	sg.sign = kad_keypair_sign;
	sg.arg = &kp;
	memcpy(sg_other.pub, other.pub, KAD_PUB_LEN);
	sg_other.sign = kad_keypair_sign;
	sg_other.arg = &other;
	/* A signed record checks, and says what it holds. */
	len = kad_record_mutable(rec, sizeof(rec), &sg, "color", 5, 42, "blue", 4, key);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(kad_record_check(key, 42, rec, (uint32_t)len), KAD_REC_OK);
	CU_ASSERT_EQUAL(kad_record_parse(rec, (uint32_t)len, &r), 0);
	CU_ASSERT_EQUAL(r.kind, KAD_REC_MUTABLE);
	CU_ASSERT(r.vlen == 4 && memcmp(r.value, "blue", 4) == 0);
	CU_ASSERT_EQUAL(memcmp(r.pub, kp.pub, KAD_PUB_LEN), 0);
	/* The key is SHA-256(SHA-256(public key) || name): the writer id,
	 * a host's peer id when it signs with its host key, then the name. */
	CU_ASSERT_EQUAL(kad_writer_id(kp.pub, writer), 0);
	kad_mutable_key(writer, "color", 5, key2);
	CU_ASSERT_EQUAL(memcmp(key, key2, KAD_ID_LEN), 0);
	kad_key_hash(kp.pub, KAD_PUB_LEN, joined);
	memcpy(joined + KAD_ID_LEN, "color", 5);
	kad_key_hash(joined, sizeof(joined), key2);
	CU_ASSERT_EQUAL(memcmp(key, key2, KAD_ID_LEN), 0);
	/* Another sequence number, value, or writer: the signature fails. */
	CU_ASSERT_EQUAL(kad_record_check(key, UINT64_MAX, rec, (uint32_t)len), KAD_REC_E_SIG);
	memcpy(bad, rec, (size_t)len);
	bad[len - 1] ^= 1;
	CU_ASSERT_EQUAL(kad_record_check(key, 42, bad, (uint32_t)len), KAD_REC_E_SIG);
	memcpy(bad, rec, (size_t)len);
	memcpy(bad + 1, other.pub, KAD_PUB_LEN);    /* someone else's key: another key */
	CU_ASSERT_EQUAL(kad_record_check(key, 42, bad, (uint32_t)len), KAD_REC_E_HASH);
	/* A writer cannot sign for another's key with its own. */
	len = kad_record_mutable(bad, sizeof(bad), &sg_other, "color", 5, UINT64_MAX, "red", 3, key2);
	CU_ASSERT_EQUAL(kad_record_check(key2, UINT64_MAX, bad, (uint32_t)len), KAD_REC_OK);
	CU_ASSERT_EQUAL(kad_record_check(key, UINT64_MAX, bad, (uint32_t)len), KAD_REC_E_HASH);
	/* Immutable: the key is the hash of the value, and seq is 0. */
	len = kad_record_immutable(rec, sizeof(rec), "hello", 5, key);
	CU_ASSERT_EQUAL(kad_record_check(key, 0, rec, (uint32_t)len), KAD_REC_OK);
	CU_ASSERT_EQUAL(kad_record_check(key, 1, rec, (uint32_t)len), KAD_REC_E_FORM);
	rec[len - 1] ^= 1;
	CU_ASSERT_EQUAL(kad_record_check(key, 0, rec, (uint32_t)len), KAD_REC_E_HASH);
	/* Malformed. */
	CU_ASSERT_EQUAL(kad_record_check(key, 0, rec, 0), KAD_REC_E_FORM);
	rec[0] = 7;
	CU_ASSERT_EQUAL(kad_record_check(key, 0, rec, (uint32_t)len), KAD_REC_E_FORM);
	rec[0] = KAD_REC_MUTABLE;
	CU_ASSERT_EQUAL(kad_record_check(key, 0, rec, 20), KAD_REC_E_FORM);
	rng = saved_rng;
}

/* --- state -------------------------------------------------------------- */

static void test_state_roundtrip(void)
{
	struct kad_table t, t2;
	struct kad_store s, s2;
	struct kad_state_view v;
	uint8_t self[KAD_ID_LEN], peek[KAD_ID_LEN], key[KAD_ID_LEN], w[KAD_ID_LEN];
	struct kad_node n;
	uint8_t *blob;
	size_t len;
	int nodes = -1, values = -1;

	random_id(self);
	random_id(w);
	kad_table_init(&t, self, 8);
	kad_store_init(&s, 100, 64);
	for (int i = 0; i < 30; i++) {
		make_node(&n, 2000 + i);
		kad_table_seen(&t, &n, 1.0, NULL, NULL);
	}
	for (int i = 0; i < 5; i++) {
		uint8_t rec[16];
		char val[8];
		int rl;
		snprintf(val, sizeof(val), "value%d", i);
		rl = kad_record_immutable(rec, sizeof(rec), val, (uint32_t)strlen(val), key);
		/* Lifetimes 100 to 500 s from now (now = 1000). */
		kad_store_put(&s, key, 0, rec, (uint32_t)rl, 1000.0 + 100 * (i + 1), 1050, w, 0, i == 0);
	}
	random_id(key);
	kad_store_put(&s, key, 9, "dead", 4, 999.0, 1050, w, 0, 0);   /* expired */
	/* Bytes that are no record for their key are never restored. */
	random_id(key);
	kad_store_put(&s, key, 9, "\x00forged", 7, 1500.0, 1050, w, 0, 0);
	memset(&v, 0, sizeof(v));
	memcpy(v.self, self, KAD_ID_LEN);
	v.table = &t;
	v.store = &s;
	v.now = 1000.0;
	v.wall = 1700000000;
	CU_ASSERT_EQUAL_FATAL(kad_state_save(&v, 1, &blob, &len), 0);
	CU_ASSERT_EQUAL(kad_state_peek_self(blob, len, peek), 0);
	CU_ASSERT_EQUAL(memcmp(peek, self, KAD_ID_LEN), 0);

	/* Restored 150 s later on a new clock: the first value has expired. */
	kad_table_init(&t2, self, 8);
	kad_store_init(&s2, 100, 64);
	CU_ASSERT_EQUAL(kad_state_load(blob, len, &t2, &s2, 5.0, 1700000150, 3600, &nodes, &values), 0);
	CU_ASSERT_EQUAL(nodes, kad_table_size(&t));
	CU_ASSERT_EQUAL(kad_table_size(&t2), kad_table_size(&t));
	for (int bi = 0; bi < t.nbuckets; bi++)
		for (int i = 0; i < t.b[bi].nlive; i++) {
			const struct kad_entry *e = kad_table_find(&t2, t.b[bi].live[i].id);
			struct kad_node was, now;
			CU_ASSERT_PTR_NOT_NULL_FATAL(e);
			kad_entry_node(e, &now);
			kad_entry_node(&t.b[bi].live[i], &was);
			CU_ASSERT_STRING_EQUAL(now.addr, was.addr);
		}
	CU_ASSERT_EQUAL(values, 4);
	CU_ASSERT_EQUAL(s2.n, 4);
	for (int i = 0; i < s2.n; i++) {
		struct kad_value *x = s2.v[i], *o = kad_store_get(&s, x->key, 1000.0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_EQUAL(x->seq, o->seq);
		CU_ASSERT_EQUAL(memcmp(x->source, w, KAD_ID_LEN), 0);
		/* Seconds left shrank by the 150 s that passed. */
		CU_ASSERT_DOUBLE_EQUAL(x->expires, 5.0 + (o->expires - 1000.0) - 150, 1.0);
		/* Its republication was due meanwhile: due now. */
		CU_ASSERT_DOUBLE_EQUAL(x->republish_at, 5.0, 1e-9);
	}

	/* A damaged blob is refused whole and changes nothing. */
	for (size_t cut = 0; cut < len; cut += 7) {
		struct kad_table t3;
		struct kad_store s3;
		kad_table_init(&t3, self, 8);
		kad_store_init(&s3, 100, 64);
		CU_ASSERT_EQUAL(kad_state_load(blob, cut, &t3, &s3, 5.0, 1700000150, 3600, NULL, NULL), -1);
		CU_ASSERT_EQUAL(kad_table_size(&t3), 0);
		CU_ASSERT_EQUAL(s3.n, 0);
		kad_table_release(&t3);
		kad_store_release(&s3);
	}
	blob[0] = 'X';
	CU_ASSERT_EQUAL(kad_state_peek_self(blob, len, peek), -1);
	free(blob);
	kad_table_release(&t);
	kad_table_release(&t2);
	kad_store_release(&s);
	kad_store_release(&s2);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("kademlia_id", NULL, NULL);
	CU_add_test(s, "xor distance", test_xor_distance);
	CU_add_test(s, "common prefix", test_common_prefix);
	CU_add_test(s, "hash and hex", test_hash_and_hex);
	CU_add_test(s, "id in bucket range", test_id_in_range);
	s = CU_add_suite("kademlia_table", NULL, NULL);
	CU_add_test(s, "bucket index and split", test_bucket_index_and_split);
	CU_add_test(s, "least recently seen first", test_bucket_lru_order);
	CU_add_test(s, "ping before evict", test_ping_before_evict);
	CU_add_test(s, "failures without replacement", test_failed_without_replacement);
	CU_add_test(s, "closest", test_table_closest);
	CU_add_test(s, "closest equals a full sort", test_table_closest_exact);
	CU_add_test(s, "limits by address", test_table_address_limits);
	CU_add_test(s, "restored entries", test_table_unverified);
	CU_add_test(s, "memory on demand", test_table_memory_on_demand);
	CU_add_test(s, "idle connections kept", test_keep_policy);
	s = CU_add_suite("kademlia_wire", NULL, NULL);
	CU_add_test(s, "roundtrip", test_wire_roundtrip);
	CU_add_test(s, "rejects", test_wire_rejects);
	CU_add_test(s, "addresses", test_addr_valid);
	CU_add_test(s, "the shared address rows", test_addr_rows);
	s = CU_add_suite("kademlia_lookup", NULL, NULL);
	CU_add_test(s, "converges to the k closest", test_lookup_converges);
	CU_add_test(s, "silent nodes", test_lookup_silences);
	CU_add_test(s, "all silent", test_lookup_all_silent);
	CU_add_test(s, "a late answer counts", test_lookup_late_answer);
	CU_add_test(s, "wrong answers", test_lookup_wrong_answers);
	CU_add_test(s, "find value", test_lookup_value);
	CU_add_test(s, "versions of a value", test_lookup_value_versions);
	CU_add_test(s, "node lookups widen once converged", test_lookup_widens);
	CU_add_test(s, "a first value shortens the wait", test_lookup_value_grace);
	CU_add_test(s, "an immutable value ends the get", test_lookup_immutable_ends);
	CU_add_test(s, "adaptive timeout", test_rtt);
	CU_add_test(s, "bootstrap backoff", test_boot_backoff);
	s = CU_add_suite("kademlia_store", NULL, NULL);
	CU_add_test(s, "replacement", test_store_replace);
	CU_add_test(s, "expiry", test_store_expiry);
	CU_add_test(s, "limits", test_store_limits);
	CU_add_test(s, "fair when full", test_store_fair_when_full);
	s = CU_add_suite("kademlia_state", NULL, NULL);
	CU_add_test(s, "save and restore", test_state_roundtrip);
	CU_add_test(s, "signed and hashed records", test_records);

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

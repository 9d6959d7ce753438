/* kad.h -- the Kademlia core's declarations, grouped by the file that
 * defines them: ids, codec, k-buckets, store, lookup machine, state blob.
 * None of these files knows the host ABI (kad_glue.h is for those that
 * do), so the unit tests and the fuzz harness link them directly. */
#ifndef KAD_H
#define KAD_H

#include <stddef.h>
#include <stdint.h>

/* Node ids and keys are SHA-256 sized: 256 bits. */
#define KAD_ID_LEN 32
#define KAD_ID_BITS (KAD_ID_LEN * 8)
/* Longest "ADDR:PORT" we accept ("[v6]:65535" needs 47). */
#define KAD_ADDR_MAX 63
/* Upper bound on k: also the most nodes a NODS answer may list. */
#define KAD_MAX_K 32
/* The wire version we speak; version 1 requests are still answered
 * (PROTOCOL.md section 7). */
#define KAD_WIRE_VERSION 2
#define KAD_WIRE_VERSION_1 1

/* A node as the protocol names it: its id and its advertised address. */
struct kad_node {
	uint8_t id[KAD_ID_LEN];
	char addr[KAD_ADDR_MAX + 1];
};

/* kad_id.c */
void kad_xor(uint8_t out[KAD_ID_LEN], const uint8_t a[KAD_ID_LEN],
             const uint8_t b[KAD_ID_LEN]);
/* <0, 0, >0 as a is closer to, as close as, farther from target than b. */
int kad_closer(const uint8_t target[KAD_ID_LEN], const uint8_t a[KAD_ID_LEN],
               const uint8_t b[KAD_ID_LEN]);
/* Leading bits a and b share: KAD_ID_BITS when equal. */
int kad_common_prefix(const uint8_t a[KAD_ID_LEN], const uint8_t b[KAD_ID_LEN]);
int kad_key_hash(const void *key, size_t len, uint8_t out[KAD_ID_LEN]);
void kad_id_hex(const uint8_t id[KAD_ID_LEN], char out[2 * KAD_ID_LEN + 1]);
int kad_id_parse(const char *hex, uint8_t out[KAD_ID_LEN]);
/* An id that shares exactly `cpl` leading bits with self (or at least cpl
 * bits when `or_more`), the rest from `random`. */
void kad_id_in_range(const uint8_t self[KAD_ID_LEN], int cpl, int or_more,
                     const uint8_t random[KAD_ID_LEN], uint8_t out[KAD_ID_LEN]);

/* kad_wire.c -- payload codec. Types on the wire: */
enum kad_type {
	KAD_T_NONE = 0,
	KAD_T_PING, KAD_T_STOR, KAD_T_FNOD, KAD_T_FVAL,   /* requests */
	KAD_T_PONG, KAD_T_STOK, KAD_T_NODS, KAD_T_VALU    /* answers */
};
/* Why a payload was refused, so the glue can count each cause. */
enum kad_wire_error {
	KAD_E_OK = 0,
	KAD_E_TYPE,        /* unknown message type */
	KAD_E_SHORT,       /* ran out of bytes, or bytes left over */
	KAD_E_VERSION,     /* a wire version we do not speak */
	KAD_E_ADDRESS,     /* an impossible address */
	KAD_E_COUNT,       /* more nodes than KAD_MAX_K */
	KAD_E_VALUE,       /* a value length over the limit */
	KAD_E_STATUS       /* an unknown STOK status */
};
enum kad_stok_status { KAD_STOK_STORED = 0, KAD_STOK_NEWER = 1, KAD_STOK_REFUSED = 2 };

/* A decoded payload. `value` points into the decoded buffer; in version 2
 * STOR and VALU it is a record (kad_sign.c). */
struct kad_msg {
	int type;
	int version;                     /* 1 or 2; encoders write 2 when 0 */
	uint64_t reqid;
	uint8_t id[KAD_ID_LEN];          /* sender of a request, responder of an answer */
	char addr[KAD_ADDR_MAX + 1];     /* requests: the sender's advertised address */
	uint8_t key[KAD_ID_LEN];         /* FNOD/FVAL target, STOR/VALU key */
	uint64_t seq;                    /* STOR/VALU */
	uint32_t ttl;                    /* STOR/VALU: seconds left */
	uint32_t vlen;
	const uint8_t *value;
	int status;                      /* STOK */
	int nnodes;                      /* NODS */
	struct kad_node nodes[KAD_MAX_K];
};

int kad_type_from_wire(const char type[4]);
const char *kad_type_to_wire(int type);
int kad_is_request(int type);
int kad_addr_valid(const char *addr);
/* The parts of the network an address belongs to, for the limits that
 * count by address rather than by claimed id: `ip` is the host (an IPv4
 * address, or an IPv6 /64, which one machine commonly owns whole) and
 * `prefix` its neighbourhood (IPv4 /24, IPv6 /48). IPv4-mapped IPv6 is
 * read as the IPv4 address it maps. Both are 16 bytes, comparable with
 * memcmp. Returns -1 if addr does not parse ("A.B.C.D:P" or "[X]:P"). */
#define KAD_GROUP_LEN 16
struct kad_groups {
	uint8_t ip[KAD_GROUP_LEN];
	uint8_t prefix[KAD_GROUP_LEN];
};
int kad_addr_groups(const char *addr, struct kad_groups *g);
int kad_decode(int type, const uint8_t *p, size_t len, size_t max_value,
               struct kad_msg *m);
/* Encoders write into out (cap bytes) and return the length, or -1. */
int kad_encode_request(uint8_t *out, size_t cap, const struct kad_msg *m);
int kad_encode_answer(uint8_t *out, size_t cap, const struct kad_msg *m);
size_t kad_encoded_max(size_t max_value);

/* An address as a table entry keeps it: parsed, 20 bytes instead of the
 * 64 of its text. IPv4 is held in its IPv4-mapped IPv6 form, so both
 * spellings fall in one address group; `v6` remembers which was written,
 * so the text comes back as it was given (an IPv6 one in RFC 5952 form). */
struct kad_paddr {
	uint8_t ip[16];
	uint16_t port;
	uint8_t v6;
};
/* kad_wire.c: the text's parts (-1 if it does not parse), and back. */
int kad_addr_pack(const char *addr, struct kad_paddr *out);
void kad_addr_unpack(const struct kad_paddr *a, char out[KAD_ADDR_MAX + 1]);
void kad_paddr_groups(const struct kad_paddr *a, struct kad_groups *g);

/* kad_table.c -- k-buckets. Bucket i < nbuckets-1 holds the nodes sharing
 * exactly i leading bits with self; the last holds the rest (the ones
 * closest to self) and is the only one that splits.
 *
 * Memory follows use: a simulation runs 100,000 tables in one process, and
 * most of a table's buckets are far from full. The bucket array grows with
 * the splits, and each bucket's live and replacement arrays grow a few
 * entries at a time up to k. An entry is 72 bytes. */
struct kad_entry {
	uint8_t id[KAD_ID_LEN];
	struct kad_paddr a;    /* its advertised address */
	uint8_t fails;     /* failed requests since it last answered, up to 255 */
	uint8_t pinging;   /* an eviction ping is out for this entry */
	uint8_t unverified;/* restored from saved state, not yet answered us:
	                      used to seed our own lookups, never handed out */
	double last_seen;
	uint64_t conn;     /* the host connection its last answer came on, to
	                      a request sent to address a; 0 if none
	                      (kad_keep.c keeps it open) */
};
struct kad_bucket {
	struct kad_entry *live;    /* least recently seen first */
	struct kad_entry *repl;    /* replacement cache, most recent last */
	double touched;
	uint8_t nlive, caplive;    /* entries, and room allocated (both <= k) */
	uint8_t nrepl, caprepl;
};
struct kad_table {
	uint8_t self[KAD_ID_LEN];
	int k;
	int nbuckets;
	int capbuckets;            /* room in b */
	/* Limits by address (0: none): entries per ip group in one bucket,
	 * and per prefix group in the whole table. The replacement caches
	 * obey the same limits among their own entries. */
	int per_ip_bucket, per_prefix;
	struct kad_bucket *b;      /* nbuckets of them */
};
enum kad_table_result {
	KAD_TB_SELF,       /* our own id: ignored */
	KAD_TB_UPDATED,    /* known: moved to the tail */
	KAD_TB_ADDED,      /* new, in a live slot */
	KAD_TB_CACHED,     /* bucket full: in the replacement cache */
	KAD_TB_NOMEM,
	KAD_TB_LIMIT       /* its address (or neighbourhood) has its share */
};
int kad_table_init(struct kad_table *t, const uint8_t self[KAD_ID_LEN], int k);
void kad_table_set_limits(struct kad_table *t, int per_ip_bucket, int per_prefix);
/* Marks every entry unverified (after a restore): see kad_entry. */
void kad_table_mark_unverified(struct kad_table *t);
void kad_table_release(struct kad_table *t);
int kad_table_bucket_of(const struct kad_table *t, const uint8_t id[KAD_ID_LEN]);
/* A node answered us (a round trip): insert or refresh it. When the bucket
 * is full, *ping_out (if not NULL) receives the least recently seen entry
 * that should be pinged before anything is evicted, unless one is out. */
int kad_table_seen(struct kad_table *t, const struct kad_node *n, double now,
                   struct kad_node *ping_out, int *need_ping);
/* A request to this node failed. Removes it when it was being pinged for
 * eviction or has failed `limit` times, promoting the newest replacement.
 * Returns 1 if removed. */
int kad_table_failed(struct kad_table *t, const uint8_t id[KAD_ID_LEN], int limit);
/* Would a node with this id and address get a live slot now (room, or a
 * split, within the address limits)? */
int kad_table_has_room(const struct kad_table *t, const uint8_t id[KAD_ID_LEN],
                       const char *addr);
const struct kad_entry *kad_table_find(const struct kad_table *t,
                                       const uint8_t id[KAD_ID_LEN]);
/* The entry as the protocol names it: its id and address text. */
void kad_entry_node(const struct kad_entry *e, struct kad_node *out);
/* Is addr (text, in any spelling) the address the entry holds? */
int kad_entry_addr_is(const struct kad_entry *e, const char *addr);
/* The `max` live entries closest to target, nearest first, found bucket
 * by bucket outward from target's without sorting the table: O(k) work
 * for any table size. `verified_only` leaves out restored entries that
 * have not answered us yet (for answers to others). */
int kad_table_closest(const struct kad_table *t, const uint8_t target[KAD_ID_LEN],
                      struct kad_node *out, int max, int verified_only);
int kad_table_size(const struct kad_table *t);
/* Node n answered us on this connection, to a request sent to n->addr:
 * noted in its live entry, if it has one at that address, for
 * kad_keep_pick(). */
void kad_table_note_conn(struct kad_table *t, const struct kad_node *n, uint64_t conn);
void kad_table_touch(struct kad_table *t, const uint8_t id[KAD_ID_LEN], double now);

/* kad_store.c -- the values this node holds. Quotas count the address a
 * value came from (the connection's, not an id the sender claims): one
 * source ip group may hold an eighth of the store, one prefix group a
 * quarter. A full store makes room for a source with few values by
 * dropping one of a source with many, so a flood from few addresses
 * cannot lock out the rest; this node's own puts always have room. */
struct kad_value {
	uint8_t key[KAD_ID_LEN];
	uint64_t seq;
	double expires;            /* host clock */
	double republish_at;
	uint8_t source[KAD_ID_LEN];/* ip group then prefix group (kad_groups) of
	                              the connection that stored this version;
	                              all zero for this node's own */
	int origin;                /* put through this node */
	uint32_t len;
	uint8_t data[];
};
struct kad_store {
	struct kad_value **v;      /* sorted by key */
	int n, cap;
	int max_values;
	int ip_share;              /* most values one ip group may hold here */
	int prefix_share;          /* ... one prefix group */
	uint32_t max_size;
	uint64_t rng;              /* picks eviction candidates */
};
enum kad_store_result {
	KAD_ST_STORED, KAD_ST_OLDER, KAD_ST_TOOBIG, KAD_ST_FULL, KAD_ST_QUOTA,
	KAD_ST_NOMEM
};
void kad_store_init(struct kad_store *s, int max_values, uint32_t max_size);
void kad_store_release(struct kad_store *s);
/* Fills source[KAD_ID_LEN] from an address's groups (zeros if none). */
void kad_store_source(const char *addr, uint8_t source[KAD_ID_LEN]);
/* Newer sequence numbers win; equal ones are broken by the bytes, so every
 * holder settles on the same version. Storing the same version again
 * extends its lifetime and postpones its republication. `own` (this
 * node's puts, restored state, versions it adopted) skips the quotas and
 * may push out others' values when the store is full; this node's own
 * values carry an all-zero source and are never pushed out. */
int kad_store_put(struct kad_store *s, const uint8_t key[KAD_ID_LEN], uint64_t seq,
                  const void *data, uint32_t len, double expires, double republish_at,
                  const uint8_t source[KAD_ID_LEN], int own, int origin);
struct kad_value *kad_store_get(struct kad_store *s, const uint8_t key[KAD_ID_LEN],
                                double now);
int kad_store_expire(struct kad_store *s, double now);
int kad_value_newer(uint64_t seq_a, const void *a, uint32_t la,
                    uint64_t seq_b, const void *b, uint32_t lb);

/* kad_sign.c -- records: what a version-2 value travels and is kept as.
 * A record proves itself: an immutable one by its key being the SHA-256 of
 * its value, a mutable one by its writer's Ed25519 signature. */
#define KAD_PUB_LEN 32
#define KAD_SIG_LEN 64
#define KAD_NAME_MAX 255
/* Bytes a record adds to its value at most. */
#define KAD_REC_OVERHEAD (1 + KAD_PUB_LEN + 1 + KAD_NAME_MAX + KAD_SIG_LEN)
enum kad_record_kind { KAD_REC_IMMUTABLE = 0, KAD_REC_MUTABLE = 1 };
enum kad_record_error { KAD_REC_OK = 0, KAD_REC_E_FORM, KAD_REC_E_HASH, KAD_REC_E_SIG };
struct kad_keypair {
	uint8_t priv[KAD_PUB_LEN];   /* the Ed25519 seed */
	uint8_t pub[KAD_PUB_LEN];
};
/* A record's parts, pointing into it. */
struct kad_record {
	int kind;
	const uint8_t *pub, *name, *sig;     /* mutable only */
	size_t nlen;
	const uint8_t *value;
	uint32_t vlen;
};
/* Who signs a node's mutable values: a public key and the function that
 * signs with its private half (the host's sign(), or kad_keypair_sign()
 * over a key of the plugin's own). sign() writes KAD_SIG_LEN bytes and
 * returns 0, or -1. */
struct kad_signer {
	uint8_t pub[KAD_PUB_LEN];
	int (*sign)(void *arg, const uint8_t *msg, size_t len, uint8_t sig[KAD_SIG_LEN]);
	void *arg;
};
/* A writer's id: SHA-256 of its public key (its host's peer id, when it
 * signs with the host key). */
int kad_writer_id(const uint8_t pub[KAD_PUB_LEN], uint8_t writer_out[KAD_ID_LEN]);
/* A mutable value's key: SHA-256 of the writer id and the name. */
int kad_mutable_key(const uint8_t writer[KAD_ID_LEN], const void *name, size_t nlen,
                    uint8_t key_out[KAD_ID_LEN]);
int kad_record_parse(const uint8_t *rec, uint32_t rlen, struct kad_record *r);
/* KAD_REC_OK if rec is a valid record for key at seq, else why not. */
int kad_record_check(const uint8_t key[KAD_ID_LEN], uint64_t seq, const uint8_t *rec,
                     uint32_t rlen);
/* Build records into out (cap bytes): the length, or -1. */
int kad_record_immutable(uint8_t *out, size_t cap, const void *val, uint32_t vlen,
                         uint8_t key_out[KAD_ID_LEN]);
int kad_record_mutable(uint8_t *out, size_t cap, const struct kad_signer *sg,
                       const void *name, size_t nlen, uint64_t seq, const void *val,
                       uint32_t vlen, uint8_t key_out[KAD_ID_LEN]);
int kad_keypair_from_private(struct kad_keypair *kp, const uint8_t priv[KAD_PUB_LEN]);
/* A kad_signer's sign() for a kad_keypair (arg). */
int kad_keypair_sign(void *arg, const uint8_t *msg, size_t len, uint8_t sig[KAD_SIG_LEN]);

/* kad_lookup.c -- the iterative lookup, transport-agnostic. */
#define KAD_LOOKUP_CANDS (3 * KAD_MAX_K)
enum kad_lookup_kind { KAD_LK_NODE, KAD_LK_VALUE };
enum kad_cand_state { KAD_C_NEW, KAD_C_WAIT, KAD_C_LATE, KAD_C_DONE, KAD_C_FAILED };

/* The soft timeout (PROTOCOL.md section 5.2): KAD_RTT_MULT times the 90th
 * percentile of the last KAD_RTT_RING round trips of this node's lookup
 * requests and STORs, between KAD_RTT_FLOOR and request_timeout;
 * KAD_RTT_SEED (at most request_timeout) before the first sample. A
 * percentile, unlike TCP's smoothed round trip plus four times its
 * variation, is not dragged toward the ceiling by the few answers a
 * loaded machine delays by hundreds of milliseconds: one slow answer in
 * ten leaves it where the other nine put it. The floor is low enough for a LAN or loopback
 * (round trips well under a millisecond), so a silent node costs a few
 * milliseconds, not tens. */
#define KAD_RTT_RING 32
#define KAD_RTT_MULT 2.0
#define KAD_RTT_FLOOR 0.002
#define KAD_RTT_SEED 1.0
/* After a lookup's first value, the queries still in flight are awaited
 * for as long again as that value took, and at least this long (s). */
#define KAD_VALUE_GRACE_MIN 0.001

/* Recent round trips, one set per node, shared by all its lookups. */
struct kad_rtt {
	double ring[KAD_RTT_RING];   /* the last samples, oldest overwritten */
	int next;                    /* slot the next sample goes in */
	int samples;                 /* taken in all (the ring holds the last
	                                KAD_RTT_RING of them) */
	double p90;                  /* of the samples in the ring */
	double floor, ceiling;
};
void kad_rtt_init(struct kad_rtt *r, double floor, double ceiling);

/* Bootstrap retries while the table is empty (PROTOCOL.md 5.4): the
 * first after KAD_BOOT_FIRST seconds, each wait then doubled up to
 * KAD_BOOT_MAX. kad_backoff_next() is the wait after `wait`. */
#define KAD_BOOT_FIRST 1.0
#define KAD_BOOT_MAX 60.0
double kad_backoff_next(double wait);
/* A request's round trip, in seconds (negative ones are ignored). */
void kad_rtt_sample(struct kad_rtt *r, double rtt);
/* The soft timeout now, in seconds. */
double kad_rtt_timeout(const struct kad_rtt *r);

struct kad_cand {
	struct kad_node n;
	int state;
	int depth;                 /* hops from us: seeds are 1 */
	uint64_t reqid;
	double sent, deadline;
	int had_value;             /* answered with a version of the value */
	int stale;                 /* ... older than the one the lookup returns */
	int stored;                /* a put already sent it its STOR */
};
struct kad_lookup;
struct kad_lookup_io {
	/* Send FNOD (NODE) or FVAL (VALUE) for lk->target to `to`; set
	 * *reqid_out. Return -1 if it could not be sent (counted a failure). */
	int (*query)(void *arg, struct kad_lookup *lk, const struct kad_node *to,
	             uint64_t *reqid_out);
	/* The lookup is over. May free lk: nothing touches it afterwards. */
	void (*done)(void *arg, struct kad_lookup *lk);
	/* Optional (NULL): candidate c answered a node lookup and is, for
	 * now, among the k closest that have not failed. A put stores on it
	 * at once rather than after the lookup. Must not touch the lookup. */
	void (*answered)(void *arg, struct kad_lookup *lk, struct kad_cand *c);
};
struct kad_lookup {
	uint8_t target[KAD_ID_LEN];
	uint8_t self[KAD_ID_LEN];
	int kind, k, alpha;
	struct kad_cand c[KAD_LOOKUP_CANDS];   /* sorted by distance */
	int n;
	int inflight;
	int widened;               /* node lookup converged: k in flight, not alpha */
	int end_at_convergence;    /* a put's lookup: ends when it converges, and
	                              the put stores on the k closest known then */
	int finished;
	const struct kad_lookup_io *io;
	void *arg;
	struct kad_rtt *rtt;
	double hard_timeout;
	/* The outcome. */
	int found;
	uint64_t seq;
	uint32_t ttl;
	uint8_t *value;
	uint32_t vlen;
	int hops;
	int cache_at;              /* index in c of the closest that lacked it, or -1 */
	int queries, answers, timeouts, failures, dropped;
	double started, ended;
	void *user;
};
void kad_lookup_init(struct kad_lookup *lk, const uint8_t self[KAD_ID_LEN],
                     const uint8_t target[KAD_ID_LEN], int kind, int k, int alpha,
                     const struct kad_lookup_io *io, void *arg, struct kad_rtt *rtt,
                     double hard_timeout, double now);
void kad_lookup_seed(struct kad_lookup *lk, const struct kad_node *nodes, int n);
/* Sends what may be sent; finishes the lookup when nothing is left. */
void kad_lookup_step(struct kad_lookup *lk, double now);
/* Answers and failures; each returns -1 if reqid is not one of ours (and
 * then changes nothing), else 0 and continues the lookup (maybe to its end). */
int kad_lookup_on_nodes(struct kad_lookup *lk, uint64_t reqid,
                        const uint8_t from[KAD_ID_LEN], const struct kad_node *nodes,
                        int n, double now);
/* value is a record (kad_sign.c); the first immutable one ends the lookup
 * at once, a mutable one waits for newer versions (kad_lookup.c). */
int kad_lookup_on_value(struct kad_lookup *lk, uint64_t reqid,
                        const uint8_t from[KAD_ID_LEN], uint64_t seq, uint32_t ttl,
                        const uint8_t *value, uint32_t vlen, double now);
int kad_lookup_on_fail(struct kad_lookup *lk, uint64_t reqid, double now);
void kad_lookup_tick(struct kad_lookup *lk, double now);
double kad_lookup_next_deadline(const struct kad_lookup *lk);
/* Where candidate c stands among those that have not failed: 0 for the
 * closest. */
int kad_lookup_rank(const struct kad_lookup *lk, const struct kad_cand *c);
/* The k closest that answered, nearest first. */
int kad_lookup_result(const struct kad_lookup *lk, struct kad_node *out, int max);
void kad_lookup_release(struct kad_lookup *lk);

/* kad_keep.c -- which idle connections this node dialled it keeps open
 * (PROTOCOL.md section 1). One record per connection, 16 bytes: a
 * simulation holds hundreds per node while its nodes join. */
struct kad_keep {
	uint64_t conn;             /* the host's connection id */
	double last;               /* host clock: its last request from us */
};
/* Takes out of c (*n records) the connections to close, at most max of
 * them, into closed[], and returns how many; the rest stay in c, oldest
 * first. Closed are those that have carried no request for `idle`
 * seconds, but for the `keep` most recently used of them that are the
 * connection of a live entry of t (kad_table_note_conn: verified, no
 * failure since its last answer). -1 (nothing taken out) if memory for
 * the choice is short. */
int kad_keep_pick(struct kad_keep *c, int *n, const struct kad_table *t, double now,
                  double idle, int keep, uint64_t *closed, int max);

/* kad_state.c -- the state blob (routing table and values). */
#define KAD_STATE_FORMAT 1
struct kad_state_view {
	uint8_t self[KAD_ID_LEN];
	const struct kad_table *table;
	const struct kad_store *store;
	double now;                /* host clock, to turn expiry into seconds left */
	uint64_t wall;             /* seconds since the epoch at save */
};
int kad_state_save(const struct kad_state_view *v, int with_values,
                   uint8_t **out, size_t *len_out);
/* Restores into an initialised table and store; the table's self must be
 * set from the blob first (kad_state_peek_self). */
int kad_state_peek_self(const uint8_t *p, size_t len, uint8_t self[KAD_ID_LEN]);
int kad_state_load(const uint8_t *p, size_t len, struct kad_table *t,
                   struct kad_store *s, double now, uint64_t wall,
                   double republish, int *nodes_out, int *values_out);

/* kad_wire.c -- a bounds-checked reader over bytes from outside, shared by
 * the wire codec and the saved-state loader. A read past the end sets bad
 * and yields zeros, so a decoder checks once at the end. */
struct kad_rd {
	const uint8_t *p;
	size_t left;
	int bad;
};
const uint8_t *kad_take(struct kad_rd *r, size_t n);
uint8_t kad_get8(struct kad_rd *r);
uint32_t kad_get32(struct kad_rd *r);
uint64_t kad_get64(struct kad_rd *r);

#endif /* KAD_H */

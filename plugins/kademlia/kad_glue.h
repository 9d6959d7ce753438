/* kad_glue.h -- the running plugin instance, shared by the files that talk
 * to the host: kad_plugin.c, kad_net.c, kad_ops.c and kad_control.c. */
#ifndef KAD_GLUE_H
#define KAD_GLUE_H

#include <maybep2p/plugin.h>
#include <maybep2p/kademlia.h>

#include "kad.h"


/* Limits that keep every structure bounded whatever peers send. */
#define KAD_MAX_PENDING 4096     /* requests awaiting an answer */
#define KAD_MAX_OPS 256          /* lookups running (with their puts) */
#define KAD_MAX_JOIN_PINGS 64    /* pings verifying nodes that contacted us */
#define KAD_MAX_REPUBLISH 4      /* republications running at once */
#define KAD_PUT_QUORUM 4         /* most STOKs a put waits for */
#define KAD_PEND_BUCKETS 256
#define KAD_MAX_LINKS 8192       /* node ids with a known connection */
#define KAD_LINK_BUCKETS 256

struct kad_conf {
	int k, alpha;
	int replicas;            /* nodes a put or republication stores on, <= k */
	char **bootstrap;
	int nbootstrap;
	double request_timeout;
	double value_ttl_max;
	long max_value_size;
	long max_values;
	double republish, refresh;
	long table_per_ip;       /* entries per ip group in one bucket, 0: no limit */
	long table_per_prefix;   /* entries per prefix group in the table */
	double connection_idle;  /* close a dialled connection idle this long; 0: never */
	long connection_keep;    /* ... except this many to live table entries,
	                            the most recently used (kad_keep.c) */
};

/* Counters shown by `maybep2pctl stats` and by the `stats` command. */
#define KAD_COUNTERS(X) \
	X(messages_in) X(messages_out) X(lookups) X(lookup_hops) X(lookup_queries) \
	X(lookups_failed) X(timeouts) X(request_failures) X(bad_payload) \
	X(bad_type) X(bad_address) X(too_many_nodes) X(value_too_big) \
	X(unknown_reqid) X(wrong_conn) X(wrong_responder) X(wrong_answer) \
	X(from_self) X(store_refused) X(store_quota) X(store_full) X(stored) \
	X(republished) X(refreshes) X(bootstrap_pings) X(join_pings) \
	X(evict_pings) X(evicted) X(send_failures) X(busy) X(cached) X(refetched) \
	X(healed) X(table_limited) X(restored_pings) X(bad_signature) X(bad_key) \
	X(bad_record) X(v1_store_refused) X(id_not_key) X(unauthenticated)

struct kad_counters {
#define KAD_DECL(name) uint64_t *name;
	KAD_COUNTERS(KAD_DECL)
#undef KAD_DECL
};

enum kad_pend_kind { P_LOOKUP, P_STORE, P_PING_JOIN, P_PING_EVICT, P_PING_BOOT };

struct kad_op;

/* A request we sent and are waiting on. */
struct kad_pend {
	struct kad_pend *next;
	uint64_t reqid;
	int kind;
	mp2p_conn_id conn;
	struct kad_node to;
	int id_known;
	double sent, deadline;
	struct kad_op *op;       /* NULL once the op no longer cares */
};

enum kad_op_kind {
	OP_GET, OP_PUT, OP_FIND, OP_REPUBLISH, OP_REFRESH, OP_JOIN,
	OP_FETCH                 /* refreshes a copy we hold that a peer says is old */
};
enum kad_op_phase { PH_LOOKUP, PH_STORING, PH_COMPLETE };

/* One operation: a lookup, and for puts the stores that follow it. */
struct kad_op {
	struct kad_op *next;
	struct kad *kd;
	int kind, phase;
	struct kad_lookup lk;
	uint8_t key[KAD_ID_LEN];
	uint64_t seq;
	uint32_t ttl;
	uint8_t *value;
	uint32_t vlen;
	int stores_out, stores_ok;
	int stores_sent;         /* STORs this op sent: a put's, or a get's caches */
	int local;               /* get: value/vlen/seq hold our own copy, and it
	                            is the answer unless the lookup finds newer */
	int fetching;            /* republish: an OP_FETCH was started */
	int all_waves;           /* put: every replica may be sent its STOR now,
	                            not only the first wave (kad_ops.c) */
	int status;              /* enum mp2p_kad_status once complete */
	double started, ended;
	/* Who is told: a control reply, or a service caller. */
	mp2p_reply *reply;
	uint64_t caller;
	mp2p_kad_put_done put_done;
	mp2p_kad_get_done get_done;
	mp2p_kad_nodes_done nodes_done;
	void *arg;
};

struct kad {
	const struct mp2p_host_api *api; /* the host's table, kept here: no globals */
	mp2p_host *host;
	struct kad_conf conf;
	uint8_t self[KAD_ID_LEN];
	char self_hex[2 * KAD_ID_LEN + 1];
	char addr[KAD_ADDR_MAX + 1];
	uint64_t last_seq;           /* the last put's sequence number */
	struct kad_signer signer;    /* signs this node's mutable values: the
	                                host key, or kp when the host has none */
	struct kad_keypair kp;       /* the plugin's own key (kad.key), if used */
	uint8_t writer[KAD_ID_LEN];  /* SHA-256 of signer.pub: the writer id */
	char writer_hex[2 * KAD_ID_LEN + 1];    /* ... in hex */
	int key_ok;                  /* signer can sign */
	int host_signs;              /* signer is the host key (api->sign) */
	int key_saved;               /* kp is in state_dir/kad.key (or unused) */
	int addr_ok;
	int id_saved;            /* node_id in the state_dir holds self */
	struct kad_table table;
	struct kad_store store;
	struct kad_rtt rtt;
	struct kad_counters c;

	struct kad_pend *pend[KAD_PEND_BUCKETS];
	int npend, njoin;
	struct kad_link *links[KAD_LINK_BUCKETS];   /* kad_link.c */
	int nlinks;
	struct kad_op *ops;      /* running */
	int nops, nrepublish;
	struct kad_op *done;     /* complete, to be reported next turn */

	mp2p_timer *wake;        /* the next deadline */
	double wake_at;
	mp2p_timer *maint;       /* expiry, republish, refresh, bootstrap: one-shot,
	                            rearmed by each run (kad_maintain) */
	double maint_every;      /* the regular period of maint */
	mp2p_timer *report;      /* zero-delay: completions */
	uint8_t *buf;            /* one encoded payload */
	size_t bufcap;

	int running;
	int joined;              /* a join lookup was started */
	int restored_nodes;      /* nodes from saved state or the routes file */
	double next_boot, boot_backoff;
	double last_routes_write;
	uint64_t table_changes, routes_written;
	struct kad_keep *dialled;/* connections we dialled, their last request */
	int ndialled, capdialled;
};

/* kad_file.c -- files in the state directory, safe from planted links.
 * kad_file_read: 1 and a malloc'd buffer (NUL after it), 0 if absent, -1
 * if it is not a regular file of 1 to max bytes. */
int kad_file_write(const char *dir, const char *name, const void *data, size_t len);
int kad_file_read(const char *dir, const char *name, size_t max, uint8_t **data, size_t *len);

/* kad_net.c */
int kad_send_request(struct kad *kd, int type, const struct kad_node *to, int id_known,
                     int kind, struct kad_op *op, const struct kad_msg *body,
                     uint64_t *reqid_out);
/* claimed_on: the connection on which the node named `addr` as its own
 * (a join ping), or 0 for an address we already trust. */
int kad_send_ping(struct kad *kd, const char *addr, const uint8_t *id, int kind,
                  mp2p_conn_id claimed_on);
void kad_on_frame(struct kad *kd, mp2p_conn_id conn, const struct mp2p_frame *f);
void kad_on_closed(struct kad *kd, mp2p_conn_id conn);
void kad_wake(void *arg);
void kad_schedule(struct kad *kd, double at);
void kad_orphan(struct kad *kd, struct kad_op *op);
void kad_pend_free_all(struct kad *kd);
void kad_node_seen(struct kad *kd, const struct kad_node *n);

/* kad_link.c -- over TLS, a connection on which a node's messages came
 * (its id proved by the handshake) carries our requests to it too. */
struct kad_link;
void kad_link_note(struct kad *kd, const uint8_t id[KAD_ID_LEN], mp2p_conn_id conn);
mp2p_conn_id kad_link_find(struct kad *kd, const uint8_t id[KAD_ID_LEN]);
void kad_link_drop_conn(struct kad *kd, mp2p_conn_id conn);
void kad_link_free_all(struct kad *kd);

/* kad_conns.c -- dialled connections closed once idle (connection_idle),
 * but for those kept (connection_keep). */
void kad_conn_used(struct kad *kd, mp2p_conn_id conn, double now);
void kad_conn_gone(struct kad *kd, mp2p_conn_id conn);
void kad_conns_sweep(struct kad *kd, double now);
void kad_conns_free(struct kad *kd);

/* kad_ops.c */
struct kad_op *kad_op_start(struct kad *kd, int kind, const uint8_t target[KAD_ID_LEN]);
void kad_fetch(struct kad *kd, const uint8_t key[KAD_ID_LEN]);
void kad_op_run(struct kad_op *op);
void kad_op_store_answered(struct kad_op *op, int ok);
void kad_op_complete(struct kad_op *op, int status);
void kad_report(void *arg);
void kad_maintain(void *arg);
void kad_ops_cancel_all(struct kad *kd);
void kad_ops_free_all(struct kad *kd);
void kad_join(struct kad *kd);
void kad_verify_restored(struct kad *kd);
/* A put of a mutable record under `name`, signed with this node's key, or
 * (immutable) of an immutable one whose key is the hash of the value. The
 * op's key is the record's key. */
int kad_put_start(struct kad *kd, const void *name, size_t nlen, const void *value,
                  size_t vlen, uint32_t ttl, int immutable, struct kad_op **op_out);
uint64_t kad_wall_usec(struct kad *kd);
double kad_jitter(struct kad *kd, double base);
int kad_write_routes(struct kad *kd);

/* kad_control.c */
void kad_control(void *self, mp2p_reply *reply, int argc, const char *const *argv);
void kad_op_reply(struct kad_op *op);
extern const struct mp2p_kademlia_service kad_service;

#endif /* KAD_GLUE_H */

/* cv1_node.h -- the running classicv1 instance and the functions its files
 * share, grouped by the file that defines them.
 */
#ifndef CV1_NODE_H
#define CV1_NODE_H

#include <maybep2p/plugin.h>
#include <maybep2p/classicv1.h>
#include <maybep2p/util.h>

#include "cv1.h"


/* Connections we remember: who is at the other end and why we opened it. */
#define CV1_CONNS 1024
enum cv1_conn_purpose {
	CV1_CONN_PLAIN = 0,          /* a frame to a peer; failures count */
	CV1_CONN_CAPA = 1,           /* a CAPA sent one-shot: silence = classic */
	CV1_CONN_REUSE = 2,          /* our persistent connection to a peer */
	CV1_CONN_INBOUND = 3,        /* a peer's persistent connection to us */
	CV1_CONN_JOIN_TLS = 4        /* mode "mixed": a JOIN to an unknown host, tried over TLS */
};
struct cv1_conn {
	mp2p_conn_id id;             /* 0: free */
	uint16_t chain;              /* next in its hash bucket, or on the free list:
	                              * an index + 1; 0 ends the chain */
	int purpose;
	int list_asked;              /* we sent LIST REQ on it: a LIST RES is due */
	char pid[CV1_PID_MAX + 1];
	char retry[CV1_HOSTPORT_MAX]; /* CV1_CONN_JOIN_TLS: where to try again in plaintext, */
	double sent_at;              /* when, */
	int opened;                  /* and whether its handshake completed */
};

/* Frames look their connection up several times each: a hash of the
 * ids finds it without walking the whole array. */
#define CV1_CONN_BUCKETS 256

/* Hosts of ours that keep us in their table while ours is too full to
 * keep them: they would get no broadcast from anyone if every host that
 * knows them refused them, so we flood to them over the persistent
 * connection they opened to us. */
#define CV1_FOLLOWERS 128
struct cv1_follower {
	mp2p_conn_id conn;           /* 0: free */
	char pid[CV1_PID_MAX + 1];
};

/* The inbox keeps the last CV1_INBOX_MAX delivered messages. */
#define CV1_INBOX_MAX 256
#define CV1_INBOX_TEXT_MAX 4096
struct cv1_inbox_entry {
	uint64_t seq;
	int kind;                    /* enum mp2p_classicv1_kind */
	unsigned hops;
	double wall;                 /* seconds since the epoch at delivery */
	char sender[CV1_HOSTPORT_MAX > CV1_PID_MAX + 1 ? CV1_HOSTPORT_MAX : CV1_PID_MAX + 1];
	char id[CV1_ID_HEX + 1];
	char *text;                  /* malloc'd, NUL-terminated */
	size_t text_length;
};
struct cv1_inbox {
	struct cv1_inbox_entry entries[CV1_INBOX_MAX];
	size_t head, count;
	uint64_t next_seq;
};

/* Counters shown by `maybep2pctl stats`. */
struct cv1_counters {
	uint64_t *malformed;         /* payloads refused by a decoder */
	uint64_t *unknown_type;      /* frames of a type we do not speak */
	uint64_t *delivered_direct;
	uint64_t *delivered_broadcast;
	uint64_t *delivered_quiet;   /* quiet broadcasts published, ours included */
	uint64_t *duplicate_broadcast;
	uint64_t *frames_sent;
	uint64_t *for_sent;          /* FOR copies sent (origin and relays) */
	uint64_t *send_failed;
	uint64_t *dial_failed;
	uint64_t *peers_dead;        /* removed by the liveness checks */
	uint64_t *peers_quit;
	uint64_t *peers_refused;     /* refused because the table was full */
	uint64_t *claims_refused;    /* named an address at another IP than its own */
	uint64_t *quit_refused;      /* QUIT for a pid not on that pid's connection */
	uint64_t *pid_mismatch;      /* a frame speaking for a pid its TLS key is not */
	uint64_t *unasked_list;      /* LIST RES on a connection we did not ask on */
};

struct cv1_dns;

struct cv1 {
	const struct mp2p_host_api *api; /* the host's table, kept here: no globals */
	mp2p_host *host;

	/* Settings, from defaults and the operator's config. */
	char **bootstrap;            /* "ADDR:PORT" each */
	size_t nbootstrap;
	char *dns_seed;
	char *dns_server;            /* NULL: the system resolver */
	size_t max_peers;
	size_t want_peers;           /* below this we ask for more */
	unsigned broadcast_hops;
	double peer_timeout;
	int persistent;

	/* Identity. */
	char pid[CV1_PID_MAX + 1];
	char addr[CV1_ADDR_MAX + 1];
	uint16_t port;
	char hostport[CV1_HOSTPORT_MAX];

	struct cv1_peers peers;
	struct cv1_dedup dedup;
	struct cv1_conn conns[CV1_CONNS];
	uint16_t conn_bucket[CV1_CONN_BUCKETS]; /* chains of conns[], index + 1 */
	uint16_t conn_free;          /* released entries, chained; index + 1 */
	size_t conn_high;            /* entries below this have been used */
	size_t conn_next;            /* the next to lose its attribution when all are taken */
	struct cv1_follower followers[CV1_FOLLOWERS];
	size_t follower_next;
	struct cv1_inbox inbox;
	struct cv1_counters n;

	mp2p_timer *tick;
	mp2p_timer *join_wait;       /* mode "mixed": JOINs over TLS not yet answered */
	double tick_seconds;
	double last_bootstrap;
	double last_list_ask;
	size_t ask_next;             /* round robin over the table */
	struct cv1_dns *dns;
	int running;
	int publishing;              /* inside publish(): see cv1_deliver() */
	struct cv1_peer_addr list_scratch[CV1_LIST_MAX]; /* a LIST being decoded or built */
};

/* cv1_node.c */
void cv1_node_frame(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_frame *f);
void cv1_node_conn(struct cv1 *c, mp2p_conn_id conn, const struct mp2p_conn_event *ev);
void cv1_node_tick(void *arg);
void cv1_node_join_wait(void *arg);
int cv1_node_join(struct cv1 *c, const char *hostport);
void cv1_node_bootstrap(struct cv1 *c);
int cv1_node_broadcast(struct cv1 *c, const char *text, size_t length,
                       char id_out[CV1_ID_HEX + 1]);
int cv1_node_send(struct cv1 *c, const char *pid, const char *text, size_t length);
int cv1_node_broadcast_quiet(struct cv1 *c, const void *data, size_t length,
                             char id_out[CV1_ID_HEX + 1]);
void cv1_node_quit_all(struct cv1 *c);

/* cv1_inbox.c */
void cv1_inbox_clear(struct cv1_inbox *box);
struct cv1_inbox_entry *cv1_inbox_push(struct cv1_inbox *box, int kind,
                                       const char *sender, const char *id,
                                       const char *text, size_t length,
                                       unsigned hops, double wall);
struct cv1_inbox_entry *cv1_inbox_at(struct cv1_inbox *box, size_t i);
void cv1_deliver_quiet(struct cv1 *c, const char *origin, const char *id, const uint8_t *data,
                       size_t length, unsigned hops);
void cv1_deliver(struct cv1 *c, int kind, const char *sender, const char *id,
                 const char *text, size_t length, unsigned hops);

/* cv1_state.c */
#define CV1_STATE_FORMAT 1
int cv1_state_save(struct cv1 *c, void **data_out, size_t *length_out);
int cv1_state_restore(struct cv1 *c, const char *data, size_t length, char **error_text);

/* cv1_dns.c */
struct cv1_dns *cv1_dns_new(struct cv1 *c, const char *server, char **error_text);
int cv1_dns_seed(struct cv1_dns *d, const char *name);
void cv1_dns_free(struct cv1_dns *d);
/* Called by cv1_dns.c for each address a seed record names; 0 if usable. */
int cv1_seed_found(struct cv1 *c, const char *hostport);

#endif /* CV1_NODE_H */

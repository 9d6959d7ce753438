/* cv1.h -- private declarations of the classicv1 plugin, grouped by the file
 * that defines them.
 *
 * cv1_wire.c, cv1_peers.c and cv1_dedup.c use no host function, so the unit
 * tests and the fuzz harness compile them on their own.
 */
#ifndef CV1_H
#define CV1_H

#include <stddef.h>
#include <stdint.h>

/* Longest pid we accept (the original's UUID4 has 36 characters). */
#define CV1_PID_MAX 64
/* Longest numeric address: an IPv6 address in text. */
#define CV1_ADDR_MAX 45
/* "[" ADDR "]:" PORT and a NUL. */
#define CV1_HOSTPORT_MAX (CV1_ADDR_MAX + 10)
/* A LIST RES with more entries than this is malformed. */
#define CV1_LIST_MAX 256
/* Bytes of one LIST entry at most: pid|addr|port and its comma. */
#define CV1_LIST_ENTRY_MAX (CV1_PID_MAX + CV1_ADDR_MAX + 8)
/* A broadcast id in text: 16 lower-case hex digits. */
#define CV1_ID_HEX 16
/* Largest hop limit a broadcast may carry. */
#define CV1_HOPS_MAX 255
/* Version of our extensions announced in CAPA. */
#define CV1_CAPA_VERSION 1

/* ---- cv1_wire.c: the payload codec ---------------------------------- */

/* Why a payload was refused; each has a counter and a debug line. */
enum cv1_wire_error {
	CV1_OK = 0,
	CV1_E_ASCII = -1,        /* a byte outside printable ASCII */
	CV1_E_FIELDS = -2,       /* wrong number of fields or wrong prefix */
	CV1_E_PID = -3,          /* empty, too long, or holding a separator */
	CV1_E_ADDR = -4,         /* not a numeric IPv4 or IPv6 address */
	CV1_E_PORT = -5,         /* not a decimal number in 1..65535 */
	CV1_E_TOOMANY = -6,      /* a LIST RES longer than CV1_LIST_MAX */
	CV1_E_ID = -7,           /* a broadcast id that is not 16 hex digits */
	CV1_E_HOPS = -8,         /* a hop count outside 1..CV1_HOPS_MAX */
	CV1_E_VERSION = -9,      /* a CAPA version that is not a number */
	CV1_E_SPACE = -10        /* encoder: the buffer is too small */
};

enum cv1_dir { CV1_REQ = 0, CV1_RES = 1 };

/* One peer as the wire names it. */
struct cv1_peer_addr {
	char pid[CV1_PID_MAX + 1];
	char addr[CV1_ADDR_MAX + 1];
	uint16_t port;
};

/* A decoded MESG payload: REQ (a direct message) or FOR (a broadcast). */
struct cv1_mesg {
	int forward;                 /* 0: REQ,<text>; 1: FOR,... */
	uint64_t id;                 /* FOR only */
	unsigned hops;               /* FOR only: hops left, 1..CV1_HOPS_MAX */
	char origin[CV1_PID_MAX + 1];/* FOR only */
	char from[CV1_PID_MAX + 1];  /* FOR only: the host that sent this copy */
	const char *text;            /* points into the payload */
	size_t text_length;
};

/* A decoded CAPA payload. */
struct cv1_capa {
	int dir;                     /* CV1_REQ or CV1_RES */
	struct cv1_peer_addr peer;
	unsigned version;
};

const char *cv1_wire_strerror(int error);
int cv1_text_ok(const char *text, size_t length);
int cv1_valid_pid(const char *pid, size_t length);
int cv1_valid_addr(const char *addr, size_t length);
int cv1_hostport(char *buf, size_t cap, const char *addr, uint16_t port);
int cv1_parse_hostport(const char *text, char addr_out[CV1_ADDR_MAX + 1],
                       uint16_t *port_out);

/* Quiet broadcasts: bytes in a broadcast's text ("~q1:" and base64). */
#define CV1_QUIET_PREFIX "~q1:"
#define CV1_QUIET_PREFIX_LEN 4
#define CV1_QUIET_MAX 49152
#define CV1_QUIET_TEXT_MAX (CV1_QUIET_PREFIX_LEN + 4 * ((CV1_QUIET_MAX + 2) / 3))
int cv1_quiet_encode(char *buf, size_t cap, const uint8_t *data, size_t length);
int cv1_quiet_decode(const char *text, size_t length, uint8_t *out, size_t cap, size_t *out_len);
/* Do two addresses (bare, or ADDR:PORT as the host writes a connection's
 * peer) name the same IP? Every spelling of one address compares equal,
 * IPv4-mapped IPv6 included; anything that does not parse equals nothing. */
int cv1_same_ip(const char *a, const char *b);

int cv1_decode_join(const uint8_t *p, size_t n, int *dir_out,
                    struct cv1_peer_addr *peer_out);
int cv1_decode_list(const uint8_t *p, size_t n, int *dir_out,
                    struct cv1_peer_addr *entries, size_t cap, size_t *count_out);
int cv1_decode_quit(const uint8_t *p, size_t n, char pid_out[CV1_PID_MAX + 1]);
int cv1_decode_mesg(const uint8_t *p, size_t n, struct cv1_mesg *out);
int cv1_decode_capa(const uint8_t *p, size_t n, struct cv1_capa *out);
int cv1_decode_gone(const uint8_t *p, size_t n, char pid_out[CV1_PID_MAX + 1]);

int cv1_encode_join(char *buf, size_t cap, int dir, const char *pid,
                    const char *addr, uint16_t port);
int cv1_encode_list_req(char *buf, size_t cap);
int cv1_encode_list_res(char *buf, size_t cap, const struct cv1_peer_addr *entries,
                        size_t count);
int cv1_encode_quit(char *buf, size_t cap, const char *pid);
int cv1_encode_mesg(char *buf, size_t cap, const char *text, size_t text_length);
int cv1_encode_for(char *buf, size_t cap, uint64_t id, unsigned hops,
                   const char *origin, const char *from, const char *text,
                   size_t text_length);
int cv1_encode_capa(char *buf, size_t cap, int dir, const char *pid,
                    const char *addr, uint16_t port, unsigned version);
int cv1_encode_gone(char *buf, size_t cap, const char *pid);
void cv1_id_format(char out[CV1_ID_HEX + 1], uint64_t id);
int cv1_id_parse(const char *text, size_t length, uint64_t *id_out);

/* ---- cv1_peers.c: the bounded peer table ----------------------------- */

enum cv1_peer_kind {
	CV1_KIND_UNKNOWN = 0,        /* capability exchange not finished */
	CV1_KIND_CLASSIC = 1,        /* ignored CAPA: one frame per connection */
	CV1_KIND_OURS = 2            /* answered CAPA: persistent, takes FOR */
};

struct cv1_peer {
	int used;
	uint32_t pid_hash;           /* cv1_peers_find() compares this before the pid */
	char pid[CV1_PID_MAX + 1];
	char addr[CV1_ADDR_MAX + 1];
	uint16_t port;
	char hostport[CV1_HOSTPORT_MAX];  /* what send_to() dials */
	int kind;
	double added;
	double last_heard;           /* last frame known to come from it */
	double last_probe;
	unsigned fails;              /* consecutive failed dials */
	int answered;                /* has been heard from since it was added */
	int suspect;                 /* another host reported it gone */
	uint64_t reuse_conn;         /* persistent connection, 0 if none */
};

/* Recently removed pids: gossip must not bring them straight back. */
#define CV1_TOMBS 128
struct cv1_tomb {
	char pid[CV1_PID_MAX + 1];
	double until;
};

struct cv1_peers {
	struct cv1_peer *slots;
	size_t max;
	size_t count;
	struct cv1_tomb tombs[CV1_TOMBS];
	size_t tomb_next;
};

enum cv1_add_result {
	CV1_ADD_NEW = 0,
	CV1_ADD_KNOWN = 1,           /* already there (address maybe updated) */
	CV1_ADD_FULL = 2,            /* table full: live entries stay */
	CV1_ADD_TOMBED = 3,          /* removed recently; not taken back yet */
	CV1_ADD_INVALID = 4,
	CV1_ADD_CROWDED = 5          /* its IP already has CV1_PER_IP peers here */
};
/* Peers one IP may hold in the table: a machine posing as many peers gets
 * two slots, not the table. */
#define CV1_PER_IP 2

int cv1_peers_init(struct cv1_peers *t, size_t max);
void cv1_peers_free(struct cv1_peers *t);
int cv1_peers_add(struct cv1_peers *t, const struct cv1_peer_addr *pa, double now,
                  int from_itself, struct cv1_peer **peer_out);
/* What cv1_peers_add() would answer for pa now (CV1_ADD_NEW or
 * CV1_ADD_KNOWN: it would be in the table), without changing the table. */
int cv1_peers_admits(struct cv1_peers *t, const struct cv1_peer_addr *pa, double now,
                     int from_itself);
struct cv1_peer *cv1_peers_find(struct cv1_peers *t, const char *pid);
struct cv1_peer *cv1_peers_find_hostport(struct cv1_peers *t, const char *hostport);
void cv1_peers_remove(struct cv1_peers *t, struct cv1_peer *p, double now,
                      double tomb_seconds);
int cv1_peers_tombed(struct cv1_peers *t, const char *pid, double now);

/* ---- cv1_dedup.c: the bounded cache of broadcast ids ----------------- */

struct cv1_dedup {
	size_t cap;                  /* entries kept at most */
	double ttl;                  /* seconds an id is remembered */
	uint64_t *ids;
	double *times;
	uint32_t *next;              /* bucket chains, index + 1, 0 ends */
	uint32_t *buckets;
	uint32_t nbuckets;           /* a power of two */
	size_t head;                 /* oldest entry */
	size_t count;
};

int cv1_dedup_init(struct cv1_dedup *d, size_t cap, double ttl);
void cv1_dedup_free(struct cv1_dedup *d);
int cv1_dedup_contains(struct cv1_dedup *d, uint64_t id, double now);
int cv1_dedup_check_add(struct cv1_dedup *d, uint64_t id, double now);
size_t cv1_dedup_count(const struct cv1_dedup *d);

#endif /* CV1_H */

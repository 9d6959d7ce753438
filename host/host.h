/* host.h -- the host's private declarations, grouped by the file that
 * defines them. Nothing here is part of the plugin ABI. */
#ifndef MP2P_HOST_H
#define MP2P_HOST_H

#include <maybep2p/plugin.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <libconfig.h>

#include "core.h"

#define HOST_VERSION PACKAGE_VERSION

struct host;
struct conn;
struct plog;

/* log.c */
/* Named HLOG_ so that <syslog.h>'s LOG_ERR and friends can sit beside them. */
enum { HLOG_ERR = 0, HLOG_WARN = 1, HLOG_INFO = 2, HLOG_DEBUG = 3 };
extern int log_level;
/* host.log: where lines go. */
enum { LOG_TO_STDERR = 0, LOG_TO_SYSLOG = 1 };
void log_set_target(int target);
int log_target_parse(const char *name);
void log_msg(int level, const char *fmt, ...) MP2P_PRINTF(2, 3);
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap);
int log_level_parse(const char *name);
const char *log_level_name(int level);
/* One per reason a peer can trigger: see log_rated(). Zero-initialised. */
struct ratelog {
	double last;
	uint64_t held;
};
void log_rated(struct ratelog *rl, int level, const char *fmt, ...) MP2P_PRINTF(3, 4);

/* diag.c -- a list of problems for a person, one line each. */
struct diag {
	char **lines;
	int count;
};
void diag_add(struct diag *d, const char *fmt, ...) MP2P_PRINTF(2, 3);
void diag_take(struct diag *d, char *line);
void diag_print(const struct diag *d, int level);
char *diag_join(const struct diag *d);
void diag_clear(struct diag *d);
char *str_printf(const char *fmt, ...) MP2P_PRINTF(1, 2);
char *str_vprintf(const char *fmt, va_list ap);

/* addr.c */
int addr_parse(const char *text, struct sockaddr_storage *ss, int *len_out);
int addr_parse_listen(const char *text, struct sockaddr_storage *ss, int *len_out);
void addr_format(const struct sockaddr *sa, char *buf, size_t size);
uint64_t addr_ip_key(const struct sockaddr *sa, long ipv6_prefix);
int addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
int addr_is_any(const struct sockaddr *sa);

/* idmap.c -- open-addressing map from nonzero uint64 keys to pointers. */
struct idmap {
	uint64_t *keys;
	void **values;
	size_t cap;
	size_t used;
};
void *idmap_get(const struct idmap *m, uint64_t key);
int idmap_put(struct idmap *m, uint64_t key, void *value);
void *idmap_del(struct idmap *m, uint64_t key);
void idmap_free(struct idmap *m);
uint64_t hash_bytes(const void *data, size_t len);

/* frame.c -- the frame header, pure and independent of libevent. */
struct frame_header {
	char protocol[MP2P_PROTOCOL_MAX + 1]; /* NUL-terminated */
	char type[MP2P_TYPE_LEN];
	uint32_t length;
};
enum frame_result { FRAME_NEED_MORE = 0, FRAME_OK = 1, FRAME_BAD = -1 };
int frame_header_parse(const uint8_t *hdr, uint32_t max_payload,
                       struct frame_header *out, const char **why);
int frame_scan(const uint8_t *start, size_t have, uint32_t max_payload,
               struct frame_header *out, const char **why);
int frame_protocol_valid(const char *name);
void frame_header_write(uint8_t *hdr, const char *protocol, const char *type, uint32_t length);

/* hostkey.c -- the host key and peer ids. */
typedef struct evp_pkey_st EVP_PKEY;
struct evp_pkey_st *hostkey_load(const char *state_dir, int create, char **error_text);
void hostkey_free(struct evp_pkey_st *key);
int peer_id_of_key(const struct evp_pkey_st *key, char out[MP2P_PEER_ID_LEN + 1]);
int peer_id_valid(const char *text);
int hostkey_sign(const struct evp_pkey_st *key, const void *msg, size_t len,
                 unsigned char sig[MP2P_SIGNATURE_LEN], unsigned char pub[MP2P_PUBLIC_KEY_LEN]);

/* config.c */
/* host.security.mode */
enum security_mode { SEC_PLAIN = MP2P_SECURITY_PLAIN, SEC_TLS = MP2P_SECURITY_TLS,
                     SEC_MIXED = MP2P_SECURITY_MIXED };
struct plugin_conf {
	char *name;
	char *file;                  /* as written: relative to plugin_dir or absolute */
	int required;
	const config_setting_t *config; /* the plugin's `config` group, or NULL */
	char *config_text;           /* canonical dump, to see if it changed */
	int line;
};
struct host_config {
	config_t lc;                 /* kept alive: plugin config nodes point into it */
	int lc_live;
	char *path;
	char *id;
	char **listen;
	int nlisten;
	char *advertise;
	char *state_dir;
	char *control;
	char *plugin_dir;
	int log_level;
	int log_target;              /* LOG_TO_STDERR or LOG_TO_SYSLOG */
	char *metrics_listen;        /* NULL: no metrics endpoint */
	long max_inbound, max_outbound, max_connections_per_ip, ipv6_prefix;
	long max_frame, max_output, max_buffered;
	int dial_trust_claims;       /* host.dial.trust_claims */
	double dial_rate;            /* new dials a second, host-wide */
	long dial_pending_per_ip;    /* dials not yet connected, per destination IP */
	struct dial_rule *dial_deny; /* host.dial.deny, parsed */
	int ndial_deny;
	double t_connect, t_idle, t_frame, t_write, t_first_frame;
	double checkpoint_interval;  /* seconds; 0: only at shutdown and on request */
	int security_mode;           /* enum security_mode */
	int allow_set;               /* allow or allow_file given: admit only `allow` */
	char **allow;                /* sorted peer ids, from allow and allow_file */
	int nallow;
	struct plugin_conf *plugins;
	int nplugins;
};
int config_load(struct host_config *c, const char *path, struct diag *errs);
void config_release(struct host_config *c);
char *config_where(const config_setting_t *s);
char *config_dump(const config_setting_t *s);
int config_allows(const struct host_config *c, const char *peer_id);
const char *security_mode_name(int mode);
int allow_file_read(const char *path, char ***ids, int *n, struct diag *errs);
/* Pieces of config_load for other strict parsers of operator files (the
 * simulator's scenarios): same checks, same messages, same defaults. */
void config_load_limits(struct host_config *c, const config_setting_t *limits, struct diag *errs);
void config_load_timeouts(struct host_config *c, const config_setting_t *timeouts, struct diag *errs);
void config_load_plugins(struct host_config *c, const config_setting_t *list, struct diag *errs);
void config_load_dial(struct host_config *c, const config_setting_t *dial, struct diag *errs);
void config_bad(struct diag *errs, const config_setting_t *s, const char *fmt, ...) MP2P_PRINTF(3, 4);
int config_check_keys(const config_setting_t *group, const char *const *known, struct diag *errs);
char *config_get_string(const config_setting_t *group, const char *key, const char *def,
                        struct diag *errs);
void config_get_long(const config_setting_t *group, const char *key, long lo, long hi,
                     long *out, struct diag *errs);
const config_setting_t *config_get_group(const config_setting_t *parent, const char *key,
                                         struct diag *errs);

/* loader.c -- a plugin file opened and checked, before any of its code runs. */
struct module {
	void *dl;
	char *path;                  /* the file the operator named */
	char *private_path;          /* this generation's own copy, deleted at unload */
	struct mp2p_plugin desc;     /* copied; members past the plugin's size are NULL */
	struct stat st;              /* the file as it was loaded, to see if it changed */
	int refs;
};
struct module *loader_open(const char *path, const char *scratch_dir, char **error_text);
void loader_close(struct module *m);
int loader_check(const struct mp2p_plugin *d, const char *file, char **error_text);

/* conn.c */
struct conn *conn_accept(struct host *h, evutil_socket_t fd, const struct sockaddr *sa, int salen,
                         int secure);
struct conn *conn_find(struct host *h, uint64_t id);
int conn_send(struct host *h, mp2p_host *in, uint64_t id, const char *protocol,
              const char *type, const void *payload, size_t len, unsigned flags);
int conn_send_to(struct host *h, mp2p_host *in, const char *addr, uint64_t claimed_on,
                 const char *protocol, const char *type, const void *payload, size_t len,
                 unsigned flags, const char *expect_peer, uint64_t *id_out);
int conn_close_id(struct host *h, mp2p_host *in, uint64_t id, int flush, const char *reason);
int64_t conn_pending(struct host *h, uint64_t id);
int conn_set_low_water(struct host *h, mp2p_host *in, uint64_t id, size_t low);
int conn_info(struct host *h, uint64_t id, struct mp2p_conn_info *info);
void conn_forget_slot(struct host *h, int slot);
void conns_close_all(struct host *h, const char *reason);
void conns_drop_all(struct host *h);
void conns_list(struct host *h, struct mp2p_reply *r);
void conns_buffered(struct host *h, size_t *in, size_t *out);
int conn_admit(struct host *h, const struct sockaddr *sa);
int conn_peer_addr(struct host *h, uint64_t id, struct sockaddr_storage *out);
void conn_ip_hold(struct host *h, const struct sockaddr *sa, long delta);

/* dial.c -- what a plugin may make the host dial. */
struct dial_rule {                 /* one CIDR of host.dial.deny */
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t ip[16];
	int bits;
};
int dial_rule_parse(const char *text, struct dial_rule *out);
int dial_rule_match(const struct dial_rule *r, const struct sockaddr *sa);
extern const char *const dial_deny_default[];
int dial_allowed(struct host *h, struct mp2p_host *in, const char *addr, const struct sockaddr *sa);
void dial_started(struct host *h, uint64_t dest_key);
void dial_finished(struct host *h, uint64_t dest_key);
int dial_claim_allowed(struct host *h, struct mp2p_host *in, uint64_t claimed_on,
                       const char *addr, const struct sockaddr *sa);

/* tls.c -- TLS 1.3 contexts, the handshake's key check, first-byte sniffing. */
/* What one connection's handshake checks and learns. Lives in struct conn;
 * the verify callback reaches it through the SSL object. */
struct tls_check {
	char expected[MP2P_PEER_ID_LEN + 1];  /* a dial's expected peer id, or "" */
	char verified[MP2P_PEER_ID_LEN + 1];  /* the peer id the peer proved, or "" */
	char refusal[160];                     /* why the key was refused, or "" */
};
enum sniff_result { SNIFF_NEED_MORE = 0, SNIFF_TLS = 1, SNIFF_PLAIN = 2, SNIFF_BAD = -1 };
int tls_init(struct host *h, struct diag *errs);
void tls_free(struct host *h);
struct bufferevent *tls_bev_new(struct host *h, evutil_socket_t fd, int inbound,
                                struct tls_check *check);
void tls_failure(struct bufferevent *bev, const struct tls_check *check, char *buf, size_t size);
int tls_sniff(const uint8_t *p, size_t n, const char **why);
void sniff_start(struct host *h, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void sniffs_free(struct host *h);

/* listener.c */
int listeners_open(struct host *h, struct diag *errs);
void listeners_close(struct host *h);

/* control.c */
int control_open(struct host *h, struct diag *errs);
void control_close(struct host *h);
void control_dispatch(struct host *h, struct mp2p_reply *r, int argc, const char *const *argv);

/* metrics.c -- host.metrics_listen: GET /metrics for Prometheus. */
int metrics_open(struct host *h, struct diag *errs);
void metrics_close(struct host *h);

/* state.c */
int state_write(const char *dir, const char *name, uint32_t format,
                const void *data, size_t len, char **error_text);
int state_read(const char *dir, const char *name, uint32_t *format,
               void **data, size_t *len, char **error_text);
int state_mkdirs(const char *path, char **error_text);
uint32_t crc32_bytes(const void *data, size_t len);

/* safefile.c -- files in state_dir that nothing planted can redirect. */
int safefile_write(const char *dir, const char *name, const void *data, size_t len,
                   char **error_text);
int safefile_write2(const char *dir, const char *name, const void *head, size_t head_len,
                    const void *data, size_t len, char **error_text);
int safefile_read(const char *path, size_t max, void **data, size_t *len, char **error_text);
const char *file_kind(mode_t mode);
int state_dir_claim(struct host *h, struct diag *errs);

/* probe.c -- init() tried in a child process before the daemon runs it. */
struct mp2p_host *instance_create(struct host *h, const struct host_config *c,
                                  const struct plugin_conf *pc, struct diag *errs);
extern int probe_child;
int probe_plugin(struct host *h, const struct host_config *c, const struct plugin_conf *pc,
                 struct diag *errs);

/* generation.c -- the one policy start-up and reload share: what a
 * plugin's failure to load, init or start means, and where a new
 * instance's state comes from. */
struct handover {                /* a replaced instance's state, in memory */
	void *data;
	size_t len;
	uint32_t format;
	int saved;                   /* save_state() returned it (it may be empty) */
};
const struct plugin_conf *gen_conf_of(const struct host_config *c, const char *name);
struct mp2p_host *gen_load(struct host *h, const struct host_config *c,
                           const struct plugin_conf *pc, int replaces, struct diag *errs);
void gen_restore(struct host *h, struct mp2p_host *in, const struct handover *from);
int gen_start(struct host *h, struct mp2p_host *in, const struct plugin_conf *pc, int replaces,
              struct diag *errs);
void gen_drop(struct host *h, struct mp2p_host *in);

/* daemon_io.c -- the daemon's side of the seam: core_io on conn.c and libevent. */
extern const struct core_io daemon_io;

/* reload.c */
/* host_reload()'s outcomes: done; refused with nothing changed; or done
 * in part, because an added plugin failed to start after the others were
 * swapped (the operator must not be told that nothing changed). */
enum { RELOAD_DONE = 0, RELOAD_REFUSED = -1, RELOAD_PARTIAL = -2 };
int host_reload(struct host *h, char **error_text);

/* host.c -- the host as a whole. */
struct host_stats {
	uint64_t accepted, refused_limit, refused_per_ip, closed;
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
	uint64_t bad_frames, unknown_protocol, oversize, timeouts_idle, timeouts_frame;
	uint64_t timeouts_write, timeouts_connect, output_overflow, dial_failures;
	uint64_t reloads, reload_failures;
	uint64_t dial_refused_claim, dial_refused_deny, dial_refused_self, dial_refused_rate;
	uint64_t dial_refused_pending, dial_refused_outbound;
	uint64_t evicted_silent, timeouts_first_frame, dropped_buffered;
	uint64_t tls_handshakes, tls_refused;
	uint64_t metrics_refused;
};
/* The daemon: one core (core.h: the running plugin instances, their
 * routes, services and replies) and everything the core does not know:
 * the loop, sockets, TLS, the control socket and the configuration file. */
struct host {
	struct core core;            /* first: host_of() finds the host from it */
	struct event_base *base;
	struct host_config cfg;
	char *config_path;
	char *id;
	char *advertise;
	struct evp_pkey_st *key;     /* the Ed25519 host key */
	char peer_id[MP2P_PEER_ID_LEN + 1];
	struct ssl_ctx_st *tls_ctx;  /* one context for both roles */
	struct sniff *sniffs;        /* inbound connections whose first byte is awaited */
	long nsniffs;
	char *scratch_dir;           /* per-generation plugin copies */
	int state_lock;              /* flock()ed state_dir/.lock, or -1 */
	double started;

	/* Listening sockets, and whether they came from systemd. */
	struct evconnlistener **listeners;
	int nlisteners;
	char **listen_names;

	/* Connections: all of them, by id, by dialled address, by peer IP. */
	struct conn *conns;
	struct idmap conn_by_id;
	struct idmap conn_by_dial;
	struct idmap ip_counts;
	struct idmap dial_pending;   /* destination IP key -> dials still connecting */
	long nconns, nin, nout;
	struct conn *silent_head, *silent_tail; /* inbound, no frame yet, oldest first */
	size_t buffered;             /* bytes in every connection's buffers */
	size_t buffered_high;        /* the most since memory was last trimmed */
	long nconns_high;            /* ... and the most connections */
	struct event *trim_timer;
	double dial_tokens, dial_refill;
	uint64_t next_conn_id;
	const struct timeval *tv_idle, *tv_frame, *tv_first;
	struct timeval tv_write, tv_connect;

	struct event *checkpoint_timer;

	struct host_stats stats;
	char *control_path;
	struct evconnlistener *control_listener;
	struct evhttp *metrics_http;     /* NULL unless host.metrics_listen is set */
	struct metrics_conn *metrics_conns; /* every scraper's connection (metrics.c) */
	struct event *metrics_tick;      /* admits new ones, lets go of closed ones */
	struct client *control_clients;
	struct event *sig_int, *sig_term, *sig_hup, *stop_timer;
	int stopping;
	double stop_began;
	int exit_status;
};
/* The daemon that runs `core`: every core the daemon's core_io sees is one. */
static inline struct host *host_of(struct core *core)
{
	return (struct host *)(void *)((char *)core - offsetof(struct host, core));
}
int host_init(struct host *h, const char *config_path, int check_only, struct diag *errs);
int host_run(struct host *h);
void host_request_stop(struct host *h);
void host_free(struct host *h);
double host_now(struct host *h);
void host_save_states(struct host *h);
int host_save_one(struct host *h, struct mp2p_host *in);
void host_stop_instances(struct host *h, struct mp2p_host **set, int n,
                         enum mp2p_stop_reason why);
void host_apply_settings(struct host *h);
void host_arm_checkpoints(struct host *h);
int host_load_instances(struct host *h, struct host_config *cfg,
                        struct mp2p_host **out, int check_only, struct diag *errs);

#endif

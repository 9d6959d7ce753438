/* core.h -- the host's core: plugin instances, routing by protocol, the API
 * table, services, timers, replies, counters and the plugins' control
 * commands. Two front ends run it: the daemon (host.h: sockets, libevent,
 * TLS, the dial guard) and the simulator (sim_*.c: virtual connections in
 * virtual time). The core reaches connections, the clock, timers and
 * state files only through struct core_io, so everything past that table
 * is the front end's business and everything before it is shared.
 *
 * Nothing here is part of the plugin ABI. Nothing here may name libevent. */
#ifndef MP2P_CORE_H
#define MP2P_CORE_H

#include <maybep2p/plugin.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

/* The most plugin instances one host runs at once: connections remember
 * which instances used them in a 64-bit mask. */
#define MAX_INSTANCES 64

struct core;
struct diag;
struct host_config;
struct plugin_conf;
struct module;
struct mp2p_reply;

/* What a front end provides: one table per front end, shared by all the
 * cores it runs. Every entry is called from the one event-loop thread. The
 * connection entries behave as conn.c's functions of the same names do
 * (host.h); `in` is the calling instance, NULL when the host itself asks. */
struct core_io {
	/* Frames and connections. Return MP2P_OK or an MP2P_ERR_* code. */
	int (*send)(struct core *c, struct mp2p_host *in, uint64_t conn, const char *protocol,
	            const char *type, const void *payload, size_t len, unsigned flags);
	/* To an address: an existing connection to it unless ONESHOT or OWNED,
	 * else a new dial. claimed_on: the connection on which a peer named
	 * the address (0: none); expect_peer: the peer id the far end must
	 * prove (NULL: any). */
	int (*send_to)(struct core *c, struct mp2p_host *in, const char *addr, uint64_t claimed_on,
	               const char *protocol, const char *type, const void *payload, size_t len,
	               unsigned flags, const char *expect_peer, uint64_t *conn_out);
	int (*close)(struct core *c, struct mp2p_host *in, uint64_t conn, int flush,
	             const char *reason);
	int64_t (*pending)(struct core *c, uint64_t conn);
	int (*set_low_water)(struct core *c, struct mp2p_host *in, uint64_t conn, size_t low);
	int (*conn_info)(struct core *c, uint64_t conn, struct mp2p_conn_info *info);
	/* The instance in `slot` is gone for good: connections it owned close,
	 * the others forget it. */
	void (*forget_slot)(struct core *c, int slot);

	/* The clocks and randomness, as the ABI's now(), wall_now() and
	 * random_bytes() describe them. */
	double (*now)(struct core *c);
	double (*wall_now)(struct core *c);
	void (*random_bytes)(struct core *c, void *buf, size_t len);

	/* Timers. timer_open() gives `t` its front-end part (t->io) or fails
	 * with -1; timer_arm() (re)arms it to call timer_fire(t) after
	 * `seconds`; timer_disarm() undoes that; timer_close() frees t->io. */
	int (*timer_open)(struct core *c, struct mp2p_timer *t);
	void (*timer_arm)(struct core *c, struct mp2p_timer *t, double seconds);
	void (*timer_disarm)(struct core *c, struct mp2p_timer *t);
	void (*timer_close)(struct core *c, struct mp2p_timer *t);

	/* File-descriptor watches: a front end without descriptors (the
	 * simulator) sets watch_arm to NULL and plugins get NULL from
	 * watch_new(). watch_arm() (re)arms w for `events` (0: none) so that
	 * it calls watch_ready(); watch_close() frees w->io. */
	int (*watch_arm)(struct core *c, struct mp2p_watch *w, unsigned events);
	void (*watch_close)(struct core *c, struct mp2p_watch *w);

	/* checkpoint(): the instance's state saved where a restart finds it.
	 * NULL: this front end keeps no state, and checkpoint() is refused. */
	int (*save)(struct core *c, struct mp2p_host *in);

	/* The ABI's sign(): an Ed25519 signature of msg with this host's key
	 * into sig (unless NULL), its public key into pub (unless NULL); 0 or
	 * -1. NULL: this front end has no host keys, and sign() fails. */
	int (*sign)(struct core *c, const void *msg, size_t len,
	            uint8_t sig[MP2P_SIGNATURE_LEN], uint8_t pub[MP2P_PUBLIC_KEY_LEN]);
};

/* A protocol name and the instance that speaks it. */
struct route {
	char protocol[MP2P_PROTOCOL_MAX + 1];
	struct mp2p_host *inst;
};

/* One host's core. The daemon embeds it in struct host; the simulator in
 * each node. It is small on purpose (a simulation runs 100,000), and it
 * owns nothing of the configuration: `cfg` is shared. */
struct core {
	const struct core_io *io;
	const struct host_config *cfg;   /* limits, timeouts, security mode, plugins */
	const char *id;                  /* the host's id, advertise address and peer id, */
	const char *advertise;           /* owned by the front end (advertise may be NULL) */
	const char *peer_id;
	struct mp2p_host *slots[MAX_INSTANCES];  /* the running generation */
	struct route *routes;
	int nroutes;
	uint64_t next_instance_id;
	struct service_entry *services;
	struct subscription *subs;
	struct counter_set *counters;
	struct mp2p_reply *handed;       /* deferred replies between two generations */
	uint64_t next_reply_token;
};

/* A value a front end puts in place of one of a plugin's list settings
 * (the simulator's per-node bootstrap list): config_list_length() and
 * config_list_string() answer with `list` for `key`, whatever the shared
 * config group says. */
struct config_override {
	const char *key;
	const char *const *list;
	int n;
};

/* The ABI's config handle: a plugin's `config` group and where it was written. */
struct mp2p_config {
	const config_setting_t *group; /* NULL when the operator wrote none */
	const char *instance;
	const char *file;
	int line;
	const struct config_override *over;  /* NULL or `nover` overrides */
	int nover;
};

/* instance.c -- a running plugin: the struct behind the ABI's mp2p_host. */
enum instance_state { INST_NEW, INST_INITED, INST_RUNNING, INST_STOPPED };
struct mp2p_host {
	struct core *core;
	struct module *mod;
	char *name;
	char *file;
	char *config_text;
	uint64_t id;                 /* never reused */
	int slot;                    /* index in core->slots */
	int state;
	void *self;
	const mp2p_config *config;   /* during init only */
	char *state_dir;             /* NULL: this front end keeps no files */
	mp2p_timer *timers;
	mp2p_watch *watches;
	struct counter_set *counters;
	struct mp2p_reply *deferred;      /* replies this instance has not finished */
	int origin;                  /* enum mp2p_origin */
	int swapping;                /* being replaced: reply_handover() is allowed */
	int stop_called;             /* stop() has run; the rest of stopping may not have */
	int lifecycle;               /* inside init/start/stop/...: log lines not rate-limited */
	struct plog *plog;           /* this instance's log budget per call site (plog.c) */
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
};
/* A new instance of an opened module (its reference is taken), init()
 * run with the plugin's config group and `over` in front of it. */
struct mp2p_host *instance_create_from(struct core *core, const struct host_config *c,
                                       const struct plugin_conf *pc, struct module *mod,
                                       const struct config_override *over, int nover,
                                       struct diag *errs);
int instance_restore(struct mp2p_host *in, const void *data, size_t len, uint32_t format);
int instance_start(struct mp2p_host *in, struct diag *errs);
int instance_save(struct mp2p_host *in, void **data, size_t *len, uint32_t *format);
void instance_stop(struct mp2p_host *in, enum mp2p_stop_reason why);
void instance_stop_begin(struct mp2p_host *in, enum mp2p_stop_reason why);
void instance_stop_end(struct mp2p_host *in);
void instance_destroy(struct mp2p_host *in);
struct mp2p_host *instance_by_name(struct core *core, const char *name);
char *plugin_path(const struct host_config *c, const char *file);
struct mp2p_host *route_protocol(struct core *core, const char *protocol);
/* The protocol `in` sends under (NULL: its first); -1 if it declared no such one. */
int instance_protocol(struct mp2p_host *in, const char *protocol, const char **out);
int routes_build(struct core *core, struct mp2p_host **set, int n, struct diag *errs);
/* A plugin's control command: argv[0] names the instance. 0 if it was
 * one (r is answered or deferred), -1 if no instance has that name. */
int core_dispatch(struct core *core, struct mp2p_reply *r, int argc, const char *const *argv);

/* plog.c -- plugin log lines, at most one a second per call site. */
void plog_vlog(struct mp2p_host *in, int level, const char *fmt, va_list ap);
void plog_release(struct mp2p_host *in);

/* api.c */
extern const struct mp2p_host_api host_api;
struct counter_set;
uint64_t *counters_get(struct core *core, const char *instance, const char *name);
void counters_list(struct core *core, struct mp2p_reply *r);
void counters_free(struct core *core);
void counters_each(struct core *core, void (*fn)(void *, const char *instance, const char *name,
                                                 uint64_t value), void *arg);

/* timer.c -- plugin timers and watches, kept on their instance's list. */
struct mp2p_timer {
	struct mp2p_timer *next, **pprev;
	struct mp2p_host *in;
	void (*fire)(void *);
	void *arg;
	double every;
	int repeat;
	void *io;                    /* the front end's part */
};
struct mp2p_watch {
	struct mp2p_watch *next, **pprev;
	struct mp2p_host *in;
	int fd;
	void (*ready)(void *, int, unsigned);
	void *arg;
	void *io;                    /* the front end's part */
};
/* The front end calls these when a timer is due or a descriptor ready. */
void timer_fire(struct mp2p_timer *t);
void watch_ready(struct mp2p_watch *w, unsigned events);
void timers_release(struct mp2p_host *in);
void timers_pause(struct mp2p_host *in);
mp2p_timer *timer_new(mp2p_host *in, void (*fire)(void *), void *arg);
void timer_start(mp2p_host *in, mp2p_timer *t, double seconds, unsigned flags);
void timer_stop(mp2p_host *in, mp2p_timer *t);
void timer_free(mp2p_host *in, mp2p_timer *t);
mp2p_watch *watch_new(mp2p_host *in, int fd, unsigned events,
                      void (*ready)(void *, int, unsigned), void *arg);
int watch_set(mp2p_host *in, mp2p_watch *w, unsigned events);
void watch_free(mp2p_host *in, mp2p_watch *w);

/* service.c */
int service_offer(mp2p_host *in, const char *name, uint32_t version,
                  const void *table, void *provider);
const void *service_find(mp2p_host *in, const char *name, uint16_t major,
                         uint16_t min_minor, void **provider_out);
int service_subscribe(mp2p_host *in, const char *topic,
                      void (*deliver)(void *, const char *, const void *, size_t), void *arg);
int service_publish(mp2p_host *in, const char *topic, const void *data, size_t len);
void services_release(struct core *core, mp2p_host *in);
void services_free(struct core *core);

/* reply.c -- the structured answer to a control command. */
struct mp2p_reply *reply_new(void);
void reply_free(struct mp2p_reply *r);
int reply_status(const struct mp2p_reply *r);
char *reply_render(const struct mp2p_reply *r, int json);
void reply_str(struct mp2p_reply *r, const char *key, const char *value);
void reply_int(struct mp2p_reply *r, const char *key, long long value);
void reply_float(struct mp2p_reply *r, const char *key, double value);
void reply_row(struct mp2p_reply *r);
void reply_error(struct mp2p_reply *r, const char *fmt, ...) MP2P_PRINTF(2, 3);
void reply_usage(struct mp2p_reply *r, const char *fmt, ...) MP2P_PRINTF(2, 3);
void reply_defer(struct mp2p_reply *r);
void reply_finish(struct mp2p_reply *r);
void reply_set_done(struct mp2p_reply *r, void (*done)(struct mp2p_reply *, void *), void *arg);
void reply_set_owner(struct mp2p_reply *r, struct mp2p_host *owner);
int reply_is_deferred(const struct mp2p_reply *r);
const char *reply_field(const struct mp2p_reply *r, int i, const char **value, int *number);
const char *reply_lookup(const struct mp2p_reply *r, const char *key);
void reply_abandon_owner(struct mp2p_host *in);
uint64_t reply_handover(struct mp2p_reply *r);
struct mp2p_reply *reply_adopt(struct mp2p_host *in, uint64_t token);
void reply_abandon_handed(struct core *core, const char *name);

#endif

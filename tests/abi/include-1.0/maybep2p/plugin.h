/* plugin.h -- the MaybeP2P plugin ABI, version 1: everything a protocol
 * plugin may rely on, and everything it must provide.
 *
 * OVERVIEW
 *
 * maybep2pd, the host, owns the TCP listener, every connection, the frame
 * format, timers and all timeouts and limits. A plugin is a shared object
 * that speaks one or more protocols over the host's frames:
 *
 *   offset size field
 *   0      12   protocol name, ASCII, NUL padded ("echo", "ClassicV1")
 *   12     4    message type, 4 ASCII characters ("PING", "JOIN")
 *   16     4    payload length, unsigned, big-endian
 *   20     n    payload
 *
 * The host parses every frame and hands it to the plugin that registered the
 * frame's protocol name, so several protocols share one listener. A plugin
 * never sees a socket, libevent or libconfig: connections, timers and config
 * nodes are opaque handles, and everything it asks of the host goes through
 * the table of functions (struct mp2p_host_api) handed to it at init.
 *
 * THE RULES, IN ONE PLACE
 *
 *  1. Export exactly one symbol: the descriptor MP2P_PLUGIN_SYMBOL, defined
 *     with MP2P_PLUGIN_DEFINE. Build with -fvisibility=hidden so nothing
 *     else leaks; the host loads with RTLD_NOW | RTLD_LOCAL.
 *  2. Link against nothing of ours. The header is all you need.
 *  3. One thread. Every callback runs on the host's single event-loop thread
 *     and must return quickly: never sleep, never wait on a socket, never
 *     read a large file. See SLOW WORK below.
 *  4. Pointers the host hands you are borrowed for the duration of the
 *     callback unless the member's comment says otherwise. Copy what you
 *     keep. Memory you hand the host is described where it is handed.
 *  5. A plugin is loaded only by a host whose ABI minor is at least the one
 *     it was built with, so every host function it was compiled against is
 *     there. MP2P_API_HAS() is for a plugin that declares an older minor on
 *     purpose, to run on older hosts, and then calls newer functions only
 *     where they exist.
 *
 * LIFECYCLE
 *
 *        dlopen, descriptor checked (magic, ABI, size, names)
 *                        |
 *                      init()          -- read config; allocate; no frames yet
 *                        |
 *                 restore_state()      -- only if saved state exists
 *                        |
 *                     start()          -- timers, first frames, bootstrap
 *                        |
 *          on_frame / on_conn / timers / control / services   (running)
 *                        |
 *                 save_state()         -- at shutdown and before a hot swap
 *                        |
 *                   stop(reason)       -- last frames (e.g. goodbyes)
 *                        |
 *                    destroy()         -- free everything; dlclose follows
 *
 * On a reload (SIGHUP or `maybep2pctl reload`) a changed plugin's new build
 * is loaded and init()ed beside the running one. If that works, between two
 * turns of the event loop the old instance runs save_state() and
 * stop(MP2P_STOP_RELOAD), the new one runs restore_state() with that blob and
 * start(), and the old one is destroyed. Connections stay open: their next
 * frames go to the new instance. Connection ids and timer semantics are
 * unchanged by a swap, except that every timer, watch, subscription and
 * service of the old instance is released by the host when it is destroyed.
 *
 * SLOW WORK
 *
 * Split it into slices driven by a zero-delay timer (timer_start with 0
 * seconds re-arms after the loop has served the network), or run it in a
 * thread of your own that never calls the host, and tell the loop when the
 * result is ready by writing to a pipe you registered with watch_new(). The
 * same watch_new() integrates asynchronous libraries (a DNS resolver, for
 * instance) that want the loop to watch their file descriptors.
 *
 * VERSIONING
 *
 * A plugin built against ABI major.minor loads in every host with the same
 * major and an equal or greater minor. A minor bump may only append members
 * to the end of struct mp2p_host_api and struct mp2p_plugin, append fields
 * to structs that start with a size member, and add new flags or enum
 * values that old plugins never receive unasked. Anything else (removing,
 * reordering or retyping a member, changing a meaning) is a major bump, and
 * the entry symbol's name changes with it (mp2p_plugin_v2).
 *
 * A COMPLETE PLUGIN
 *
 *   #include <maybep2p/plugin.h>
 *   #include <stdlib.h>
 *
 *   static const struct mp2p_host_api *api;
 *   struct echo { mp2p_host *host; };
 *
 *   static int echo_init(const struct mp2p_host_api *a, mp2p_host *host,
 *                        const mp2p_config *config, void **self_out,
 *                        char **error_text)
 *   {
 *       static const char *const known[] = { NULL };
 *       struct echo *e;
 *       api = a;
 *       if (api->config_check_keys(config, known, error_text) < 0)
 *           return -1;
 *       if ((e = calloc(1, sizeof(*e))) == NULL)
 *           return -1;
 *       e->host = host;
 *       *self_out = e;
 *       return 0;
 *   }
 *
 *   static void echo_frame(void *self, mp2p_conn_id conn,
 *                          const struct mp2p_frame *f)
 *   {
 *       struct echo *e = self;
 *       if (mp2p_type_is(f->type, "PING"))
 *           api->send(e->host, conn, NULL, "PONG", f->payload, f->length);
 *   }
 *
 *   static void echo_destroy(void *self) { free(self); }
 *
 *   static const char *const protocols[] = { "echo", NULL };
 *
 *   MP2P_PLUGIN_DEFINE = {
 *       MP2P_PLUGIN_HEADER,
 *       .name = "echo",
 *       .version = "1.0.0",
 *       .protocols = protocols,
 *       .init = echo_init,
 *       .on_frame = echo_frame,
 *       .destroy = echo_destroy,
 *   };
 */
#ifndef MAYBEP2P_PLUGIN_H
#define MAYBEP2P_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------
 * Versions and the entry symbol
 * ------------------------------------------------------------------ */

/** The ABI these headers describe. A host speaks exactly one major and
 *  every minor up to its own. */
#define MP2P_ABI_MAJOR 1
#define MP2P_ABI_MINOR 0

/** First member of every descriptor: "MP2P" in ASCII. A file whose entry
 *  symbol does not start with it is not a MaybeP2P plugin. */
#define MP2P_PLUGIN_MAGIC 0x4d503250u

/** The one symbol a plugin exports. Its name carries the major version, so
 *  a host of another major finds nothing rather than misreading it. */
#define MP2P_PLUGIN_SYMBOL "mp2p_plugin_v1"

/** Bytes in the frame header, and the longest protocol name. */
#define MP2P_FRAME_HEADER 20
#define MP2P_PROTOCOL_MAX 12
#define MP2P_TYPE_LEN 4

#if defined(__GNUC__) || defined(__clang__)
#define MP2P_EXPORT __attribute__((visibility("default")))
#define MP2P_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MP2P_EXPORT
#define MP2P_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------------
 * Handles. All are opaque and owned by the host.
 * ------------------------------------------------------------------ */

/** This plugin instance, as the host knows it. Passed to every host
 *  function. Valid from init() until destroy() returns. */
typedef struct mp2p_host mp2p_host;

/** A node of the operator's config: the plugin's `config` group. Valid
 *  only during init(); strings read from it must be copied. */
typedef struct mp2p_config mp2p_config;

/** A one-shot or repeating timer. Owned by the host; released with
 *  timer_free() or, at the latest, when the instance is destroyed. */
typedef struct mp2p_timer mp2p_timer;

/** A file descriptor watched by the loop (see SLOW WORK). Released with
 *  watch_free() or when the instance is destroyed. The descriptor itself
 *  stays the plugin's: the host never closes it. */
typedef struct mp2p_watch mp2p_watch;

/** The answer to one control command, being built. Owned by the host. */
typedef struct mp2p_reply mp2p_reply;

/** A connection, named by a number the host never reuses while it runs.
 *  Ids stay valid across hot swaps; 0 is never a connection. A plugin may
 *  keep ids as long as it likes: using one whose connection has closed is
 *  a harmless error (-1), not a crash. */
typedef uint64_t mp2p_conn_id;

/* ---------------------------------------------------------------------
 * What the host hands to callbacks
 * ------------------------------------------------------------------ */

/** One complete frame. Everything here is borrowed: valid until on_frame()
 *  returns. */
struct mp2p_frame {
	const char *protocol;        /**< NUL-terminated, one of yours */
	char type[MP2P_TYPE_LEN];    /**< not NUL-terminated; see mp2p_type_is */
	uint32_t length;             /**< payload bytes, at most max_frame */
	const uint8_t *payload;      /**< length bytes; not NUL-terminated */
};

enum mp2p_conn_event_kind {
	/** An outbound connection this instance asked for (send_to) is now
	 *  established. Inbound connections are not announced: a plugin first
	 *  hears of one with its first frame. */
	MP2P_CONN_OPENED = 1,
	/** The connection is gone. Sent to every instance that sent or
	 *  received a frame on it, and to the instance that dialled it even if
	 *  it never connected. The id is dead when this returns. */
	MP2P_CONN_CLOSED = 2
};

/** A connection's event. Borrowed for the duration of on_conn(). */
struct mp2p_conn_event {
	uint32_t size;               /**< sizeof this struct as the host knows it */
	uint32_t kind;               /**< enum mp2p_conn_event_kind */
	uint32_t inbound;            /**< 1 if the peer dialled us */
	uint32_t established;        /**< 0 if an outbound dial never connected */
	const char *peer;            /**< "ADDR:PORT" ("[ADDR]:PORT" for IPv6) */
	const char *reason;          /**< CLOSED: why, for logs ("idle timeout",
	                                  "connect failed: Connection refused",
	                                  "closed by peer", ...); else NULL */
};

/** Facts about a live connection, filled in by conn_info(). */
struct mp2p_conn_info {
	uint32_t size;               /**< set by the caller to sizeof */
	uint32_t inbound;            /**< 1 if the peer dialled us */
	uint32_t established;        /**< 0 while an outbound dial is pending */
	uint32_t reserved;
	char peer[64];               /**< "ADDR:PORT" or "[ADDR]:PORT" */
	uint64_t bytes_in;
	uint64_t bytes_out;
	double opened;               /**< the host clock (now()) at open */
};

/** Why stop() is called. */
enum mp2p_stop_reason {
	/** The host is shutting down. Say goodbye to peers if the protocol
	 *  has a goodbye: frames sent now are flushed before the host exits,
	 *  bounded by the write timeout. */
	MP2P_STOP_SHUTDOWN = 1,
	/** A newer generation of this instance takes over; it already has
	 *  your saved state. Do not say goodbye: the peers will not notice. */
	MP2P_STOP_RELOAD = 2,
	/** A reload removed this instance from the config. Say goodbye. */
	MP2P_STOP_REMOVED = 3
};

enum mp2p_log_level {
	MP2P_LOG_ERROR = 0,
	MP2P_LOG_WARN = 1,
	MP2P_LOG_INFO = 2,
	MP2P_LOG_DEBUG = 3
};

/** send_to() flags. */
enum mp2p_send_flags {
	/** Default: reuse a live connection this host dialled to the same
	 *  address, or dial one and keep it for later sends. */
	MP2P_SEND_REUSE = 0,
	/** Dial a fresh connection, write this one frame, then half-close
	 *  it: the peer sees the end of the stream after the frame, may still
	 *  answer on it, and the host closes it when the peer does (or at the
	 *  idle timeout). This is how peers that read one frame per connection
	 *  want to be spoken to. The connection is never reused. */
	MP2P_SEND_ONESHOT = 1u << 0
};

/** watch_new() and its ready callback's event bits. */
enum mp2p_watch_events {
	MP2P_WATCH_READ = 1u << 0,
	MP2P_WATCH_WRITE = 1u << 1
};

/** timer_start() flags. */
enum mp2p_timer_flags {
	MP2P_TIMER_ONCE = 0,
	MP2P_TIMER_REPEAT = 1u << 0  /**< fire every `seconds` until stopped */
};

/** True if a 4-byte message type equals the 4-letter string `name`. */
static inline int mp2p_type_is(const char type[MP2P_TYPE_LEN], const char *name)
{
	return memcmp(type, name, MP2P_TYPE_LEN) == 0;
}

/* ---------------------------------------------------------------------
 * The host API: a const table handed to init(). Entries are only ever
 * appended; `size` tells how many this host has.
 *
 * Return conventions: int functions return 0 (or a count) on success and
 * -1 on failure unless the entry says otherwise. Functions taking
 * `char **error_text` set it, on failure, to a message for the operator
 * allocated with malloc(3); whoever receives it frees it.
 * ------------------------------------------------------------------ */

struct mp2p_host_api {
	uint32_t size;               /**< sizeof(struct mp2p_host_api) in the host */
	uint16_t abi_major;          /**< the host's ABI */
	uint16_t abi_minor;

	/* --- Identity, time and logs ------------------------------------ */

	/** Writes one line to the host's log, prefixed with the level and the
	 *  instance name. Lines above the configured log_level are dropped
	 *  cheaply, so debug lines may stay in hot paths. */
	void (*log)(mp2p_host *h, int level, const char *fmt, ...) MP2P_PRINTF(3, 4);

	/** The instance name from the config (`name = "..."`). Host-owned,
	 *  valid until destroy(). */
	const char *(*instance_name)(mp2p_host *h);

	/** The host's id (`host.id`): a stable string, kept across restarts. */
	const char *(*host_id)(mp2p_host *h);

	/** The "ADDR:PORT" peers should dial to reach this host
	 *  (`host.advertise`). */
	const char *(*advertise)(mp2p_host *h);

	/** A directory this instance may keep files in across restarts
	 *  (`host.state_dir`/NAME, created by the host). Prefer save_state()
	 *  for anything that must survive a hot swap: it needs no file I/O. */
	const char *(*state_dir)(mp2p_host *h);

	/** Seconds on a monotonic clock, as cached at this turn of the loop. */
	double (*now)(mp2p_host *h);

	/** Fills buf with len cryptographically random bytes. */
	void (*random_bytes)(mp2p_host *h, void *buf, size_t len);

	/** A named counter of this instance, created at 0 on first use, shown
	 *  by `maybep2pctl stats`. Increment it through the pointer, which stays
	 *  valid until destroy(). Counters of the same instance name carry
	 *  over a hot swap. Returns NULL only when memory is exhausted. */
	uint64_t *(*counter)(mp2p_host *h, const char *name);

	/* --- Config (valid during init() only) -------------------------- */

	/** Fails (error_text names the file, line and setting) if the group
	 *  holds a setting not named in `known`, a NULL-terminated list. Call
	 *  it first in init(): unknown keys are typos. */
	int (*config_check_keys)(const mp2p_config *c, const char *const *known,
	                         char **error_text);

	/** Typed getters. Return 1 and set *out if `key` is present with the
	 *  right type, 0 if it is absent (*out untouched: keep your default),
	 *  -1 with *error_text set (file, line, setting) if it has another type.
	 *  get_float accepts integers too. Strings are host-owned and valid
	 *  during init() only. */
	int (*config_get_int)(const mp2p_config *c, const char *key,
	                      long long *out, char **error_text);
	int (*config_get_float)(const mp2p_config *c, const char *key,
	                        double *out, char **error_text);
	int (*config_get_bool)(const mp2p_config *c, const char *key,
	                       int *out, char **error_text);
	int (*config_get_string)(const mp2p_config *c, const char *key,
	                         const char **out, char **error_text);

	/** For a list or array of strings: returns its length (0 if absent),
	 *  or -1 with *error_text set if `key` is not a list of strings. */
	int (*config_list_length)(const mp2p_config *c, const char *key,
	                          char **error_text);
	/** Element `index` of such a list (host-owned, valid during init()). */
	const char *(*config_list_string)(const mp2p_config *c, const char *key,
	                                  int index);

	/** Formats a message about setting `key` (NULL for the group itself)
	 *  as "FILE:LINE: plugin NAME: setting 'KEY': MESSAGE", malloc'd, ready
	 *  to be returned through init()'s error_text. */
	char *(*config_error)(const mp2p_config *c, const char *key,
	                      const char *fmt, ...) MP2P_PRINTF(3, 4);

	/* --- Frames and connections ------------------------------------- */

	/** Queues one frame on a connection. `protocol` NULL means the first
	 *  protocol in your descriptor; `type` is 4 bytes, no NUL needed. The
	 *  payload is copied. Fails if the connection is gone, the payload is
	 *  over max_frame, or the connection's unsent output would pass
	 *  max_output (the host then drops that peer as not reading). */
	int (*send)(mp2p_host *h, mp2p_conn_id conn, const char *protocol,
	            const char *type, const void *payload, size_t length);

	/** Queues one frame to "ADDR:PORT" (numeric; IPv6 as "[ADDR]:PORT"),
	 *  dialling if needed (see enum mp2p_send_flags). Returns 0 and the
	 *  connection's id in *conn_out (may be NULL) if the frame was queued;
	 *  -1 if the address does not parse or a limit refuses it. A dial that
	 *  fails later is reported by on_conn(MP2P_CONN_CLOSED) with
	 *  established = 0. */
	int (*send_to)(mp2p_host *h, const char *addr, const char *protocol,
	               const char *type, const void *payload, size_t length,
	               unsigned flags, mp2p_conn_id *conn_out);

	/** Closes a connection; with `flush` non-zero after its queued output
	 *  is written (bounded by the write timeout). on_conn(CLOSED) follows
	 *  for the instances that used it, this one included. */
	int (*conn_close)(mp2p_host *h, mp2p_conn_id conn, int flush);

	/** Fills *info (set info->size first). -1 if the connection is gone. */
	int (*conn_info)(mp2p_host *h, mp2p_conn_id conn, struct mp2p_conn_info *info);

	/* --- Timers and watches ----------------------------------------- */

	/** A stopped timer that calls fire(arg) on the loop thread. */
	mp2p_timer *(*timer_new)(mp2p_host *h, void (*fire)(void *arg), void *arg);
	/** (Re)arms it to fire after `seconds` (0 = next turn of the loop). */
	void (*timer_start)(mp2p_host *h, mp2p_timer *t, double seconds, unsigned flags);
	void (*timer_stop)(mp2p_host *h, mp2p_timer *t);
	/** Stops and releases it. NULL is fine. */
	void (*timer_free)(mp2p_host *h, mp2p_timer *t);

	/** Watches fd for the given MP2P_WATCH_* events; calls
	 *  ready(arg, fd, events) on the loop thread while they hold. */
	mp2p_watch *(*watch_new)(mp2p_host *h, int fd, unsigned events,
	                         void (*ready)(void *arg, int fd, unsigned events),
	                         void *arg);
	/** Changes the events watched (0 pauses the watch). */
	int (*watch_set)(mp2p_host *h, mp2p_watch *w, unsigned events);
	/** Stops watching. NULL is fine. Does not close fd. */
	void (*watch_free)(mp2p_host *h, mp2p_watch *w);

	/* --- Services and events between plugins ------------------------ */

	/** Offers a named service: `table` is a const struct of functions the
	 *  provider documents in a header of its own (see maybep2p/kademlia.h),
	 *  `provider` the pointer those functions take first. Both must stay
	 *  valid until stop(); the host withdraws the offer before stop(). A
	 *  name is offered by one instance at a time. Versions are
	 *  (major << 16) | minor, with the same rule as the ABI. */
	int (*service_offer)(mp2p_host *h, const char *name, uint32_t version,
	                     const void *table, void *provider);

	/** Finds a service with this major and at least this minor. Returns its
	 *  table and sets *provider_out, or NULL if none runs now. A provider
	 *  may be swapped or removed by a reload between two callbacks, so look
	 *  it up each time you use it (a hash lookup) and never keep either
	 *  pointer past the current callback. */
	const void *(*service_find)(mp2p_host *h, const char *name,
	                            uint16_t major, uint16_t min_minor,
	                            void **provider_out);

	/** This instance's number: unique while the host runs, never reused,
	 *  different after a hot swap. A provider that completes a request
	 *  later stores the caller's number and checks instance_alive() before
	 *  calling back into it, so it never calls code that was unloaded. */
	uint64_t (*instance_id)(mp2p_host *h);
	int (*instance_alive)(mp2p_host *h, uint64_t instance);

	/** Subscribes to a topic (a string such as "classicv1.message").
	 *  deliver() runs synchronously inside publish(). The subscription ends
	 *  when this instance is destroyed. */
	int (*subscribe)(mp2p_host *h, const char *topic,
	                 void (*deliver)(void *arg, const char *topic,
	                                 const void *data, size_t length),
	                 void *arg);
	/** Delivers data (borrowed) to every subscriber of the topic; returns
	 *  how many there were. */
	int (*publish)(mp2p_host *h, const char *topic, const void *data, size_t length);

	/* --- Control replies (see the control callback) ----------------- */

	/** Sets a field of the reply: at the top level, or in the current row
	 *  once reply_row() has been called. Keys and values are copied.
	 *  `maybep2pctl --json` prints fields as JSON members, rows as an array
	 *  "rows"; the default prints aligned text. */
	void (*reply_str)(mp2p_reply *r, const char *key, const char *value);
	void (*reply_int)(mp2p_reply *r, const char *key, long long value);
	void (*reply_float)(mp2p_reply *r, const char *key, double value);
	/** Starts a new row of the reply's table. */
	void (*reply_row)(mp2p_reply *r);
	/** Marks the command failed (maybep2pctl exits 1) with this message. */
	void (*reply_error)(mp2p_reply *r, const char *fmt, ...) MP2P_PRINTF(2, 3);
	/** Marks it a usage error (unknown command, wrong arguments: exit 2). */
	void (*reply_usage)(mp2p_reply *r, const char *fmt, ...) MP2P_PRINTF(2, 3);
	/** Keeps the reply open after control() returns, for a command that
	 *  completes later (a DHT lookup). Finish it with reply_finish(). If the
	 *  instance is destroyed first, the host answers with an error. */
	void (*reply_defer)(mp2p_reply *r);
	/** Sends a deferred reply; the handle is dead afterwards. */
	void (*reply_finish)(mp2p_reply *r);
};

/** True if the host's table has `member` (it may be older than the
 *  headers this plugin was built with). */
#define MP2P_API_HAS(api, member) \
	((api)->size >= offsetof(struct mp2p_host_api, member) + sizeof((api)->member) && \
	 (api)->member != NULL)

/* ---------------------------------------------------------------------
 * The descriptor: what a plugin provides. Every callback but init and
 * destroy is optional (NULL). All run on the loop thread and must not
 * block. `self` is what init() stored in *self_out.
 * ------------------------------------------------------------------ */

struct mp2p_plugin {
	uint32_t magic;              /**< MP2P_PLUGIN_MAGIC */
	uint16_t abi_major;          /**< MP2P_ABI_MAJOR as built */
	uint16_t abi_minor;          /**< MP2P_ABI_MINOR as built */
	uint32_t size;               /**< sizeof(struct mp2p_plugin) as built */
	uint32_t flags;              /**< 0; reserved for later minors */

	const char *name;            /**< the plugin's name ("echo") */
	const char *version;         /**< the plugin's own version ("1.2.0") */
	const char *description;     /**< one line for `maybep2pctl plugins`, or NULL */
	/** NULL-terminated protocol names this plugin speaks: 1 to 12 printable
	 *  ASCII characters each. One instance owns a name on a host. */
	const char *const *protocols;

	/** Reads config, allocates, stores its state pointer in *self_out.
	 *  No frames may be sent yet. Return 0, or -1 with *error_text set
	 *  (malloc'd; config_error() makes a good one). `api` stays valid
	 *  until the plugin is unloaded: keep it. */
	int (*init)(const struct mp2p_host_api *api, mp2p_host *host,
	            const mp2p_config *config, void **self_out, char **error_text);

	/** Begins work: arm timers, dial bootstrap peers. Return 0, or -1 with
	 *  *error_text set. */
	int (*start)(void *self, char **error_text);

	/** One frame arrived for one of this plugin's protocols. */
	void (*on_frame)(void *self, mp2p_conn_id conn, const struct mp2p_frame *frame);

	/** A connection opened or closed (see enum mp2p_conn_event_kind). */
	void (*on_conn)(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *event);

	/** Stops work. Frames may still be sent; timers fire no more after it
	 *  returns. */
	void (*stop)(void *self, enum mp2p_stop_reason reason);

	/** Frees everything init() and later callbacks allocated. The host
	 *  releases the instance's timers, watches, subscriptions and counters
	 *  itself. */
	void (*destroy)(void *self);

	/** Serialises everything a successor or a restart needs. Set *data_out
	 *  to a malloc'd buffer (the host frees it), *length_out to its size and
	 *  *format_out to your state format's version. Return 0, or -1 to save
	 *  nothing. Called before stop(). */
	int (*save_state)(void *self, void **data_out, size_t *length_out,
	                  uint32_t *format_out);

	/** Reads what a save_state() wrote, possibly by an older or newer build
	 *  of this plugin, before start(). `data` is borrowed. If the format is
	 *  one you cannot read, return -1 with *error_text set: the host logs it
	 *  and starts you empty. Never trust the bytes: a file on disk can be
	 *  damaged. */
	int (*restore_state)(void *self, const void *data, size_t length,
	                     uint32_t format, char **error_text);

	/** `maybep2pctl NAME ARG...`: argv[0] is the command. Answer through
	 *  the reply_* functions; nothing set means success with no output.
	 *  An unknown command should be answered with reply_usage(). */
	void (*control)(void *self, mp2p_reply *reply, int argc, const char *const *argv);
};

/** The leading members every ABI-1 descriptor starts with. */
#define MP2P_PLUGIN_HEADER                           \
	.magic = MP2P_PLUGIN_MAGIC,                      \
	.abi_major = MP2P_ABI_MAJOR,                     \
	.abi_minor = MP2P_ABI_MINOR,                     \
	.size = (uint32_t)sizeof(struct mp2p_plugin)

/** Defines the exported descriptor; follow it with `= { ... };` and use
 *  designated initializers, so members you leave out are NULL. */
#define MP2P_PLUGIN_DEFINE \
	MP2P_EXPORT extern const struct mp2p_plugin mp2p_plugin_v1; \
	MP2P_EXPORT const struct mp2p_plugin mp2p_plugin_v1

/* ---------------------------------------------------------------------
 * The layout is the promise: these fail to compile if it moves.
 * ------------------------------------------------------------------ */

#define MP2P_P_ (sizeof(void *))
_Static_assert(offsetof(struct mp2p_frame, protocol) == 0, "mp2p_frame layout");
_Static_assert(offsetof(struct mp2p_frame, type) == MP2P_P_, "mp2p_frame layout");
_Static_assert(offsetof(struct mp2p_frame, length) == MP2P_P_ + 4, "mp2p_frame layout");
_Static_assert(offsetof(struct mp2p_frame, payload) == MP2P_P_ + 8, "mp2p_frame layout");
_Static_assert(sizeof(struct mp2p_frame) == 2 * MP2P_P_ + 8, "mp2p_frame size");

_Static_assert(offsetof(struct mp2p_conn_event, peer) == 16, "mp2p_conn_event layout");
_Static_assert(offsetof(struct mp2p_conn_event, reason) == 16 + MP2P_P_, "mp2p_conn_event layout");
_Static_assert(sizeof(struct mp2p_conn_event) == 16 + 2 * MP2P_P_, "mp2p_conn_event size");

_Static_assert(offsetof(struct mp2p_conn_info, peer) == 16, "mp2p_conn_info layout");
_Static_assert(offsetof(struct mp2p_conn_info, bytes_in) == 80, "mp2p_conn_info layout");
_Static_assert(offsetof(struct mp2p_conn_info, opened) == 96, "mp2p_conn_info layout");
_Static_assert(sizeof(struct mp2p_conn_info) == 104, "mp2p_conn_info size");

_Static_assert(offsetof(struct mp2p_host_api, log) == 8, "mp2p_host_api layout");
_Static_assert(offsetof(struct mp2p_host_api, config_check_keys) == 8 + 8 * MP2P_P_, "mp2p_host_api layout");
_Static_assert(offsetof(struct mp2p_host_api, send) == 8 + 16 * MP2P_P_, "mp2p_host_api layout");
_Static_assert(offsetof(struct mp2p_host_api, timer_new) == 8 + 20 * MP2P_P_, "mp2p_host_api layout");
_Static_assert(offsetof(struct mp2p_host_api, service_offer) == 8 + 27 * MP2P_P_, "mp2p_host_api layout");
_Static_assert(offsetof(struct mp2p_host_api, reply_str) == 8 + 33 * MP2P_P_, "mp2p_host_api layout");
_Static_assert(sizeof(struct mp2p_host_api) == 8 + 41 * MP2P_P_, "mp2p_host_api size (1.0)");

_Static_assert(offsetof(struct mp2p_plugin, name) == 16, "mp2p_plugin layout");
_Static_assert(offsetof(struct mp2p_plugin, init) == 16 + 4 * MP2P_P_, "mp2p_plugin layout");
_Static_assert(offsetof(struct mp2p_plugin, control) == 16 + 12 * MP2P_P_, "mp2p_plugin layout");
_Static_assert(sizeof(struct mp2p_plugin) == 16 + 13 * MP2P_P_, "mp2p_plugin size (1.0)");
#undef MP2P_P_

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_PLUGIN_H */

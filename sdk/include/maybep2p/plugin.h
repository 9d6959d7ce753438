/* plugin.h -- the MaybeP2P plugin ABI, version 1.1: everything a protocol
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
 *  2. Link against nothing of ours. The headers are all you need:
 *     this one, <maybep2p/util.h> (inline helpers) and the headers of the
 *     services you use.
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
 *  6. Keep no mutable globals: everything an instance owns hangs off the
 *     `self` pointer init() returns, the api pointer included. One loaded
 *     copy of a plugin may serve several instances, and a hot swap runs
 *     the old and the new build side by side. Constant tables are fine.
 *  7. Ask the host for the time and for randomness: now() and wall_now()
 *     for clocks, random_bytes() for entropy. A test harness (or a later
 *     host) can then make a run repeatable.
 *  8. Some host functions call back into plugins before they return
 *     (REENTRANCY below). Never hold a pointer across such a call into
 *     something the callback may free.
 *
 * LIFECYCLE
 *
 *        dlopen, descriptor checked (magic, ABI, size, flags, names)
 *                        |
 *                      init()          -- read config; allocate; no frames yet
 *                        |
 *                 restore_state()      -- only if saved state exists;
 *                        |                origin() says from where
 *                     start()          -- timers, first frames, bootstrap
 *                        |
 *     on_frame / on_conn / on_drain / timers / control / services (running)
 *                        |
 *                 save_state()         -- at shutdown, before a hot swap,
 *                        |                at checkpoints while running
 *                   stop(reason)       -- last frames (e.g. goodbyes)
 *                        |
 *                    destroy()         -- free everything; dlclose follows
 *
 * ORDER. Instances start in the order the config lists them and stop in
 * the reverse order, so a plugin listed after the one whose service it
 * uses starts after it and stops before it. At shutdown every service
 * stays offered until every instance's stop() has returned: a plugin may
 * say goodbye through another plugin's service even if that one stopped
 * first. A provider must therefore answer calls that arrive after its own
 * stop() (it may refuse them; it must not crash).
 *
 * WHAT A CRASH LOSES. State reaches the disk (state_dir/NAME.state,
 * written to a temporary file, synced and renamed, so a crash leaves the
 * old file or the new one, never a mix) at shutdown, when checkpoint() is
 * called, and every host.checkpoint_interval seconds if the operator set
 * it. A SIGKILL or a crash loses what changed since the last of these,
 * every deferred control reply (the client sees the connection close) and
 * every frame still queued for output.
 *
 * On a reload (SIGHUP or `maybep2pctl reload`) a changed plugin's new build
 * is loaded and init()ed beside the running one. If that works, between two
 * turns of the event loop the old instance runs save_state() and
 * stop(MP2P_STOP_RELOAD), the new one runs restore_state() with that blob
 * (origin() says MP2P_ORIGIN_SWAP) and start(), and the old one is
 * destroyed. Connections stay open: their next frames go to the new
 * instance. Connection ids and timer semantics are unchanged by a swap,
 * except that every timer, watch, subscription and service of the old
 * instance is released by the host when it is destroyed. A deferred
 * control reply can be carried over: see reply_handover().
 *
 * An instance counts as changed, and is swapped, when its config group's
 * text differs or its file differs from the one loaded: another path,
 * device, inode, size or modification time. Rebuilding the .so, copying a
 * new one over it or merely touching it all count; an unchanged instance
 * keeps running untouched, its state in memory. An instance a reload adds
 * is treated as at start-up: restore_state() with its file from state_dir
 * if there is one (MP2P_ORIGIN_RESTART), and a failure in init() or
 * start() fails the reload if the operator marked it required.
 *
 * REENTRANCY
 *
 * Everything runs on the loop thread, but these host functions call
 * plugin code before they return:
 *  - send(), send_to() (and send_claimed(), send_to_peer(), which queue
 *    as it does) and conn_close() may close a connection and run
 *    on_conn(MP2P_CONN_CLOSED) for every instance that used it, this one
 *    included, inside the call (the sends when the output limit is
 *    passed; send_v2() and send_to_v2() with MP2P_SEND_NOWAIT never close);
 *  - publish() runs every subscriber's deliver() inside the call;
 *  - checkpoint() runs this instance's own save_state() inside the call;
 *  - a service's functions are the provider's code, run inside your call.
 * on_drain(), on_frame(), timers, watches and control() only ever run from
 * the loop itself, never inside a host function.
 *
 * CONNECTIONS: SHARED OR OWNED
 *
 * A connection is shared by default. Frames of every protocol arrive on
 * it, each going to the instance that speaks it; every instance that sent
 * or received on it hears of its close; send_to() without a flag reuses a
 * connection any instance of this host dialled to the same address; and
 * whatever one instance does to it (closing it, overflowing its output
 * limit) ends it for all. A connection is owned when an instance dialled
 * it with MP2P_SEND_OWNED or claimed it with send_v2(..., MP2P_SEND_OWNED)
 * before any other instance used it: then no other instance may send on
 * it or close it, send_to() never reuses it, and a frame of another
 * instance's protocol arriving on it closes it. A bulk protocol wants its
 * own connections, so its mistakes and its queues touch nobody else.
 *
 * FLOW CONTROL
 *
 * The host queues what you send and writes it as the peer reads. A
 * connection may hold at most max_output unwritten bytes (see limits()).
 * send() and send_to() treat passing it as a peer that does not read and
 * close the connection. A plugin that sends more than a few frames at a
 * time uses send_v2() with MP2P_SEND_NOWAIT instead: passing the limit then
 * returns MP2P_ERR_WOULD_BLOCK, queues nothing and closes nothing, and
 * on_drain() runs once the unwritten output has fallen to the connection's
 * low-water mark (conn_set_low_water(), 0 by default). conn_pending() says
 * how much is unwritten at any moment. A sender that keeps conn_pending()
 * between the low-water mark and max_output keeps the socket busy without
 * ever being refused.
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
 * 1.1 added, at the ends: send_claimed, wall_now, vlog, limits,
 * conn_pending, conn_set_low_water, send_v2, send_to_v2, origin,
 * checkpoint, reply_handover, reply_adopt, peer_id, security,
 * send_to_peer and sign to the host API; on_drain to the descriptor;
 * authenticated, tls and peer_id to struct mp2p_conn_info; the flags
 * MP2P_SEND_NOWAIT, MP2P_SEND_OWNED and MP2P_SEND_PLAINTEXT; enum
 * mp2p_result, enum mp2p_origin, enum mp2p_security, struct mp2p_limits,
 * MP2P_PEER_ID_LEN, MP2P_PUBLIC_KEY_LEN and MP2P_SIGNATURE_LEN. A 1.1
 * host also refuses a descriptor whose reserved `flags` are not 0, writes
 * conn_info()'s bytes_out as bytes written rather than bytes queued, and
 * keeps services offered through stop().
 * Plugins built against 1.0 load and run unchanged.
 *
 * C AND C++
 *
 * The header compiles as C99 or later and as C++11 or later (g++ and
 * clang++); MP2P_PLUGIN_DEFINE's designated initializers need C99 or
 * C++20, where members must be named in the order declared, and g++'s
 * -Wextra then warns about the members left out (they are NULL, as in C:
 * add -Wno-missing-field-initializers). In C++, define callbacks with C
 * linkage (inside extern "C").
 *
 * A COMPLETE PLUGIN
 *
 *   #include <maybep2p/plugin.h>
 *   #include <stdlib.h>
 *
 *   struct echo { const struct mp2p_host_api *api; mp2p_host *host; };
 *
 *   static int echo_init(const struct mp2p_host_api *api, mp2p_host *host,
 *                        const mp2p_config *config, void **self_out,
 *                        char **error_text)
 *   {
 *       static const char *const known[] = { NULL };
 *       struct echo *e;
 *       if (api->config_check_keys(config, known, error_text) < 0)
 *           return -1;
 *       if ((e = calloc(1, sizeof(*e))) == NULL)
 *           return -1;
 *       e->api = api;
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
 *           e->api->send(e->host, conn, NULL, "PONG", f->payload, f->length);
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

#include <stdarg.h>
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
#define MP2P_ABI_MINOR 1

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

/** Characters in a peer id (ABI 1.1): the SHA-256 digest of a host's
 *  Ed25519 public key, written as 64 lowercase hex digits. A host's peer id
 *  names it for as long as it keeps its key (state_dir/host.key). */
#define MP2P_PEER_ID_LEN 64

/** Bytes of a host's raw Ed25519 public key and of one signature made
 *  with its key (ABI 1.1, sign()). */
#define MP2P_PUBLIC_KEY_LEN 32
#define MP2P_SIGNATURE_LEN 64

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
 *  Ids stay valid across hot swaps, not across restarts; 0 is never a
 *  connection. A plugin may keep ids as long as it likes: using one whose
 *  connection has closed is a harmless error (-1, or MP2P_ERR_GONE from
 *  the 1.1 functions), not a crash. */
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
	 *  it never connected. The id is dead when this returns. It may run
	 *  inside send(), send_to() or conn_close() (see REENTRANCY). */
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
	uint64_t bytes_in;           /**< bytes of whole frames read */
	/** Bytes written to the socket (a 1.0 host counted bytes queued; the
	 *  difference is conn_pending()). */
	uint64_t bytes_out;
	double opened;               /**< the host clock (now()) at open */
	/* (1.1) Filled only if the caller's size covers them. */
	/** 1 once the peer has proved, in a TLS 1.3 handshake, that it holds
	 *  the private key behind peer_id; then every frame on the connection
	 *  is that peer's. 0 on a plaintext connection (host.security.mode
	 *  "plain", or a plaintext peer in "mixed") and while a dial's
	 *  handshake is still running: trust nothing a peer says about itself
	 *  there. */
	uint32_t authenticated;
	/** 1 if the connection is encrypted (TLS), even before its handshake
	 *  has finished. */
	uint32_t tls;
	/** The remote peer id, NUL-terminated, when authenticated; else "". */
	char peer_id[MP2P_PEER_ID_LEN + 1];
};

/** Why stop() is called. stop() receives it as an enum, which every
 *  supported C and C++ compiler passes as a 32-bit integer (asserted at
 *  the end of this file); a reason added by a later minor is never passed
 *  to a plugin built against an older one. */
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

/** Flags of send_to(), send_to_v2() and send_v2(). */
enum mp2p_send_flags {
	/** Default: reuse a live connection this host dialled to the same
	 *  address, or dial one and keep it for later sends. */
	MP2P_SEND_REUSE = 0,
	/** Dial a fresh connection, write this one frame, then half-close
	 *  it: the peer sees the end of the stream after the frame, may still
	 *  answer on it, and the host closes it when the peer does (or at the
	 *  idle timeout). This is how peers that read one frame per connection
	 *  want to be spoken to. The connection is never reused. */
	MP2P_SEND_ONESHOT = 1u << 0,
	/** (1.1) Never close the connection for passing max_output: queue
	 *  nothing and fail with MP2P_ERR_WOULD_BLOCK (-1 from send_to()), and
	 *  run on_drain() once the output has fallen to the low-water mark. */
	MP2P_SEND_NOWAIT = 1u << 1,
	/** (1.1) A connection for this instance alone (CONNECTIONS above).
	 *  With send_to()/send_to_v2(): dial a fresh connection, owned from the
	 *  start and never reused by a plain send_to(). With send_v2(): claim
	 *  the connection, which succeeds if no other instance has used it. */
	MP2P_SEND_OWNED = 1u << 2,
	/** (1.1) Dial this connection without TLS, for a peer that cannot
	 *  speak it (an original Python peer). Honoured only when the host's
	 *  mode is MP2P_SECURITY_MIXED (send_to() fails otherwise) and never
	 *  combined with an expected peer id. Ignored when a live connection
	 *  is reused. In mode "plain" every connection is plaintext anyway. */
	MP2P_SEND_PLAINTEXT = 1u << 3
};

/** (1.1) What send_v2(), send_to_v2() and the other 1.1 functions that can
 *  fail in several ways return. The 1.0 functions keep returning -1 for
 *  every failure, which is why no code here is -1. */
enum mp2p_result {
	MP2P_OK = 0,
	/** The connection is closed, was never one, or is closing. */
	MP2P_ERR_GONE = -2,
	/** The payload is over max_frame, or header and payload are over
	 *  max_output. Nothing was queued; the connection is untouched. */
	MP2P_ERR_TOO_BIG = -3,
	/** MP2P_SEND_NOWAIT: the frame would pass max_output. Nothing was
	 *  queued; on_drain() follows once the output has drained. */
	MP2P_ERR_WOULD_BLOCK = -4,
	/** A rule refused it: the protocol is not yours, the connection is
	 *  owned by another instance, the address does not follow the address
	 *  rule (<maybep2p/util.h>) or may not be dialled, a connection limit
	 *  or host.limits.max_buffered was reached, or this instance is not
	 *  running. The log says which. */
	MP2P_ERR_REFUSED = -5,
	/** A bad argument: a NULL type or address, a NULL payload with a
	 *  length, a flag this host does not know. */
	MP2P_ERR_INVALID = -6,
	/** The host tried and failed (out of memory, a write to disk failed);
	 *  the log says why. */
	MP2P_ERR_FAILED = -7
};

/** (1.1) Where an instance's state came from; see origin(). */
enum mp2p_origin {
	/** No saved state: restore_state() was not called. */
	MP2P_ORIGIN_FRESH = 0,
	/** State read from state_dir, written by an earlier run of the host.
	 *  Connection ids in it mean nothing now. */
	MP2P_ORIGIN_RESTART = 1,
	/** State handed over in memory by the instance this one replaces in a
	 *  hot swap. Connection ids in it are still valid. */
	MP2P_ORIGIN_SWAP = 2
};

/** (1.1) How the host's connections are secured (`host.security.mode`,
 *  see security()). */
enum mp2p_security {
	/** No TLS: no connection is authenticated (the original behaviour). */
	MP2P_SECURITY_PLAIN = 0,
	/** Every connection, in and out, is TLS 1.3 with both keys checked. */
	MP2P_SECURITY_TLS = 1,
	/** TLS as in MP2P_SECURITY_TLS, but plaintext peers are let in (told
	 *  apart by their first bytes) and dialled with MP2P_SEND_PLAINTEXT. */
	MP2P_SECURITY_MIXED = 2
};

/** (1.1) conn_set_low_water()'s mark that turns on_drain() off. */
#define MP2P_DRAIN_OFF ((size_t)-1)

/** (1.1) The host's limits and timeouts, filled in by limits(). Set
 *  `size` first; the host fills as much as both know. */
struct mp2p_limits {
	uint32_t size;               /**< set by the caller to sizeof */
	uint32_t reserved;
	uint64_t max_frame;          /**< largest payload, bytes (host.limits) */
	uint64_t max_output;         /**< unwritten bytes one connection may hold */
	uint64_t max_buffered;       /**< unread and unwritten bytes of all connections */
	uint64_t max_inbound;        /**< connections peers may open to this host */
	uint64_t max_outbound;       /**< connections this host may dial */
	uint64_t max_connections_per_ip; /**< inbound connections per peer address */
	double connect_timeout;      /**< seconds (host.timeouts) */
	double idle_timeout;
	double frame_timeout;
	double write_timeout;
	double first_frame_timeout;
	double checkpoint_interval;  /**< seconds, 0 if off (host.checkpoint_interval) */
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
 * Return conventions: the 1.0 int functions return 0 (or a count) on
 * success and -1 on failure unless the entry says otherwise; the 1.1 ones
 * return enum mp2p_result codes. Functions taking `char **error_text`
 * set it, on failure, to a message for the operator allocated with
 * malloc(3); whoever receives it frees it with free(3). That goes both
 * ways: the host frees the error texts and state blobs plugins hand it
 * with the C library's free(), so allocate them with malloc(), calloc(),
 * realloc() or strdup(), never from a private allocator.
 * ------------------------------------------------------------------ */

struct mp2p_host_api {
	uint32_t size;               /**< sizeof(struct mp2p_host_api) in the host */
	uint16_t abi_major;          /**< the host's ABI */
	uint16_t abi_minor;

	/* --- Identity, time and logs ------------------------------------ */

	/** Writes one line to the host's log, prefixed with the level and the
	 *  instance name. Lines above the configured log_level are dropped
	 *  cheaply, so debug lines may stay in hot paths. `level` is an enum
	 *  mp2p_log_level. See vlog() for a va_list.
	 *
	 *  Rate limit: a peer decides how often on_frame() runs, so the host
	 *  holds each reason to at most one line a second, per instance. The
	 *  reason is the call site, known by the address of `fmt`: pass a
	 *  string literal, not text you formatted yourself (a wrapper should
	 *  hand its format to vlog()), or every line shares one budget. Lines
	 *  held back are counted, and a second later one line at the same
	 *  level says "N similar lines suppressed in the last S s" and quotes
	 *  the format. Errors, warnings and info lines are limited alike, with
	 *  two exceptions, which are always written: MP2P_LOG_DEBUG lines (the
	 *  operator who sets log_level = "debug" asked for each one), and lines
	 *  logged while the host is calling this instance's init(),
	 *  restore_state(), start(), stop(), save_state() or destroy(), which
	 *  happen once per event. Safe from any callback; `fmt` need not
	 *  outlive the call. */
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
	 *  (`host.state_dir`/NAME). The host creates it before start(); in
	 *  init() it exists only if an earlier run created it, so write there
	 *  from start() on. Prefer save_state() for anything that must survive
	 *  a hot swap: it needs no file I/O. */
	const char *(*state_dir)(mp2p_host *h);

	/** Seconds on a monotonic clock (CLOCK_MONOTONIC), read at each call;
	 *  for timeouts and intervals. Never goes back. See wall_now() for
	 *  dates. */
	double (*now)(mp2p_host *h);

	/** Fills buf with len cryptographically random bytes (getrandom(2)).
	 *  Never fails; it can wait only in early boot, before the kernel's
	 *  pool is ready. Use it rather than calling the kernel yourself. */
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
	 *  payload is copied. Returns -1 for each of these, which send_v2()
	 *  tells apart: the connection is gone (the peer is gone); the payload
	 *  is over max_frame (only this frame failed: the connection is fine,
	 *  so do not treat it as a lost peer); the protocol is not yours or
	 *  the connection is owned by another instance; or the unwritten output
	 *  would pass max_output, and then the host closes the connection as a
	 *  peer that does not read, running on_conn(MP2P_CONN_CLOSED) for its
	 *  users before send() returns. */
	int (*send)(mp2p_host *h, mp2p_conn_id conn, const char *protocol,
	            const char *type, const void *payload, size_t length);

	/** Queues one frame to "ADDR:PORT" (numeric; IPv6 as "[ADDR]:PORT"),
	 *  dialling if needed (see enum mp2p_send_flags). Returns 0 and the
	 *  connection's id in *conn_out (may be NULL) if the frame was queued;
	 *  -1 if the address does not parse, a limit refuses it, or queueing
	 *  fails as for send() (send_to_v2() tells these apart). A dial that
	 *  fails later is reported by on_conn(MP2P_CONN_CLOSED) with
	 *  established = 0; it never runs inside send_to(). */
	int (*send_to)(mp2p_host *h, const char *addr, const char *protocol,
	               const char *type, const void *payload, size_t length,
	               unsigned flags, mp2p_conn_id *conn_out);

	/** Closes a connection; with `flush` non-zero after its queued output
	 *  is written (bounded by the write timeout). on_conn(CLOSED) runs for
	 *  the instances that used it, this one included: inside this call if
	 *  nothing was left to write, else from the loop once it is written.
	 *  -1 if the connection is gone or owned by another instance. */
	int (*conn_close)(mp2p_host *h, mp2p_conn_id conn, int flush);

	/** Fills *info (set info->size first). -1 if the connection is gone.
	 *  Any instance may ask about any connection. */
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
	 *  valid until destroy(): the host withdraws the offer after this
	 *  instance's stop() has returned, and at shutdown only after every
	 *  instance's stop() has (ORDER above). Call it from start(): an
	 *  instance that is not running cannot offer. A name is offered by one
	 *  instance at a time. Versions are (major << 16) | minor
	 *  (MP2P_SERVICE_VERSION in <maybep2p/util.h>), with the same rule as
	 *  the ABI. */
	int (*service_offer)(mp2p_host *h, const char *name, uint32_t version,
	                     const void *table, void *provider);

	/** Finds a service with this major and at least this minor. Returns its
	 *  table and sets *provider_out, or NULL if none runs now. A provider
	 *  may be swapped or removed by a reload between two callbacks, so look
	 *  it up each time you use it (a walk of the short list of offered
	 *  services, comparing names) and never keep either pointer past the
	 *  current callback. */
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
	 *  deliver() runs synchronously inside publish(), and only while this
	 *  instance runs (so subscribing in init() is safe during a reload).
	 *  The subscription ends once this instance has stopped: right after
	 *  its stop() returns, or at shutdown once every instance's stop() has
	 *  returned (until then it still hears what others publish). */
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
	 *  instance is destroyed first, the host answers with an error, unless
	 *  it was handed to a successor (reply_handover()). */
	void (*reply_defer)(mp2p_reply *r);
	/** Sends a deferred reply; the handle is dead afterwards. */
	void (*reply_finish)(mp2p_reply *r);

	/* --- ABI 1.1 ----------------------------------------------------- */

	/** send_to() for an address a peer told you about itself: the "my
	 *  address is ..." of a join or a hello, received on connection
	 *  `claimed_on`. A peer could name anyone's address and make this
	 *  host dial it, so the host goes ahead only if the address's IP is
	 *  the IP that `claimed_on` comes from (an IPv4-mapped IPv6 address
	 *  counts as its IPv4 address), unless the operator set
	 *  host.dial.trust_claims. The port may differ: a peer dials out from
	 *  another port than the one it listens on.
	 *
	 *  Call it in the callback that received the claim, while
	 *  `claimed_on` is open; once that connection has closed the host
	 *  cannot tell who made the claim and refuses. An address that passed
	 *  once may be kept and later used with send_to(): it was its owner
	 *  who named it.
	 *
	 *  Returns what send_to() returns. A refusal (-1) is counted in
	 *  `maybep2pctl stats` as dial_refused_claim and logged at most once
	 *  a second; every other dial rule of send_to() applies too.
	 *  Since 1.1. */
	int (*send_claimed)(mp2p_host *h, mp2p_conn_id claimed_on, const char *addr,
	                    const char *protocol, const char *type, const void *payload,
	                    size_t length, unsigned flags, mp2p_conn_id *conn_out);

	/** Seconds since the Unix epoch (CLOCK_REALTIME), read at each call:
	 *  for dates written into frames or state. It may jump when the
	 *  system clock is set; measure intervals with now(). */
	double (*wall_now)(mp2p_host *h);

	/** log() with a va_list, for a plugin's own logging wrapper. `ap` is
	 *  consumed as by vprintf(3). Rate-limited as log() is, by `fmt`: pass
	 *  the wrapper's caller's format through, so each call site keeps its
	 *  own budget. */
	void (*vlog)(mp2p_host *h, int level, const char *fmt, va_list ap);

	/** Fills *out (set out->size first) with the host's limits and
	 *  timeouts as they are now (a reload may change them). Returns
	 *  MP2P_OK, or MP2P_ERR_INVALID if out is NULL or its size too small
	 *  to hold max_frame. */
	int (*limits)(mp2p_host *h, struct mp2p_limits *out);

	/** Bytes queued on the connection and not yet written to the socket
	 *  (0 when all is written), or MP2P_ERR_GONE. */
	int64_t (*conn_pending)(mp2p_host *h, mp2p_conn_id conn);

	/** Sets the connection's low-water mark and asks for on_drain() for
	 *  this instance: it runs, from the loop, each time the unwritten
	 *  output falls to `low_water` bytes or fewer after having been above
	 *  it. One mark per connection: the last call from any instance sets
	 *  it. MP2P_DRAIN_OFF stops this instance's on_drain() calls. Returns
	 *  MP2P_OK, MP2P_ERR_GONE, or MP2P_ERR_REFUSED for a connection owned
	 *  by another instance. */
	int (*conn_set_low_water)(mp2p_host *h, mp2p_conn_id conn, size_t low_water);

	/** send() with flags (MP2P_SEND_NOWAIT, MP2P_SEND_OWNED; 0 behaves as
	 *  send()) and a distinct code for each failure: MP2P_OK,
	 *  MP2P_ERR_GONE, MP2P_ERR_TOO_BIG, MP2P_ERR_WOULD_BLOCK,
	 *  MP2P_ERR_REFUSED, MP2P_ERR_INVALID. Without MP2P_SEND_NOWAIT,
	 *  passing max_output closes the connection (inside this call) and
	 *  returns MP2P_ERR_GONE. */
	int (*send_v2)(mp2p_host *h, mp2p_conn_id conn, const char *protocol,
	               const char *type, const void *payload, size_t length,
	               unsigned flags);

	/** send_to() with send_v2()'s codes. A fresh dial that cannot queue the
	 *  frame is closed again (without on_conn()) and *conn_out untouched. */
	int (*send_to_v2)(mp2p_host *h, const char *addr, const char *protocol,
	                  const char *type, const void *payload, size_t length,
	                  unsigned flags, mp2p_conn_id *conn_out);

	/** Where this instance's state came from: an enum mp2p_origin. Valid
	 *  from restore_state() on (in init() it says MP2P_ORIGIN_FRESH), and
	 *  unchanged for the instance's life. */
	int (*origin)(mp2p_host *h);

	/** Saves this instance's state now: the host calls save_state()
	 *  inside this call and writes the blob to state_dir/NAME.state
	 *  atomically (temporary file, fsync, rename), as at shutdown. Returns
	 *  MP2P_OK, MP2P_ERR_REFUSED if the instance is not running or has no
	 *  save_state, MP2P_ERR_FAILED if save_state() failed or the write did
	 *  (the log says why; the previous file is intact). */
	int (*checkpoint)(mp2p_host *h);

	/** Hands a deferred reply to the instance that replaces this one in a
	 *  hot swap. Call it from save_state() or stop(MP2P_STOP_RELOAD), and
	 *  put the returned token in your state blob; the handle is no longer
	 *  yours. Returns 0 (and keeps the reply yours) if the reply is not
	 *  deferred or not this instance's, or if this is no swap (a shutdown,
	 *  a removal): then finish it yourself. */
	uint64_t (*reply_handover)(mp2p_reply *r);

	/** Takes over a reply handed over by the instance this one replaced:
	 *  call it from restore_state() or start() with the token found in the
	 *  state. The reply is then this instance's, deferred, to be finished
	 *  with reply_finish(). Returns NULL if the token is unknown or already
	 *  taken. A handed-over reply nobody adopts by the time start()
	 *  returns is answered with an error. */
	mp2p_reply *(*reply_adopt)(mp2p_host *h, uint64_t token);

	/* --- (1.1) Peers named by their keys ------------------------------ */

	/** This host's peer id (MP2P_PEER_ID_LEN lowercase hex digits), the
	 *  one other hosts see in conn_info().peer_id. Host-owned, valid until
	 *  destroy(); the same across restarts and reloads while state_dir
	 *  keeps host.key. Given in every mode, though in "plain" no peer can
	 *  check it. */
	const char *(*peer_id)(mp2p_host *h);

	/** The host's enum mp2p_security, as `host.security.mode` says now (a
	 *  reload may change it; ask when you decide, do not cache). */
	int (*security)(mp2p_host *h);

	/** send_to() towards a known key: the frame goes only to the host whose
	 *  peer id is `peer_id` (MP2P_PEER_ID_LEN lowercase hex digits). A
	 *  reused connection must already be verified as that peer, or have
	 *  been dialled expecting it; otherwise a new one is dialled. If the
	 *  host at `addr` presents another key, the handshake fails and the
	 *  connection closes before any frame is delivered either way:
	 *  on_conn(MP2P_CONN_CLOSED) with established = 0 and a reason naming
	 *  both ids. `peer_id` NULL behaves exactly as send_to(). Fails (-1) if
	 *  peer_id is not a peer id, or the host cannot check it (mode "plain",
	 *  or MP2P_SEND_PLAINTEXT in `flags`). */
	int (*send_to_peer)(mp2p_host *h, const char *addr, const char *peer_id,
	                    const char *protocol, const char *type, const void *payload,
	                    size_t length, unsigned flags, mp2p_conn_id *conn_out);

	/** Signs with the host key, so a plugin can put the host's identity
	 *  on data that outlives a connection (a DHT value, a record handed
	 *  on by others) without holding a key of its own.
	 *
	 *  Writes the Ed25519 signature (RFC 8032, the pure variant: the
	 *  message itself is signed, not a digest of it) of `len` bytes at
	 *  `msg` to sig_out[MP2P_SIGNATURE_LEN], and the host's raw public key
	 *  to pub_out[MP2P_PUBLIC_KEY_LEN] when pub_out is not NULL. The peer
	 *  id (peer_id()) is the SHA-256 of that public key, so anyone who
	 *  knows the peer id can check that a public key is this host's. With
	 *  sig_out NULL only the public key is written (msg is not read).
	 *  Both buffers are the caller's; the private key never leaves the
	 *  host.
	 *
	 *  Returns MP2P_OK, or -1 when the host has no key to sign with (a
	 *  harness or simulator may run plugins without one; a plugin then
	 *  uses a key of its own), or when signing failed. Costs about 50 us
	 *  of CPU on the loop thread; it never blocks. Call from any callback.
	 *  Since 1.1 (check with MP2P_API_HAS(api, sign) when declaring an
	 *  older minor). */
	int (*sign)(mp2p_host *h, const void *msg, size_t len,
	            uint8_t sig_out[MP2P_SIGNATURE_LEN], uint8_t pub_out[MP2P_PUBLIC_KEY_LEN]);
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
	/** 0. Reserved for later minors; a 1.1 host refuses to load a plugin
	 *  whose flags are not 0, naming the file and the value. */
	uint32_t flags;

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

	/** Begins work: arm timers, dial bootstrap peers, offer services.
	 *  Runs in config order (ORDER above). Return 0, or -1 with
	 *  *error_text set. */
	int (*start)(void *self, char **error_text);

	/** One frame arrived for one of this plugin's protocols. */
	void (*on_frame)(void *self, mp2p_conn_id conn, const struct mp2p_frame *frame);

	/** A connection opened or closed (see enum mp2p_conn_event_kind). */
	void (*on_conn)(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *event);

	/** Stops work. Runs in reverse config order. Frames may still be sent
	 *  and services (this instance's and others') are still offered;
	 *  timers fire no more after it returns. `reason` is an enum
	 *  mp2p_stop_reason. */
	void (*stop)(void *self, enum mp2p_stop_reason reason);

	/** Frees everything init() and later callbacks allocated. The host
	 *  releases the instance's timers, watches, subscriptions and services
	 *  itself; counters are the host's and outlive the instance. */
	void (*destroy)(void *self);

	/** Serialises everything a successor or a restart needs. Set *data_out
	 *  to a malloc'd buffer (the host frees it), *length_out to its size and
	 *  *format_out to your state format's version. Return 0, or -1 to save
	 *  nothing. Called before stop() at a swap, a removal and shutdown, and
	 *  while running at every checkpoint (checkpoint() and
	 *  host.checkpoint_interval): it must not change the instance. */
	int (*save_state)(void *self, void **data_out, size_t *length_out,
	                  uint32_t *format_out);

	/** Reads what a save_state() wrote, possibly by an older or newer build
	 *  of this plugin, before start(). `data` is borrowed. origin() says
	 *  whether it comes from a running predecessor (MP2P_ORIGIN_SWAP:
	 *  connection ids in it still name the same connections) or from disk
	 *  (MP2P_ORIGIN_RESTART: they name nothing). If the format is one you
	 *  cannot read, return -1 with *error_text set: the host logs it and
	 *  starts you empty. Never trust the bytes: a file on disk can be
	 *  damaged. */
	int (*restore_state)(void *self, const void *data, size_t length,
	                     uint32_t format, char **error_text);

	/** `maybep2pctl NAME ARG...`: argv[0] is the command. Answer through
	 *  the reply_* functions; nothing set means success with no output.
	 *  An unknown command should be answered with reply_usage(). */
	void (*control)(void *self, mp2p_reply *reply, int argc, const char *const *argv);

	/* --- ABI 1.1 ----------------------------------------------------- */

	/** The connection's unwritten output fell to its low-water mark
	 *  (conn_set_low_water()), or drained after send_v2() returned
	 *  MP2P_ERR_WOULD_BLOCK to this instance. `pending` is what is still
	 *  unwritten. Runs from the loop, never inside a host function; send
	 *  more from here. */
	void (*on_drain)(void *self, mp2p_conn_id conn, size_t pending);
};

/** The leading members every ABI-1 descriptor starts with. */
#define MP2P_PLUGIN_HEADER                           \
	.magic = MP2P_PLUGIN_MAGIC,                      \
	.abi_major = MP2P_ABI_MAJOR,                     \
	.abi_minor = MP2P_ABI_MINOR,                     \
	.size = (uint32_t)sizeof(struct mp2p_plugin)

/** Defines the exported descriptor; follow it with `= { ... };` and use
 *  designated initializers, so members you leave out are NULL. */
#ifdef __cplusplus
/* C++ wants the attribute after the name, and C linkage said outright. */
#define MP2P_PLUGIN_DEFINE \
	extern "C" const struct mp2p_plugin mp2p_plugin_v1 MP2P_EXPORT; \
	extern "C" const struct mp2p_plugin mp2p_plugin_v1 MP2P_EXPORT
#else
#define MP2P_PLUGIN_DEFINE \
	MP2P_EXPORT extern const struct mp2p_plugin mp2p_plugin_v1; \
	MP2P_EXPORT const struct mp2p_plugin mp2p_plugin_v1
#endif

/* ---------------------------------------------------------------------
 * The layout is the promise: these fail to compile if it moves.
 * ------------------------------------------------------------------ */

#ifdef __cplusplus
#define MP2P_STATIC_ASSERT_ static_assert
#else
#define MP2P_STATIC_ASSERT_ _Static_assert
#endif
#define MP2P_P_ (sizeof(void *))
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_frame, protocol) == 0, "mp2p_frame layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_frame, type) == MP2P_P_, "mp2p_frame layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_frame, length) == MP2P_P_ + 4, "mp2p_frame layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_frame, payload) == MP2P_P_ + 8, "mp2p_frame layout");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_frame) == 2 * MP2P_P_ + 8, "mp2p_frame size");

MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_event, peer) == 16, "mp2p_conn_event layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_event, reason) == 16 + MP2P_P_, "mp2p_conn_event layout");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_conn_event) == 16 + 2 * MP2P_P_, "mp2p_conn_event size");

MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_info, peer) == 16, "mp2p_conn_info layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_info, bytes_in) == 80, "mp2p_conn_info layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_info, opened) == 96, "mp2p_conn_info layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_info, authenticated) == 104, "mp2p_conn_info layout (1.0 ends here)");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_conn_info, peer_id) == 112, "mp2p_conn_info layout");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_conn_info) == 184, "mp2p_conn_info size (1.1)");

MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, log) == 8, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, config_check_keys) == 8 + 8 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, send) == 8 + 16 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, timer_new) == 8 + 20 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, service_offer) == 8 + 27 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, reply_str) == 8 + 33 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, send_claimed) == 8 + 41 * MP2P_P_, "mp2p_host_api layout (1.0 ends here)");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, wall_now) == 8 + 42 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, send_v2) == 8 + 47 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, peer_id) == 8 + 53 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_host_api, sign) == 8 + 56 * MP2P_P_, "mp2p_host_api layout");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_host_api) == 8 + 57 * MP2P_P_, "mp2p_host_api size (1.1)");

MP2P_STATIC_ASSERT_(offsetof(struct mp2p_plugin, name) == 16, "mp2p_plugin layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_plugin, init) == 16 + 4 * MP2P_P_, "mp2p_plugin layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_plugin, control) == 16 + 12 * MP2P_P_, "mp2p_plugin layout");
MP2P_STATIC_ASSERT_(offsetof(struct mp2p_plugin, on_drain) == 16 + 13 * MP2P_P_, "mp2p_plugin layout (1.0 ends here)");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_plugin) == 16 + 14 * MP2P_P_, "mp2p_plugin size (1.1)");

MP2P_STATIC_ASSERT_(sizeof(enum mp2p_stop_reason) == 4, "enums are passed as 32-bit integers");
MP2P_STATIC_ASSERT_(sizeof(struct mp2p_limits) == 104, "mp2p_limits size");
#undef MP2P_P_
#undef MP2P_STATIC_ASSERT_

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_PLUGIN_H */

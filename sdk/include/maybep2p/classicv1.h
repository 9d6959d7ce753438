/* classicv1.h -- the service and the event the classicv1 plugin offers to
 * other plugins in the same host.
 *
 * SERVICE
 *
 * While it runs (from its start() until its stop()), the classicv1 plugin
 * offers a service named MP2P_CLASSICV1_SERVICE, version
 * MP2P_CLASSICV1_VERSION, whose table is a struct mp2p_classicv1_service:
 *
 *   void *cv1;
 *   const struct mp2p_classicv1_service *svc =
 *       api->service_find(host, MP2P_CLASSICV1_SERVICE,
 *                         MP2P_CLASSICV1_MAJOR, 0, &cv1);
 *   if (svc != NULL)
 *       svc->broadcast(cv1, "hello", 5, NULL);
 *
 * Look the service up in each callback that uses it and keep neither
 * pointer: a reload may replace the provider between two callbacks.
 *
 * EVENT
 *
 * Every message the plugin delivers (a direct MESG or a broadcast, from a
 * host of ours or from an original Python peer) is published on the topic
 * MP2P_CLASSICV1_TOPIC. The data handed to deliver() is one
 * struct mp2p_classicv1_message, `length` = sizeof as the publisher built
 * it; read a field only if `size` covers it. Every pointer in it is
 * borrowed for the duration of deliver(). deliver() may call the service
 * (to answer a message, say); a broadcast started from inside deliver() is
 * sent and kept in the inbox but not published again, so a subscriber that
 * broadcasts what it hears cannot recurse without end.
 *
 * QUIET BROADCASTS (1.1)
 *
 * broadcast_quiet() floods bytes, not text, for plugins that talk to each
 * other over classicv1: a quiet broadcast is kept out of the inbox and the
 * log, never sent to original peers, and published on its own topic,
 * MP2P_CLASSICV1_QUIET_TOPIC, so subscribers of MP2P_CLASSICV1_TOPIC never
 * see it. There, `text` points to the bytes (binary, `text_length` of
 * them; a NUL follows that is not counted) and `kind` is
 * MP2P_CLASSICV1_BROADCAST. At most MP2P_CLASSICV1_QUIET_MAX bytes: on the
 * wire they travel as base64 after the prefix "~q1:" in the text of an
 * ordinary broadcast (which is why broadcast() refuses a text starting
 * with that prefix), about 64 KiB, and a host whose host.limits.max_frame
 * is smaller drops them.
 */
#ifndef MAYBEP2P_CLASSICV1_H
#define MAYBEP2P_CLASSICV1_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MP2P_CLASSICV1_SERVICE "classicv1"
#define MP2P_CLASSICV1_MAJOR 1
#define MP2P_CLASSICV1_MINOR 1
#define MP2P_CLASSICV1_VERSION \
	(((uint32_t)MP2P_CLASSICV1_MAJOR << 16) | MP2P_CLASSICV1_MINOR)

/** The topic delivered messages are published on. */
#define MP2P_CLASSICV1_TOPIC "classicv1.message"

/** (1.1) The topic quiet broadcasts are published on. */
#define MP2P_CLASSICV1_QUIET_TOPIC "classicv1.quiet"

/** (1.1) The most bytes one quiet broadcast carries. */
#define MP2P_CLASSICV1_QUIET_MAX 49152

/** (1.1) The longest "ADDR:PORT" peer_addr() writes, with its NUL. */
#define MP2P_CLASSICV1_ADDR_SIZE 64

/** A broadcast id in text: 16 lower-case hex digits and a NUL. */
#define MP2P_CLASSICV1_ID_SIZE 17

enum mp2p_classicv1_kind {
	/** A MESG sent to this host alone. */
	MP2P_CLASSICV1_DIRECT = 1,
	/** A broadcast (the FOR form of MESG), delivered once per id. The host
	 *  that starts a broadcast delivers it to itself too. */
	MP2P_CLASSICV1_BROADCAST = 2
};

/** What is published on MP2P_CLASSICV1_TOPIC. */
struct mp2p_classicv1_message {
	uint32_t size;           /**< sizeof(struct mp2p_classicv1_message) */
	uint32_t kind;           /**< enum mp2p_classicv1_kind */
	/** Who sent it: the origin's pid for a broadcast; for a direct message
	 *  the sender's pid when its connection identified it (our hosts do),
	 *  else the connection's "ADDR:PORT" (an original peer's MESG carries
	 *  no sender). NUL-terminated. */
	const char *sender;
	/** Broadcast id (16 hex digits), or "" for a direct message. */
	const char *id;
	/** The text, printable ASCII, `text_length` bytes, NUL-terminated. */
	const char *text;
	size_t text_length;
	/** Hops the broadcast had left when it arrived; 0 for direct. */
	uint32_t hops;
	uint32_t reserved;
	/** The host's monotonic clock (api->now()) at delivery. */
	double at;
};

/** The service table. Every function returns 0 on success and -1 on
 *  failure unless it says otherwise. `text` is printable ASCII and need not
 *  be NUL-terminated; it is copied. */
struct mp2p_classicv1_service {
	uint32_t size;           /**< sizeof(struct mp2p_classicv1_service) */

	/** Floods text to the whole network; if id_out is not NULL, writes the
	 *  broadcast's id there (MP2P_CLASSICV1_ID_SIZE bytes). */
	int (*broadcast)(void *provider, const char *text, size_t length,
	                 char *id_out);

	/** Sends text to one peer of the table, named by pid. Fails if the pid
	 *  is not in the table or the text is not printable ASCII. */
	int (*send)(void *provider, const char *pid, const char *text, size_t length);

	/** This host's pid (valid until the provider stops). */
	const char *(*self_pid)(void *provider);

	/** Number of peers in the table now. */
	int (*peer_count)(void *provider);

	/* --- 1.1 --------------------------------------------------------- */

	/** Writes the "ADDR:PORT" ("[ADDR]:PORT" for IPv6) the table holds for
	 *  `pid` into addr_out (`size` bytes; MP2P_CLASSICV1_ADDR_SIZE is
	 *  always enough). -1 if the pid is not in the table or it does not
	 *  fit. The address is the one the peer announced and classicv1
	 *  checked (it reached the peer there, or the peer's own IP named it). */
	int (*peer_addr)(void *provider, const char *pid, char *addr_out, size_t size);

	/** Floods `length` bytes (1 to MP2P_CLASSICV1_QUIET_MAX, any values) to
	 *  the hosts of ours in the network, quietly (QUIET BROADCASTS above).
	 *  This host's own quiet subscribers hear it too. If id_out is not
	 *  NULL, writes the broadcast's id there. -1 if the length is out of
	 *  range or memory runs out. */
	int (*broadcast_quiet)(void *provider, const void *data, size_t length,
	                       char *id_out);
};

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_CLASSICV1_H */

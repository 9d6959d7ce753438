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
#define MP2P_CLASSICV1_MINOR 0
#define MP2P_CLASSICV1_VERSION \
	(((uint32_t)MP2P_CLASSICV1_MAJOR << 16) | MP2P_CLASSICV1_MINOR)

/** The topic delivered messages are published on. */
#define MP2P_CLASSICV1_TOPIC "classicv1.message"

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
};

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_CLASSICV1_H */

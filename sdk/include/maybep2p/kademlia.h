/* kademlia.h -- the service the kademlia plugin offers other plugins:
 * asynchronous put, get and find-node over the DHT.
 *
 * FINDING IT
 *
 *   void *prov;
 *   const struct mp2p_kademlia_service *kad =
 *       api->service_find(host, MP2P_KADEMLIA_SERVICE,
 *                         MP2P_KADEMLIA_MAJOR, MP2P_KADEMLIA_MINOR, &prov);
 *   if (kad != NULL)
 *       kad->get(prov, host, "color", 5, got_color, me);
 *
 * Look the service up each time you use it and keep neither pointer past
 * the current callback: the provider may be hot-swapped or removed by a
 * reload between two callbacks (plugin.h, service_find).
 *
 * THE CALLBACK CONTRACT
 *
 * - Every request that returns 0 gets exactly one completion callback,
 *   always later, on the loop thread, never from inside the call that
 *   started it. A request that returns -1 gets none.
 * - The provider stores api->instance_id(caller) when the request starts
 *   and calls back only if api->instance_alive() says that instance still
 *   runs: a caller that was unloaded or swapped meanwhile is never called
 *   (its successor is not called either: it did not ask).
 * - If the provider itself stops (shutdown, reload, removal) with requests
 *   outstanding, each live caller is called back with MP2P_KAD_CANCELLED
 *   before the provider's stop() returns.
 * - Everything handed to a callback is borrowed for its duration.
 * - `arg` is the caller's and is passed back untouched.
 *
 * VALUES ARE SIGNED (protocol version 2, the plugin's PROTOCOL.md)
 *
 * put() stores a mutable value signed with this host's writer key (the
 * host key when the host has one, else an Ed25519 key the provider keeps
 * in its state directory, kad.key), under the name `key` (1 to 255
 * bytes): the DHT locates it by the SHA-256 of the writer id (the SHA-256
 * of the writer's public key: the host's peer id when the host key signs)
 * and the name, so no other host can overwrite it, and a newer put of the
 * name replaces the older one everywhere. get() with a plain name reads
 * this host's own value; with "WRITER/NAME", WRITER being 64 hex digits of
 * another host's writer id (its peer id, as `maybep2pctl status` prints
 * it; `maybep2pctl NAME routes` shows it as `writer`), it reads that
 * host's.
 * What a get returns is always a value its writer signed. Values are at
 * most the provider's `max_value_size` setting.
 */
#ifndef MAYBEP2P_KADEMLIA_H
#define MAYBEP2P_KADEMLIA_H

#include <maybep2p/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The name and version to pass to service_find(). */
#define MP2P_KADEMLIA_SERVICE "kademlia"
#define MP2P_KADEMLIA_MAJOR 1
#define MP2P_KADEMLIA_MINOR 0

/** Bytes in a node id. */
#define MP2P_KAD_ID_LEN 32
/** Longest user key accepted. */
#define MP2P_KAD_KEY_MAX 1024

/** Completion status. */
enum mp2p_kad_status {
	MP2P_KAD_OK = 0,          /**< done (get: value found) */
	MP2P_KAD_NOT_FOUND = 1,   /**< get: no node had the key */
	MP2P_KAD_FAILED = 2,      /**< no node answered, or none stored it */
	MP2P_KAD_CANCELLED = 3    /**< the provider stopped first */
};

/** A node as the DHT knows it. */
struct mp2p_kad_node {
	uint8_t id[MP2P_KAD_ID_LEN];
	char addr[64];            /**< "ADDR:PORT" it advertises, NUL-terminated */
};

/** put() finished: `stored` nodes accepted the value. */
typedef void (*mp2p_kad_put_done)(void *arg, int status, int stored);
/** get() finished: on MP2P_KAD_OK, `value` holds `length` bytes. */
typedef void (*mp2p_kad_get_done)(void *arg, int status, const void *value,
                                  size_t length);
/** find_node() finished: the up to k closest nodes that answered, nearest
 *  first. */
typedef void (*mp2p_kad_nodes_done)(void *arg, int status,
                                    const struct mp2p_kad_node *nodes, int count);

/** The table service_find() returns. Members are only ever appended. */
struct mp2p_kademlia_service {
	uint32_t size;            /**< sizeof(struct mp2p_kademlia_service) in the provider */

	/** Stores value under the name `key` (1 to 255 bytes), signed with
	 *  this host's writer key, on the k nodes closest to its DHT key (and
	 *  locally). `ttl` is the lifetime in seconds, 0 for the longest
	 *  the provider allows; it is capped by the provider's value_ttl_max.
	 *  Returns 0 if started, -1 if refused at once (key or value size,
	 *  too many requests outstanding). */
	int (*put)(void *provider, mp2p_host *caller, const void *key, size_t key_len,
	           const void *value, size_t value_len, uint32_t ttl,
	           mp2p_kad_put_done done, void *arg);

	/** Finds the value stored under key: this host's own name, or
	 *  "WRITER/NAME" for another writer's. Returns 0 if started, -1 if
	 *  refused at once. */
	int (*get)(void *provider, mp2p_host *caller, const void *key, size_t key_len,
	           mp2p_kad_get_done done, void *arg);

	/** Finds the k nodes closest to id. Returns 0 if started, -1 if
	 *  refused at once. */
	int (*find_node)(void *provider, mp2p_host *caller,
	                 const uint8_t id[MP2P_KAD_ID_LEN],
	                 mp2p_kad_nodes_done done, void *arg);
};

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_KADEMLIA_H */

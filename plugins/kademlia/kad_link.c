/* kad_link.c -- connections known to lead to a node, by its id.
 *
 * Over TLS a node's id is its host's peer id, proved by the handshake, so
 * a connection on which a node's messages arrived (whoever dialled it) is
 * a connection to that node: our requests to it may go there too, as
 * PROTOCOL.md section 1 allows, instead of dialling its address for a
 * connection of our own. Two nodes that talk both ways then share one
 * connection and one handshake, which on a busy machine costs more than
 * the requests themselves. In mode "plain" nothing proves an id, and
 * nothing is noted here. */
#include "kad_glue.h"

#include <stdlib.h>
#include <string.h>

struct kad_link {
	struct kad_link *next;
	uint8_t id[KAD_ID_LEN];
	mp2p_conn_id conn;
};

/* Ids are hashes: their first byte spreads them evenly. */
static struct kad_link **bucket(struct kad *kd, const uint8_t id[KAD_ID_LEN])
{
	return &kd->links[id[0] % KAD_LINK_BUCKETS];
}

void kad_link_note(struct kad *kd, const uint8_t id[KAD_ID_LEN], mp2p_conn_id conn)
{
	struct kad_link **b = bucket(kd, id), *l;

	for (l = *b; l; l = l->next) {
		if (memcmp(l->id, id, KAD_ID_LEN) == 0) {
			l->conn = conn;          /* the newest one it spoke on */
			return;
		}
	}
	/* One entry per id that has a live connection to us: bounded by the
	 * host's connection limits, and by this cap whatever they are. */
	if (kd->nlinks >= KAD_MAX_LINKS || (l = malloc(sizeof(*l))) == NULL)
		return;
	memcpy(l->id, id, KAD_ID_LEN);
	l->conn = conn;
	l->next = *b;
	*b = l;
	kd->nlinks++;
}

mp2p_conn_id kad_link_find(struct kad *kd, const uint8_t id[KAD_ID_LEN])
{
	for (struct kad_link *l = *bucket(kd, id); l; l = l->next)
		if (memcmp(l->id, id, KAD_ID_LEN) == 0)
			return l->conn;
	return 0;
}

void kad_link_drop_conn(struct kad *kd, mp2p_conn_id conn)
{
	for (int i = 0; i < KAD_LINK_BUCKETS; i++) {
		struct kad_link **pp = &kd->links[i];
		while (*pp) {
			struct kad_link *l = *pp;
			if (l->conn == conn) {
				*pp = l->next;
				free(l);
				kd->nlinks--;
			} else {
				pp = &l->next;
			}
		}
	}
}

void kad_link_free_all(struct kad *kd)
{
	for (int i = 0; i < KAD_LINK_BUCKETS; i++) {
		while (kd->links[i]) {
			struct kad_link *l = kd->links[i];
			kd->links[i] = l->next;
			free(l);
		}
	}
	kd->nlinks = 0;
}

/* kad_conns.c -- the connections this node dialled, and closing the idle
 * ones that kad_keep.c does not keep.
 *
 * A lookup asks each node on its path once or twice. Without a policy
 * every node ever asked keeps a connection until the host's idle timeout,
 * and the number a host holds grows with the network: in a simulated
 * network of 1,000 nodes each held ~330, of 10,000 ~490. Closing every
 * connection idle for `connection_idle` seconds bounds that, but also
 * closes the connections to the routing table's nodes, where every lookup
 * starts: the next get then pays a TLS handshake per request. So up to
 * `connection_keep` idle connections to live table entries stay open
 * (kad_keep.c says which), and the rest close after `connection_idle`
 * (default 30; 0 leaves all of it to the host), flushing what is queued.
 * Answers to us ride on the connections we dialled, and requests to us on
 * connections the asker dialled, which the asker closes the same way. */
#include "kad_glue.h"

#include <stdlib.h>

/* The connection carried a request now. */
void kad_conn_used(struct kad *kd, mp2p_conn_id conn, double now)
{
	struct kad_keep *d;

	if (conn == 0 || kd->conf.connection_idle <= 0)
		return;
	/* The newest are at the end and are the likeliest to be used again. */
	for (int i = kd->ndialled - 1; i >= 0; i--) {
		if (kd->dialled[i].conn == conn) {
			kd->dialled[i].last = now;
			return;
		}
	}
	if (kd->ndialled == kd->capdialled) {
		int cap = kd->capdialled ? 2 * kd->capdialled : 32;
		if ((d = realloc(kd->dialled, (size_t)cap * sizeof(*d))) == NULL)
			return;          /* the host's idle timeout will close it */
		kd->dialled = d;
		kd->capdialled = cap;
	}
	kd->dialled[kd->ndialled].conn = conn;
	kd->dialled[kd->ndialled].last = now;
	kd->ndialled++;
}

/* The connection closed, whoever closed it. */
void kad_conn_gone(struct kad *kd, mp2p_conn_id conn)
{
	for (int i = 0; i < kd->ndialled; i++) {
		if (kd->dialled[i].conn == conn) {
			kd->dialled[i] = kd->dialled[--kd->ndialled];
			return;
		}
	}
}

/* Closes the dialled connections idle for connection_idle seconds that
 * are not kept (kad_keep.c), never one a request may still be answered
 * on: the wait is at least two request timeouts. Run from maintenance. */
void kad_conns_sweep(struct kad *kd, double now)
{
	double idle = kd->conf.connection_idle;
	mp2p_conn_id stale[64];
	int n;

	if (idle <= 0)
		return;
	if (idle < 2 * kd->conf.request_timeout)
		idle = 2 * kd->conf.request_timeout;
	do {
		/* Taken out of the list first: closing one calls back into
		 * kad_conn_gone(), and may send requests that add to it. Short
		 * of memory to choose, nothing is kept, as with keep 0. */
		n = kad_keep_pick(kd->dialled, &kd->ndialled, &kd->table, now, idle,
		                  (int)kd->conf.connection_keep, stale, 64);
		if (n < 0)
			n = kad_keep_pick(kd->dialled, &kd->ndialled, &kd->table, now, idle,
			                  0, stale, 64);
		for (int i = 0; i < n; i++)
			kd->api->conn_close(kd->host, stale[i], 1);
	} while (n == 64);
}

void kad_conns_free(struct kad *kd)
{
	free(kd->dialled);
	kd->dialled = NULL;
	kd->ndialled = kd->capdialled = 0;
}

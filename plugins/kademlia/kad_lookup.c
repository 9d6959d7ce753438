/* kad_lookup.c -- the iterative node and value lookup, as a state machine.
 *
 * It knows nothing of frames or connections: it asks io->query() to send,
 * and is told of answers, failures and the passing of time. The unit tests
 * drive it with a fake transport; the plugin drives it with the host.
 *
 * Candidates are kept sorted by distance to the target. At most alpha
 * queries are in flight, always to the closest candidates not yet asked.
 * A query that outlives the soft timeout (a multiple of recent round
 * trips, kad_rtt_timeout) turns LATE: it stops holding a slot (so one
 * more candidate is asked: alpha grows by one for each late query), but
 * its answer is still welcome until the hard timeout. A node
 * lookup whose answer names nobody closer than the closest candidate
 * known has converged, as the paper says: it then asks all of the k
 * closest not yet asked at once, instead of alpha at a time. The lookup
 * ends when the k closest candidates that have not failed have all
 * answered, or, for a value, once the first value has arrived: no query is
 * sent after it, and the answers already in flight are awaited for as long
 * again as the first value took (they were sent with it), so that the
 * newest version seen wins and holders of older ones are marked stale, to
 * be sent the newer, without a silent node holding the answer back. An
 * immutable value cannot be bettered: the first one ends the lookup. */
#include "kad.h"

#include <stdlib.h>
#include <string.h>

void kad_rtt_init(struct kad_rtt *r, double floor, double ceiling)
{
	memset(r, 0, sizeof(*r));
	r->floor = floor;
	r->ceiling = ceiling < floor ? floor : ceiling;
}

/* The 90th percentile of the ring's m samples: the ceil(0.9 m)-th
 * smallest. The ring is small, so a sorted copy costs less than keeping
 * an order up to date. */
static double ring_p90(const struct kad_rtt *r)
{
	double s[KAD_RTT_RING];
	int m = r->samples < KAD_RTT_RING ? r->samples : KAD_RTT_RING;
	int rank = (9 * m + 9) / 10;         /* ceil(0.9 m) */

	for (int i = 0; i < m; i++) {
		int j = i;
		while (j > 0 && s[j - 1] > r->ring[i]) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = r->ring[i];
	}
	return s[rank - 1];
}

void kad_rtt_sample(struct kad_rtt *r, double rtt)
{
	if (!(rtt >= 0))
		return;
	r->ring[r->next] = rtt;
	r->next = (r->next + 1) % KAD_RTT_RING;
	r->samples++;
	r->p90 = ring_p90(r);
}

double kad_backoff_next(double wait)
{
	return wait * 2 > KAD_BOOT_MAX ? KAD_BOOT_MAX : wait * 2;
}

double kad_rtt_timeout(const struct kad_rtt *r)
{
	double t = r->samples == 0 ? KAD_RTT_SEED : KAD_RTT_MULT * r->p90;

	return t < r->floor ? r->floor : t > r->ceiling ? r->ceiling : t;
}

void kad_lookup_init(struct kad_lookup *lk, const uint8_t self[KAD_ID_LEN],
                     const uint8_t target[KAD_ID_LEN], int kind, int k, int alpha,
                     const struct kad_lookup_io *io, void *arg, struct kad_rtt *rtt,
                     double hard_timeout, double now)
{
	memset(lk, 0, sizeof(*lk));
	memcpy(lk->self, self, KAD_ID_LEN);
	memcpy(lk->target, target, KAD_ID_LEN);
	lk->kind = kind;
	lk->k = k < 1 ? 1 : k > KAD_MAX_K ? KAD_MAX_K : k;
	lk->alpha = alpha < 1 ? 1 : alpha;
	lk->io = io;
	lk->arg = arg;
	lk->rtt = rtt;
	lk->hard_timeout = hard_timeout;
	lk->cache_at = -1;
	lk->started = now;
}

/* Adds a candidate in distance order. Ourselves and nodes already listed
 * are skipped (a node that names itself gains nothing), and the list never
 * grows past KAD_LOOKUP_CANDS: the farthest idle candidate makes room, or
 * the newcomer is dropped if it is the farthest. */
static void add_cand(struct kad_lookup *lk, const struct kad_node *n, int depth)
{
	int pos;

	if (memcmp(n->id, lk->self, KAD_ID_LEN) == 0)
		return;
	for (int i = 0; i < lk->n; i++) {
		if (memcmp(lk->c[i].n.id, n->id, KAD_ID_LEN) == 0) {
			if (lk->c[i].state == KAD_C_NEW && depth < lk->c[i].depth)
				lk->c[i].depth = depth;
			return;
		}
	}
	for (pos = 0; pos < lk->n; pos++)
		if (kad_closer(lk->target, n->id, lk->c[pos].n.id) < 0)
			break;
	if (lk->n == KAD_LOOKUP_CANDS) {
		int last = lk->n - 1;
		if (pos > last)
			return;
		if (lk->c[last].state == KAD_C_WAIT || lk->c[last].state == KAD_C_LATE)
			return;
		lk->n--;
	}
	memmove(&lk->c[pos + 1], &lk->c[pos], (size_t)(lk->n - pos) * sizeof(lk->c[0]));
	memset(&lk->c[pos], 0, sizeof(lk->c[0]));
	lk->c[pos].n = *n;
	lk->c[pos].state = KAD_C_NEW;
	lk->c[pos].depth = depth;
	lk->n++;
}

void kad_lookup_seed(struct kad_lookup *lk, const struct kad_node *nodes, int n)
{
	for (int i = 0; i < n; i++)
		add_cand(lk, &nodes[i], 1);
}

static void finish(struct kad_lookup *lk, double now)
{
	lk->finished = 1;
	lk->ended = now;
	for (int i = 0; i < lk->n; i++) {
		if (lk->c[i].state != KAD_C_DONE)
			continue;
		if (!lk->found && lk->hops == 0)
			lk->hops = lk->c[i].depth;
		if (lk->kind == KAD_LK_VALUE && lk->found && !lk->c[i].had_value &&
		    lk->cache_at < 0)
			lk->cache_at = i;
	}
	lk->io->done(lk->arg, lk);
}

void kad_lookup_step(struct kad_lookup *lk, double now)
{
	int window = 0, waiting = 0;

	if (lk->finished)
		return;
	if (lk->found) {
		if (lk->inflight == 0)
			finish(lk, now);
		return;
	}
	/* The window is the k closest candidates that neither failed nor went
	 * LATE. A LATE one gave its slot away, so the scan goes past it and
	 * farther candidates get asked meanwhile; but it still holds the end
	 * of the lookup while it is closer than the window's edge: it is
	 * probably only slow, and may be the very node sought. */
	for (int i = 0; i < lk->n && window < lk->k; i++) {
		struct kad_cand *c = &lk->c[i];
		switch (c->state) {
		case KAD_C_DONE:
			window++;
			break;
		case KAD_C_WAIT:
			window++;
			waiting = 1;
			break;
		case KAD_C_LATE:
			waiting = 1;
			break;
		case KAD_C_NEW:
			if (lk->inflight >= (lk->widened ? lk->k : lk->alpha)) {
				window++;
				waiting = 1;
				break;
			}
			c->sent = now;
			c->deadline = now + kad_rtt_timeout(lk->rtt);
			lk->queries++;
			if (lk->io->query(lk->arg, lk, &c->n, &c->reqid) < 0) {
				c->state = KAD_C_FAILED;
				lk->failures++;
			} else {
				c->state = KAD_C_WAIT;
				lk->inflight++;
				window++;
				waiting = 1;
			}
			break;
		default:       /* FAILED */
			break;
		}
	}
	if (!waiting)
		finish(lk, now);
}

static struct kad_cand *pending(struct kad_lookup *lk, uint64_t reqid)
{
	for (int i = 0; i < lk->n; i++)
		if ((lk->c[i].state == KAD_C_WAIT || lk->c[i].state == KAD_C_LATE) &&
		    lk->c[i].reqid == reqid)
			return &lk->c[i];
	return NULL;
}

/* Closes a candidate's query; returns 0 if `from` is who we asked. */
static int settle(struct kad_lookup *lk, struct kad_cand *c,
                  const uint8_t from[KAD_ID_LEN], double now)
{
	if (c->state == KAD_C_WAIT)
		lk->inflight--;
	if (memcmp(c->n.id, from, KAD_ID_LEN) != 0) {
		c->state = KAD_C_FAILED;
		lk->dropped++;
		return -1;
	}
	kad_rtt_sample(lk->rtt, now - c->sent);
	c->state = KAD_C_DONE;
	lk->answers++;
	return 0;
}

int kad_lookup_rank(const struct kad_lookup *lk, const struct kad_cand *c)
{
	int rank = 0;

	for (const struct kad_cand *x = lk->c; x < c; x++)
		if (x->state != KAD_C_FAILED)
			rank++;
	return rank;
}

int kad_lookup_on_nodes(struct kad_lookup *lk, uint64_t reqid,
                        const uint8_t from[KAD_ID_LEN], const struct kad_node *nodes,
                        int n, double now)
{
	struct kad_cand *c;
	int depth;

	if (lk->finished || (c = pending(lk, reqid)) == NULL)
		return -1;
	depth = c->depth;
	if (settle(lk, c, from, now) == 0) {
		struct kad_node closest = lk->c[0].n;
		/* No honest node sends more than k; the rest are ignored. */
		for (int i = 0; i < n && i < lk->k; i++)
			add_cand(lk, &nodes[i], depth + 1);
		/* The closest candidate has answered and named nobody closer
		 * than itself: the candidates are as near as they get, so the
		 * rest of the k closest are asked at once rather than alpha per
		 * round trip. (An answer from a farther node proves nothing:
		 * it could not name anyone closer than a candidate nearer the
		 * target than itself.) A value lookup stays at alpha: any of
		 * the k closest holds the value, and a few more round trips
		 * cost less than k requests per get. */
		if (lk->kind == KAD_LK_NODE && lk->c[0].state == KAD_C_DONE &&
		    memcmp(lk->c[0].n.id, closest.id, KAD_ID_LEN) == 0)
			lk->widened = 1;
		/* The additions moved the array: find the answerer again. */
		for (c = lk->c; c < lk->c + lk->n; c++)
			if (c->state == KAD_C_DONE && c->reqid == reqid)
				break;
		if (lk->io->answered != NULL && c < lk->c + lk->n && kad_lookup_rank(lk, c) < lk->k)
			lk->io->answered(lk->arg, lk, c);
		/* A put needs no more than this: the k closest it knows now
		 * are sent the value itself, and each STOK proves its node. */
		if (lk->widened && lk->end_at_convergence) {
			finish(lk, now);
			return 0;
		}
	}
	kad_lookup_step(lk, now);
	return 0;
}

/* Makes this answer's version the lookup's value. */
static int keep_value(struct kad_lookup *lk, const struct kad_cand *c, uint64_t seq,
                      uint32_t ttl, const uint8_t *value, uint32_t vlen)
{
	uint8_t *copy = malloc(vlen ? vlen : 1);

	if (copy == NULL)
		return -1;
	memcpy(copy, value, vlen);
	free(lk->value);
	lk->value = copy;
	lk->vlen = vlen;
	lk->seq = seq;
	lk->ttl = ttl;
	lk->found = 1;
	lk->hops = c->depth;
	return 0;
}

int kad_lookup_on_value(struct kad_lookup *lk, uint64_t reqid,
                        const uint8_t from[KAD_ID_LEN], uint64_t seq, uint32_t ttl,
                        const uint8_t *value, uint32_t vlen, double now)
{
	struct kad_cand *c;

	if (lk->finished || (c = pending(lk, reqid)) == NULL)
		return -1;
	if (settle(lk, c, from, now) < 0 || lk->kind != KAD_LK_VALUE) {
		if (c->state == KAD_C_DONE) {
			/* A value to a FIND_NODE is a wrong answer. */
			c->state = KAD_C_FAILED;
			lk->answers--;
			lk->dropped++;
		}
		kad_lookup_step(lk, now);
		return 0;
	}
	c->had_value = 1;
	if (!lk->found) {
		/* The queries still out were sent about when this one was:
		 * each gets as long again as this answer took, then stops
		 * holding the answer (it is still taken if it comes in time). */
		double grace = now - c->sent;
		if (grace < KAD_VALUE_GRACE_MIN)
			grace = KAD_VALUE_GRACE_MIN;
		for (int i = 0; i < lk->n; i++)
			if (lk->c[i].state == KAD_C_WAIT && lk->c[i].deadline > now + grace)
				lk->c[i].deadline = now + grace;
	}
	if (lk->found) {
		int c_newer = kad_value_newer(seq, value, vlen, lk->seq, lk->value, lk->vlen);
		if (c_newer < 0) {
			c->stale = 1;
		} else if (c_newer > 0) {
			/* Everyone who gave the version we had is behind. */
			for (int i = 0; i < lk->n; i++)
				if (lk->c[i].had_value && &lk->c[i] != c)
					lk->c[i].stale = 1;
			if (keep_value(lk, c, seq, ttl, value, vlen) < 0)
				c->stale = 1;
		}
	} else if (keep_value(lk, c, seq, ttl, value, vlen) < 0) {
		c->had_value = 0;
	}
	/* An immutable record (its key the hash of its value) has one
	 * possible version: nothing still in flight can better it, so the
	 * get ends now, without the grace. */
	if (lk->found && lk->vlen > 0 && lk->value[0] == KAD_REC_IMMUTABLE) {
		finish(lk, now);
		return 0;
	}
	kad_lookup_step(lk, now);
	return 0;
}

int kad_lookup_on_fail(struct kad_lookup *lk, uint64_t reqid, double now)
{
	struct kad_cand *c;

	if (lk->finished || (c = pending(lk, reqid)) == NULL)
		return -1;
	if (c->state == KAD_C_WAIT)
		lk->inflight--;
	c->state = KAD_C_FAILED;
	lk->failures++;
	kad_lookup_step(lk, now);
	return 0;
}

void kad_lookup_tick(struct kad_lookup *lk, double now)
{
	if (lk->finished)
		return;
	for (int i = 0; i < lk->n; i++) {
		struct kad_cand *c = &lk->c[i];
		if (c->state == KAD_C_WAIT && now >= c->deadline) {
			c->state = KAD_C_LATE;
			lk->inflight--;
			lk->timeouts++;
		}
		if (c->state == KAD_C_LATE && now >= c->sent + lk->hard_timeout) {
			c->state = KAD_C_FAILED;
			lk->failures++;
		}
	}
	kad_lookup_step(lk, now);
}

double kad_lookup_next_deadline(const struct kad_lookup *lk)
{
	double next = -1;

	for (int i = 0; i < lk->n; i++) {
		double d;
		if (lk->c[i].state == KAD_C_WAIT)
			d = lk->c[i].deadline;
		else if (lk->c[i].state == KAD_C_LATE)
			d = lk->c[i].sent + lk->hard_timeout;
		else
			continue;
		if (next < 0 || d < next)
			next = d;
	}
	return next;
}

int kad_lookup_result(const struct kad_lookup *lk, struct kad_node *out, int max)
{
	int n = 0;

	for (int i = 0; i < lk->n && n < max && n < lk->k; i++)
		if (lk->c[i].state == KAD_C_DONE)
			out[n++] = lk->c[i].n;
	return n;
}

void kad_lookup_release(struct kad_lookup *lk)
{
	free(lk->value);
	lk->value = NULL;
}

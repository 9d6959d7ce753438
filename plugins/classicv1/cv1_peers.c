/* cv1_peers.c -- the bounded peer table and its list of recent removals.
 *
 * The table has a fixed number of slots chosen at start. When it is full a
 * newcomer is refused: live entries are never pushed out, so gossip from a
 * busy or hostile peer cannot empty the table. One IP holds at most
 * CV1_PER_IP entries, so one machine cannot fill it either. Entries leave only through
 * QUIT or the liveness checks. A removed pid is remembered for a while so
 * that a LIST from a peer that has not noticed yet does not bring it back;
 * the peer itself can always come back by joining.
 */
#include "cv1.h"

#include <stdlib.h>
#include <string.h>

int cv1_peers_init(struct cv1_peers *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	if (max == 0)
		return -1;
	t->slots = calloc(max, sizeof(*t->slots));
	if (t->slots == NULL)
		return -1;
	t->max = max;
	return 0;
}

void cv1_peers_free(struct cv1_peers *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	t->slots = NULL;
	t->max = t->count = 0;
}

/* FNV-1a: every frame of a flood looks its sender up, and a pid's hash
 * rules out almost every slot without a string comparison. */
static uint32_t pid_hash(const char *pid)
{
	uint32_t h = 2166136261u;

	for (; *pid != '\0'; pid++)
		h = (h ^ (uint8_t)*pid) * 16777619u;
	return h;
}

struct cv1_peer *cv1_peers_find(struct cv1_peers *t, const char *pid)
{
	uint32_t h = pid_hash(pid);

	for (size_t i = 0; i < t->max; i++)
		if (t->slots[i].used && t->slots[i].pid_hash == h && strcmp(t->slots[i].pid, pid) == 0)
			return &t->slots[i];
	return NULL;
}

struct cv1_peer *cv1_peers_find_hostport(struct cv1_peers *t, const char *hostport)
{
	for (size_t i = 0; i < t->max; i++)
		if (t->slots[i].used && strcmp(t->slots[i].hostport, hostport) == 0)
			return &t->slots[i];
	return NULL;
}

static struct cv1_tomb *find_tomb(struct cv1_peers *t, const char *pid, double now)
{
	for (size_t i = 0; i < CV1_TOMBS; i++)
		if (t->tombs[i].until > now && strcmp(t->tombs[i].pid, pid) == 0)
			return &t->tombs[i];
	return NULL;
}

int cv1_peers_tombed(struct cv1_peers *t, const char *pid, double now)
{
	return find_tomb(t, pid, now) != NULL;
}

static void set_address(struct cv1_peer *p, const struct cv1_peer_addr *pa)
{
	strcpy(p->addr, pa->addr);
	p->port = pa->port;
	cv1_hostport(p->hostport, sizeof(p->hostport), p->addr, p->port);
}

/* What cv1_peers_add() would answer, changing nothing: p_out gets the
 * known entry for CV1_ADD_KNOWN, tomb_out the tombstone a self-report
 * lifts. */
static int admits(struct cv1_peers *t, const struct cv1_peer_addr *pa, double now,
                  int from_itself, struct cv1_peer **p_out, struct cv1_tomb **tomb_out)
{
	struct cv1_tomb *tomb;
	size_t same = 0;

	*p_out = NULL;
	*tomb_out = NULL;
	if (!cv1_valid_pid(pa->pid, strlen(pa->pid)) ||
	    !cv1_valid_addr(pa->addr, strlen(pa->addr)) || pa->port == 0)
		return CV1_ADD_INVALID;
	if ((*p_out = cv1_peers_find(t, pa->pid)) != NULL)
		return CV1_ADD_KNOWN;
	if ((tomb = find_tomb(t, pa->pid, now)) != NULL) {
		if (!from_itself)
			return CV1_ADD_TOMBED;
		*tomb_out = tomb;
	}
	if (t->count == t->max)
		return CV1_ADD_FULL;
	for (size_t i = 0; i < t->max; i++)
		same += t->slots[i].used && cv1_same_ip(t->slots[i].addr, pa->addr);
	return same >= CV1_PER_IP ? CV1_ADD_CROWDED : CV1_ADD_NEW;
}

int cv1_peers_admits(struct cv1_peers *t, const struct cv1_peer_addr *pa, double now,
                     int from_itself)
{
	struct cv1_peer *p;
	struct cv1_tomb *tomb;

	return admits(t, pa, now, from_itself, &p, &tomb);
}

/* Adds or refreshes a peer. `from_itself` says the peer told us about
 * itself (JOIN, CAPA): that may move its address and lifts a tombstone.
 * What a third party says (LIST) never changes a known entry. */
int cv1_peers_add(struct cv1_peers *t, const struct cv1_peer_addr *pa, double now,
                  int from_itself, struct cv1_peer **peer_out)
{
	struct cv1_peer *p;
	struct cv1_tomb *tomb;
	int rc = admits(t, pa, now, from_itself, &p, &tomb);

	if (peer_out)
		*peer_out = NULL;
	if (rc == CV1_ADD_KNOWN) {
		if (from_itself && (p->port != pa->port || strcmp(p->addr, pa->addr) != 0)) {
			set_address(p, pa);
			p->reuse_conn = 0;
		}
		if (peer_out)
			*peer_out = p;
		return CV1_ADD_KNOWN;
	}
	/* The peer spoke for itself: its tombstone goes even when the table
	 * has no room for it now. */
	if (tomb != NULL)
		tomb->until = 0;
	if (rc != CV1_ADD_NEW)
		return rc;
	for (size_t i = 0; i < t->max; i++) {
		if (t->slots[i].used)
			continue;
		p = &t->slots[i];
		memset(p, 0, sizeof(*p));
		p->used = 1;
		strcpy(p->pid, pa->pid);
		p->pid_hash = pid_hash(p->pid);
		set_address(p, pa);
		p->kind = CV1_KIND_UNKNOWN;
		p->added = now;
		/* A newcomer gets a full timeout before it counts as silent. */
		p->last_heard = now;
		t->count++;
		if (peer_out)
			*peer_out = p;
		return CV1_ADD_NEW;
	}
	return CV1_ADD_FULL;
}

void cv1_peers_remove(struct cv1_peers *t, struct cv1_peer *p, double now,
                      double tomb_seconds)
{
	if (p == NULL || !p->used)
		return;
	if (tomb_seconds > 0) {
		struct cv1_tomb *tomb = find_tomb(t, p->pid, now);
		if (tomb == NULL) {
			tomb = &t->tombs[t->tomb_next];
			t->tomb_next = (t->tomb_next + 1) % CV1_TOMBS;
			strcpy(tomb->pid, p->pid);
		}
		tomb->until = now + tomb_seconds;
	}
	memset(p, 0, sizeof(*p));
	t->count--;
}

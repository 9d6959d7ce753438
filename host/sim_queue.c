/* sim_queue.c -- the simulator's one event queue: an intrusive binary
 * min-heap ordered by (time, push sequence).
 *
 * The event lives inside whatever owns it (a timer, a frame in flight, a
 * churn step) and records its own heap slot, so a push, a move and a removal
 * cost O(log n) and no allocation; only the heap array grows. The sequence
 * number makes ties run in the order they were pushed, which keeps a run
 * deterministic whatever the heap's shape.
 *
 * The keys live in the heap array itself, beside the pointer to their
 * event: sifting compares neighbours in one array instead of following a
 * pointer into a different allocation per comparison, which in a run of
 * thousands of nodes was a cache miss nearly every time. An event is
 * touched only to record its new slot when it moves. */
#include "config.h"
#include "sim.h"

#include <stdlib.h>

void sim_event_init(struct sim_event *e, void (*fire)(struct sim_event *e))
{
	e->slot = SIM_NOT_QUEUED;
	e->fire = fire;
}

void sim_queue_init(struct sim_queue *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->next_seq = 0;
	q->now = 0;
}

void sim_queue_free(struct sim_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		q->heap[i].e->slot = SIM_NOT_QUEUED;
	free(q->heap);
	sim_queue_init(q);
}

static int before(const struct sim_slot *a, const struct sim_slot *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return a->seq < b->seq;
}

static void place(struct sim_queue *q, const struct sim_slot *s, size_t i)
{
	q->heap[i] = *s;
	s->e->slot = i;
}

/* Moves the entry `s` (whose slot i is free to overwrite) up from i to
 * where it belongs. */
static void sift_up(struct sim_queue *q, struct sim_slot s, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&s, &q->heap[parent]))
			break;
		place(q, &q->heap[parent], i);
		i = parent;
	}
	place(q, &s, i);
}

/* The same, downward. */
static void sift_down(struct sim_queue *q, struct sim_slot s, size_t i)
{
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= q->n)
			break;
		if (child + 1 < q->n && before(&q->heap[child + 1], &q->heap[child]))
			child++;
		if (!before(&q->heap[child], &s))
			break;
		place(q, &q->heap[child], i);
		i = child;
	}
	place(q, &s, i);
}

/* Puts `s` into slot i (a hole, or the slot of the entry it replaces) and
 * mends the heap around it. */
static void settle(struct sim_queue *q, struct sim_slot s, size_t i)
{
	if (i > 0 && before(&s, &q->heap[(i - 1) / 2]))
		sift_up(q, s, i);
	else
		sift_down(q, s, i);
}

/* Takes the event out of slot i and fills the hole with the last entry. */
static void take_out(struct sim_queue *q, size_t i)
{
	struct sim_slot last = q->heap[--q->n];

	q->heap[i].e->slot = SIM_NOT_QUEUED;
	if (i < q->n)
		settle(q, last, i);
}

int sim_queue_push(struct sim_queue *q, struct sim_event *e, double at)
{
	struct sim_slot s = { at > q->now ? at : q->now, q->next_seq, e };

	/* Queued already: a move is a new key in the same slot. */
	if (e->slot != SIM_NOT_QUEUED) {
		q->next_seq++;
		settle(q, s, e->slot);
		return 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct sim_slot *heap = realloc(q->heap, cap * sizeof(*heap));
		if (heap == NULL)
			return -1;
		q->heap = heap;
		q->cap = cap;
	}
	q->next_seq++;
	sift_up(q, s, q->n++);
	return 0;
}

void sim_queue_remove(struct sim_queue *q, struct sim_event *e)
{
	if (e->slot == SIM_NOT_QUEUED || e->slot >= q->n || q->heap[e->slot].e != e)
		return;
	take_out(q, e->slot);
}

struct sim_event *sim_queue_pop(struct sim_queue *q)
{
	struct sim_event *e;

	if (q->n == 0)
		return NULL;
	e = q->heap[0].e;
	q->now = q->heap[0].at;
	take_out(q, 0);
	return e;
}

double sim_queue_next_at(const struct sim_queue *q)
{
	return q->n > 0 ? q->heap[0].at : -1;
}

double sim_event_at(const struct sim_queue *q, const struct sim_event *e)
{
	return e->slot != SIM_NOT_QUEUED && e->slot < q->n && q->heap[e->slot].e == e ?
	       q->heap[e->slot].at : -1;
}

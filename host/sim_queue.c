/* sim_queue.c -- the simulator's one event queue: an intrusive binary
 * min-heap ordered by (time, push sequence).
 *
 * The event lives inside whatever owns it (a timer, a frame in flight, a
 * churn step) and records its own heap slot, so a push, a move and a removal
 * cost O(log n) and no allocation; only the array of pointers grows. The
 * sequence number makes ties run in the order they were pushed, which keeps
 * a run deterministic whatever the heap's shape. */
#include "config.h"
#include "sim.h"

#include <stdlib.h>

void sim_event_init(struct sim_event *e, void (*fire)(struct sim_event *e))
{
	e->at = 0;
	e->seq = 0;
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
		q->heap[i]->slot = SIM_NOT_QUEUED;
	free(q->heap);
	sim_queue_init(q);
}

static int before(const struct sim_event *a, const struct sim_event *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return a->seq < b->seq;
}

static void place(struct sim_queue *q, struct sim_event *e, size_t i)
{
	q->heap[i] = e;
	e->slot = i;
}

static void sift_up(struct sim_queue *q, size_t i)
{
	struct sim_event *e = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(e, q->heap[parent]))
			break;
		place(q, q->heap[parent], i);
		i = parent;
	}
	place(q, e, i);
}

static void sift_down(struct sim_queue *q, size_t i)
{
	struct sim_event *e = q->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= q->n)
			break;
		if (child + 1 < q->n && before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!before(q->heap[child], e))
			break;
		place(q, q->heap[child], i);
		i = child;
	}
	place(q, e, i);
}

/* Takes the event out of slot i and mends the heap around the hole. */
static void take_out(struct sim_queue *q, size_t i)
{
	struct sim_event *e = q->heap[i];
	struct sim_event *last = q->heap[--q->n];

	e->slot = SIM_NOT_QUEUED;
	if (i == q->n)
		return;
	place(q, last, i);
	if (i > 0 && before(last, q->heap[(i - 1) / 2]))
		sift_up(q, i);
	else
		sift_down(q, i);
}

int sim_queue_push(struct sim_queue *q, struct sim_event *e, double at)
{
	if (e->slot != SIM_NOT_QUEUED)
		take_out(q, e->slot);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct sim_event **heap = realloc(q->heap, cap * sizeof(*heap));
		if (heap == NULL)
			return -1;
		q->heap = heap;
		q->cap = cap;
	}
	e->at = at > q->now ? at : q->now;
	e->seq = q->next_seq++;
	place(q, e, q->n++);
	sift_up(q, e->slot);
	return 0;
}

void sim_queue_remove(struct sim_queue *q, struct sim_event *e)
{
	if (e->slot == SIM_NOT_QUEUED || e->slot >= q->n || q->heap[e->slot] != e)
		return;
	take_out(q, e->slot);
}

struct sim_event *sim_queue_pop(struct sim_queue *q)
{
	struct sim_event *e;

	if (q->n == 0)
		return NULL;
	e = q->heap[0];
	take_out(q, 0);
	q->now = e->at;
	return e;
}

double sim_queue_next_at(const struct sim_queue *q)
{
	return q->n > 0 ? q->heap[0]->at : -1;
}

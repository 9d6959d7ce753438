/* cv1_inbox.c -- delivering a message: the log, the subscribers of
 * "classicv1.message", and the bounded inbox `maybep2pctl NAME inbox` reads.
 */
#include "cv1_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text shown in one log line. */
#define CV1_LOG_TEXT 200

void cv1_inbox_clear(struct cv1_inbox *box)
{
	for (size_t i = 0; i < CV1_INBOX_MAX; i++) {
		free(box->entries[i].text);
		box->entries[i].text = NULL;
	}
	box->head = box->count = 0;
}

/* The i-th entry, oldest first, or NULL. */
struct cv1_inbox_entry *cv1_inbox_at(struct cv1_inbox *box, size_t i)
{
	if (i >= box->count)
		return NULL;
	return &box->entries[(box->head + i) % CV1_INBOX_MAX];
}

/* Appends a message, pushing out the oldest when full. Texts longer than
 * CV1_INBOX_TEXT_MAX are cut there: the inbox is for people. */
struct cv1_inbox_entry *cv1_inbox_push(struct cv1_inbox *box, int kind,
                                       const char *sender, const char *id,
                                       const char *text, size_t length,
                                       unsigned hops, double wall)
{
	struct cv1_inbox_entry *e;
	char *copy;

	if (length > CV1_INBOX_TEXT_MAX)
		length = CV1_INBOX_TEXT_MAX;
	if ((copy = malloc(length + 1)) == NULL)
		return NULL;
	memcpy(copy, text, length);
	copy[length] = '\0';
	if (box->count == CV1_INBOX_MAX) {
		free(box->entries[box->head].text);
		box->entries[box->head].text = NULL;
		box->head = (box->head + 1) % CV1_INBOX_MAX;
		box->count--;
	}
	e = &box->entries[(box->head + box->count) % CV1_INBOX_MAX];
	box->count++;
	e->seq = ++box->next_seq;
	e->kind = kind;
	e->hops = hops;
	e->wall = wall;
	snprintf(e->sender, sizeof(e->sender), "%s", sender);
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->text = copy;
	e->text_length = length;
	return e;
}

/* Hands a message to the topic's subscribers: the whole text, with a NUL
 * after it. A message a subscriber sends from inside its callback is not
 * published back to it: that would recurse without end. */
static void publish(struct cv1 *c, const char *topic, int kind, const char *sender, const char *id,
                    const void *text, size_t length, unsigned hops)
{
	struct mp2p_classicv1_message m;
	char *copy;

	if (c->publishing || (copy = malloc(length + 1)) == NULL)
		return;
	memcpy(copy, text, length);
	copy[length] = '\0';
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.kind = (uint32_t)kind;
	m.sender = sender;
	m.id = id;
	m.text = copy;
	m.text_length = length;
	m.hops = hops;
	m.at = c->api->now(c->host);
	c->publishing = 1;
	c->api->publish(c->host, topic, &m, sizeof(m));
	c->publishing = 0;
	free(copy);
}

/* A quiet broadcast: no log line, no inbox, its own topic, the bytes as
 * they are (classicv1.h, QUIET BROADCASTS). */
void cv1_deliver_quiet(struct cv1 *c, const char *origin, const char *id, const uint8_t *data,
                       size_t length, unsigned hops)
{
	(*c->n.delivered_quiet)++;
	publish(c, MP2P_CLASSICV1_QUIET_TOPIC, MP2P_CLASSICV1_BROADCAST, origin, id, data, length, hops);
}

void cv1_deliver(struct cv1 *c, int kind, const char *sender, const char *id,
                 const char *text, size_t length, unsigned hops)
{
	int shown = length > CV1_LOG_TEXT ? CV1_LOG_TEXT : (int)length;

	if (kind == MP2P_CLASSICV1_BROADCAST) {
		(*c->n.delivered_broadcast)++;
		/* Per message, and peers decide how many: debug, not info. */
		c->api->log(c->host, MP2P_LOG_DEBUG, "delivered broadcast %s from %s hops %u: %.*s%s",
		             id, sender, hops, shown, text, (size_t)shown < length ? "..." : "");
	} else {
		(*c->n.delivered_direct)++;
		c->api->log(c->host, MP2P_LOG_DEBUG, "delivered message from %s: %.*s%s",
		             sender, shown, text, (size_t)shown < length ? "..." : "");
	}
	cv1_inbox_push(&c->inbox, kind, sender, id, text, length, hops, c->api->wall_now(c->host));
	publish(c, MP2P_CLASSICV1_TOPIC, kind, sender, id, text, length, hops);
}

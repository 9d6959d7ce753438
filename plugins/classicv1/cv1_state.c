/* cv1_state.c -- saving and restoring what a hot swap or a restart must
 * keep: the pid, the peer table, the inbox and the broadcast ids seen.
 *
 * Format 1 is text, one record a line, fields separated by one space; a
 * message's text comes last and runs to the end of its line (texts are
 * printable ASCII, so they hold no line break):
 *
 *   classicv1-state 1
 *   pid PID
 *   seq NEXT_SEQ
 *   peer PID ADDR PORT KIND
 *   seen ID
 *   msg SEQ KIND HOPS WALL SENDER ID|- TEXT
 *
 * A reader skips record names it does not know, so a later build may add
 * records without a new format number. The bytes come from a file that can
 * be damaged: every field is checked before it is used.
 */
#include "cv1_node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void outf(struct out *o, const char *fmt, ...) MP2P_PRINTF(2, 3);
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n + 1) * 2;
		char *b = realloc(o->buf, cap);
		if (b == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

int cv1_state_save(struct cv1 *c, void **data_out, size_t *length_out)
{
	struct out o = { NULL, 0, 0, 0 };
	struct cv1_dedup *d = &c->dedup;
	double now = c->api->now(c->host);

	if ((o.buf = malloc(4096)) == NULL)
		return -1;
	o.cap = 4096;
	outf(&o, "classicv1-state %d\npid %s\nseq %llu\n", CV1_STATE_FORMAT, c->pid,
	     (unsigned long long)c->inbox.next_seq);
	for (size_t i = 0; i < c->peers.max; i++) {
		struct cv1_peer *p = &c->peers.slots[i];
		if (p->used)
			outf(&o, "peer %s %s %u %d\n", p->pid, p->addr, (unsigned)p->port, p->kind);
	}
	for (size_t i = 0; i < d->count; i++) {
		size_t idx = (d->head + i) % d->cap;
		char hex[CV1_ID_HEX + 1];
		if (d->times[idx] + d->ttl <= now)
			continue;
		cv1_id_format(hex, d->ids[idx]);
		outf(&o, "seen %s\n", hex);
	}
	for (size_t i = 0; i < c->inbox.count; i++) {
		struct cv1_inbox_entry *e = cv1_inbox_at(&c->inbox, i);
		/* %.17g reads back as the very same double. */
		outf(&o, "msg %llu %d %u %.17g %s %s %s\n", (unsigned long long)e->seq, e->kind,
		     e->hops, e->wall, e->sender, e->id[0] ? e->id : "-", e->text);
	}
	if (o.failed) {
		free(o.buf);
		return -1;
	}
	*data_out = o.buf;
	*length_out = o.len;
	return 0;
}

/* ---- restore ----------------------------------------------------------- */

/* Splits line (NUL-terminated, modified) into at most max space-separated
 * fields; the last takes the rest of the line. */
static int fields(char *line, char **f, int max)
{
	int n = 0;

	while (n < max) {
		f[n++] = line;
		if (n == max)
			break;
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		line = sp + 1;
	}
	return n;
}

static int number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int restore_peer(struct cv1 *c, char **f, double now)
{
	struct cv1_peer_addr pa;
	struct cv1_peer *p;
	unsigned long long port, kind;

	if (!cv1_valid_pid(f[1], strlen(f[1])) || strlen(f[1]) > CV1_PID_MAX ||
	    !cv1_valid_addr(f[2], strlen(f[2])) || number(f[3], 65535, &port) < 0 ||
	    port == 0 || number(f[4], CV1_KIND_OURS, &kind) < 0)
		return -1;
	snprintf(pa.pid, sizeof(pa.pid), "%s", f[1]);
	snprintf(pa.addr, sizeof(pa.addr), "%s", f[2]);
	pa.port = (uint16_t)port;
	/* A table that shrank in the config keeps the first entries. */
	if (cv1_peers_add(&c->peers, &pa, now, 1, &p) == CV1_ADD_NEW)
		p->kind = (int)kind;
	return 0;
}

static int restore_msg(struct cv1 *c, char **f)
{
	unsigned long long seq, kind, hops;
	char *end;
	double wall;
	size_t slen = strlen(f[5]);
	uint64_t id;

	if (number(f[1], UINT64_MAX, &seq) < 0 ||
	    number(f[2], MP2P_CLASSICV1_BROADCAST, &kind) < 0 || kind == 0 ||
	    number(f[3], CV1_HOPS_MAX, &hops) < 0)
		return -1;
	wall = strtod(f[4], &end);
	if (*end != '\0' || slen == 0 || slen >= CV1_HOSTPORT_MAX + CV1_PID_MAX ||
	    !cv1_text_ok(f[5], slen))
		return -1;
	if (strcmp(f[6], "-") != 0 && cv1_id_parse(f[6], strlen(f[6]), &id) < 0)
		return -1;
	if (!cv1_text_ok(f[7], strlen(f[7])))
		return -1;
	struct cv1_inbox_entry *e = cv1_inbox_push(&c->inbox, (int)kind, f[5],
	                                           strcmp(f[6], "-") ? f[6] : "",
	                                           f[7], strlen(f[7]), (unsigned)hops, wall);
	if (e != NULL)
		e->seq = seq;
	return 0;
}

int cv1_state_restore(struct cv1 *c, const char *data, size_t length, char **error_text)
{
	char *copy, *line, *next;
	double now = c->api->now(c->host);
	int lineno = 0, rc = 0;
	uint64_t saved_seq = 0;

	if ((copy = malloc(length + 1)) == NULL)
		return -1;
	memcpy(copy, data, length);
	copy[length] = '\0';
	if (strlen(copy) != length)
		goto bad;
	for (line = copy; *line != '\0' && rc == 0; line = next) {
		char *f[8];
		int n;

		lineno++;
		next = strchr(line, '\n');
		if (next == NULL)
			goto bad;   /* every record ends with a newline */
		*next++ = '\0';
		n = fields(line, f, strcmp(line, "msg") == 0 || strncmp(line, "msg ", 4) == 0 ? 8 : 5);
		if (lineno == 1) {
			if (n != 2 || strcmp(f[0], "classicv1-state") != 0 || strcmp(f[1], "1") != 0)
				goto bad;
		} else if (strcmp(f[0], "pid") == 0) {
			if (n != 2 || !cv1_valid_pid(f[1], strlen(f[1])))
				goto bad;
			/* Over TLS the pid is the peer id, whatever was saved. */
			if (c->api->security(c->host) == MP2P_SECURITY_PLAIN)
				snprintf(c->pid, sizeof(c->pid), "%s", f[1]);
		} else if (strcmp(f[0], "seq") == 0) {
			unsigned long long seq;
			if (n != 2 || number(f[1], UINT64_MAX, &seq) < 0)
				goto bad;
			saved_seq = seq;
		} else if (strcmp(f[0], "peer") == 0) {
			if (n != 5 || restore_peer(c, f, now) < 0)
				goto bad;
		} else if (strcmp(f[0], "seen") == 0) {
			uint64_t id;
			if (n != 2 || cv1_id_parse(f[1], strlen(f[1]), &id) < 0)
				goto bad;
			cv1_dedup_check_add(&c->dedup, id, now);
		} else if (strcmp(f[0], "msg") == 0) {
			if (n != 8 || restore_msg(c, f) < 0)
				goto bad;
		}
	}
	if (lineno == 0)
		goto bad;
	/* The next delivery must number after everything restored. */
	c->inbox.next_seq = saved_seq;
	for (size_t i = 0; i < c->inbox.count; i++) {
		struct cv1_inbox_entry *e = cv1_inbox_at(&c->inbox, i);
		if (e->seq > c->inbox.next_seq)
			c->inbox.next_seq = e->seq;
	}
	free(copy);
	return 0;
bad:
	free(copy);
	if (error_text) {
		char *msg = malloc(96);
		if (msg)
			snprintf(msg, 96, "classicv1 state: damaged record on line %d", lineno);
		*error_text = msg;
	}
	/* Start empty rather than half restored. */
	cv1_peers_free(&c->peers);
	cv1_peers_init(&c->peers, c->max_peers);
	cv1_inbox_clear(&c->inbox);
	return -1;
}

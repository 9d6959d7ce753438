/* reply.c -- the answer to a control command, built by the host or a
 * plugin as fields and rows, and rendered as JSON or as aligned text. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct field {
	char *key;
	char *value;
	int number;                  /* printed bare in JSON */
};

struct fields {
	struct field *v;
	int n;
};

struct mp2p_reply {
	struct fields top;
	struct fields *rows;
	int nrows;
	int status;                  /* 0 ok, 1 failed, 2 usage */
	char *message;
	int deferred;
	struct mp2p_host *owner;     /* the instance answering, while deferred */
	struct mp2p_reply *next_deferred;
	uint64_t token;              /* handed over: what the successor adopts it by */
	char *handed_from;           /* handed over: the instance name, else NULL */
	void (*done)(struct mp2p_reply *, void *);
	void *done_arg;
};

struct mp2p_reply *reply_new(void)
{
	return calloc(1, sizeof(struct mp2p_reply));
}

static void fields_free(struct fields *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->v[i].key);
		free(f->v[i].value);
	}
	free(f->v);
}

void reply_free(struct mp2p_reply *r)
{
	if (r == NULL)
		return;
	fields_free(&r->top);
	for (int i = 0; i < r->nrows; i++)
		fields_free(&r->rows[i]);
	free(r->rows);
	free(r->message);
	free(r->handed_from);
	free(r);
}

int reply_status(const struct mp2p_reply *r) { return r->status; }
int reply_is_deferred(const struct mp2p_reply *r) { return r->deferred; }

static void set(struct mp2p_reply *r, const char *key, char *value, int number)
{
	struct fields *f = r->nrows ? &r->rows[r->nrows - 1] : &r->top;
	struct field *v;

	if (key == NULL || value == NULL) {
		free(value);
		return;
	}
	for (int i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].key, key) == 0) {
			free(f->v[i].value);
			f->v[i].value = value;
			f->v[i].number = number;
			return;
		}
	}
	v = realloc(f->v, sizeof(*v) * (size_t)(f->n + 1));
	if (v == NULL) {
		free(value);
		return;
	}
	f->v = v;
	f->v[f->n].key = strdup(key);
	f->v[f->n].value = value;
	f->v[f->n].number = number;
	if (f->v[f->n].key == NULL) {
		free(value);
		return;
	}
	f->n++;
}

void reply_str(struct mp2p_reply *r, const char *key, const char *value)
{
	if (r != NULL)
		set(r, key, strdup(value ? value : ""), 0);
}

void reply_int(struct mp2p_reply *r, const char *key, long long value)
{
	if (r != NULL)
		set(r, key, str_printf("%lld", value), 1);
}

void reply_float(struct mp2p_reply *r, const char *key, double value)
{
	if (r == NULL)
		return;
	if (value != value || value > 1e300 || value < -1e300)
		set(r, key, strdup("null"), 1);   /* JSON has no NaN */
	else
		set(r, key, str_printf("%.6g", value), 1);
}

void reply_row(struct mp2p_reply *r)
{
	struct fields *rows;

	if (r == NULL || (rows = realloc(r->rows, sizeof(*rows) * (size_t)(r->nrows + 1))) == NULL)
		return;
	r->rows = rows;
	memset(&r->rows[r->nrows++], 0, sizeof(struct fields));
}

static void fail(struct mp2p_reply *r, int status, const char *fmt, va_list ap)
{
	free(r->message);
	r->message = str_vprintf(fmt, ap);
	r->status = status;
}

void reply_error(struct mp2p_reply *r, const char *fmt, ...)
{
	va_list ap;

	if (r == NULL)
		return;
	va_start(ap, fmt);
	fail(r, 1, fmt, ap);
	va_end(ap);
}

void reply_usage(struct mp2p_reply *r, const char *fmt, ...)
{
	va_list ap;

	if (r == NULL)
		return;
	va_start(ap, fmt);
	fail(r, 2, fmt, ap);
	va_end(ap);
}

/* --- deferred replies ------------------------------------------------ */

void reply_set_done(struct mp2p_reply *r, void (*done)(struct mp2p_reply *, void *), void *arg)
{
	r->done = done;
	r->done_arg = arg;
}

void reply_set_owner(struct mp2p_reply *r, struct mp2p_host *owner)
{
	r->owner = owner;
}

void reply_defer(struct mp2p_reply *r)
{
	if (r == NULL || r->deferred || r->owner == NULL)
		return;
	r->deferred = 1;
	r->next_deferred = r->owner->deferred;
	r->owner->deferred = r;
}

/* Answers and frees the reply; for a reply that was never deferred the
 * control code does this itself once control() returns. */
void reply_finish(struct mp2p_reply *r)
{
	if (r == NULL)
		return;
	if (r->deferred && r->owner != NULL) {
		struct mp2p_reply **p = &r->owner->deferred;
		while (*p != NULL && *p != r)
			p = &(*p)->next_deferred;
		if (*p == r)
			*p = r->next_deferred;
	}
	r->deferred = 0;
	if (r->done != NULL)
		r->done(r, r->done_arg);
	else
		reply_free(r);
}

void reply_abandon_owner(struct mp2p_host *in)
{
	while (in->deferred != NULL) {
		struct mp2p_reply *r = in->deferred;
		reply_error(r, "plugin '%s' stopped before it answered", in->name);
		reply_finish(r);
	}
}

static void unlink_deferred(struct mp2p_reply **list, struct mp2p_reply *r)
{
	while (*list != NULL && *list != r)
		list = &(*list)->next_deferred;
	if (*list == r)
		*list = r->next_deferred;
	r->next_deferred = NULL;
}

/* Between two generations a reply belongs to no instance: it waits in the
 * host's list, under a token the old instance wrote into its state, for
 * the successor of the same name to adopt it. */
uint64_t reply_handover(struct mp2p_reply *r)
{
	struct mp2p_host *in;
	struct core *h;

	if (r == NULL || !r->deferred || (in = r->owner) == NULL || !in->swapping)
		return 0;
	if ((r->handed_from = strdup(in->name)) == NULL)
		return 0;
	h = in->core;
	unlink_deferred(&in->deferred, r);
	r->owner = NULL;
	r->token = ++h->next_reply_token;
	r->next_deferred = h->handed;
	h->handed = r;
	return r->token;
}

struct mp2p_reply *reply_adopt(struct mp2p_host *in, uint64_t token)
{
	struct core *h = in->core;

	for (struct mp2p_reply *r = h->handed; r != NULL; r = r->next_deferred) {
		if (r->token != token || token == 0 || strcmp(r->handed_from, in->name) != 0)
			continue;
		unlink_deferred(&h->handed, r);
		free(r->handed_from);
		r->handed_from = NULL;
		r->token = 0;
		r->owner = in;
		r->next_deferred = in->deferred;
		in->deferred = r;
		return r;
	}
	return NULL;
}

/* Replies handed over by `name` (every name if NULL) that no successor
 * took are answered with an error. */
void reply_abandon_handed(struct core *h, const char *name)
{
	struct mp2p_reply **p = &h->handed;

	while (*p != NULL) {
		struct mp2p_reply *r = *p;
		if (name != NULL && strcmp(r->handed_from, name) != 0) {
			p = &r->next_deferred;
			continue;
		}
		*p = r->next_deferred;
		reply_error(r, "plugin '%s' was replaced and its successor did not take the reply",
		            r->handed_from);
		free(r->handed_from);
		r->handed_from = NULL;
		r->deferred = 0;
		if (r->done != NULL)
			r->done(r, r->done_arg);
		else
			reply_free(r);
	}
}

/* --- reading -------------------------------------------------------- */

/* The i-th top-level field, for code that reads a reply rather than
 * renders it (the metrics endpoint): its key, or NULL past the last. */
const char *reply_field(const struct mp2p_reply *r, int i, const char **value, int *number)
{
	if (i < 0 || i >= r->top.n)
		return NULL;
	*value = r->top.v[i].value;
	*number = r->top.v[i].number;
	return r->top.v[i].key;
}

/* The value of the top-level number named key, or NULL. */
const char *reply_lookup(const struct mp2p_reply *r, const char *key)
{
	for (int i = 0; i < r->top.n; i++)
		if (strcmp(r->top.v[i].key, key) == 0)
			return r->top.v[i].number ? r->top.v[i].value : NULL;
	return NULL;
}

/* --- rendering ------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static int utf8_length(const unsigned char *p)
{
	int n;
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;          /* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;          /* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;          /* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;          /* past U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* JSON must be UTF-8, but plugin text often comes from peers and may be
 * any bytes: a byte that does not start a well-formed sequence is written
 * as the four characters \xHH, so the output stays valid and the byte
 * stays visible. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80) {
			int n = utf8_length(p);
			if (n == 0) {
				fprintf(out, "\\\\x%02x", *p);
			} else {
				fwrite(p, 1, (size_t)n, out);
				p += n - 1;
			}
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void json_fields(FILE *out, const struct fields *f, int *first)
{
	for (int i = 0; i < f->n; i++) {
		fputs(*first ? "" : ", ", out);
		*first = 0;
		json_string(out, f->v[i].key);
		fputs(": ", out);
		if (f->v[i].number)
			fputs(f->v[i].value, out);
		else
			json_string(out, f->v[i].value);
	}
}

static void render_json(FILE *out, const struct mp2p_reply *r)
{
	int first = 1;

	fputc('{', out);
	if (r->status != 0) {
		fputs("\"error\": ", out);
		json_string(out, r->message ? r->message : "failed");
		first = 0;
	}
	json_fields(out, &r->top, &first);
	if (r->nrows > 0) {
		fputs(first ? "\"rows\": [" : ", \"rows\": [", out);
		for (int i = 0; i < r->nrows; i++) {
			int f = 1;
			fputs(i ? ", {" : "{", out);
			json_fields(out, &r->rows[i], &f);
			fputc('}', out);
		}
		fputc(']', out);
	}
	fputs("}\n", out);
}

/* Column names in the order they first appear across the rows. */
static int columns(const struct mp2p_reply *r, const char ***out)
{
	const char **cols = NULL;
	int n = 0;

	for (int i = 0; i < r->nrows; i++) {
		for (int j = 0; j < r->rows[i].n; j++) {
			const char *k = r->rows[i].v[j].key;
			int seen = 0;
			for (int c = 0; c < n; c++)
				seen |= strcmp(cols[c], k) == 0;
			if (!seen) {
				const char **nc = realloc(cols, sizeof(*cols) * (size_t)(n + 1));
				if (nc == NULL)
					break;
				cols = nc;
				cols[n++] = k;
			}
		}
	}
	*out = cols;
	return n;
}

static const char *row_value(const struct fields *f, const char *key)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0)
			return f->v[i].value;
	return "-";
}

static void cell(FILE *out, const char *text, int width, int last)
{
	if (last)
		fprintf(out, "%s\n", text);
	else
		fprintf(out, "%-*s  ", width, text);
}

static void render_text(FILE *out, const struct mp2p_reply *r)
{
	const char **cols;
	int width = 0, ncols;

	if (r->status != 0)
		fprintf(out, "%s\n", r->message ? r->message : "failed");
	for (int i = 0; i < r->top.n; i++)
		if ((int)strlen(r->top.v[i].key) > width)
			width = (int)strlen(r->top.v[i].key);
	for (int i = 0; i < r->top.n; i++)
		fprintf(out, "%-*s  %s\n", width, r->top.v[i].key, r->top.v[i].value);
	ncols = columns(r, &cols);
	if (ncols > 0) {
		int *w = calloc((size_t)ncols, sizeof(int));
		if (w != NULL) {
			for (int c = 0; c < ncols; c++) {
				w[c] = (int)strlen(cols[c]);
				for (int i = 0; i < r->nrows; i++) {
					int l = (int)strlen(row_value(&r->rows[i], cols[c]));
					if (l > w[c])
						w[c] = l;
				}
			}
			if (r->top.n > 0)
				fputc('\n', out);
			for (int c = 0; c < ncols; c++)
				cell(out, cols[c], w[c], c + 1 == ncols);
			for (int i = 0; i < r->nrows; i++)
				for (int c = 0; c < ncols; c++)
					cell(out, row_value(&r->rows[i], cols[c]), w[c], c + 1 == ncols);
			free(w);
		}
	}
	free(cols);
}

char *reply_render(const struct mp2p_reply *r, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (out == NULL)
		return NULL;
	if (json)
		render_json(out, r);
	else
		render_text(out, r);
	fclose(out);
	return buf;
}

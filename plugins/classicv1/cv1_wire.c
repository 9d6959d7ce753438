/* cv1_wire.c -- encoders and decoders of ClassicV1 payloads.
 *
 * Payloads are comma-separated printable ASCII, as the original framework
 * wrote them. Decoders never trust a length: they work on (pointer, length)
 * pairs that are not NUL-terminated, copy only into fixed-size fields, and
 * refuse the whole payload at the first thing that is out of place. Encoders
 * write into a caller's buffer and report CV1_E_SPACE rather than truncate.
 */
#include "cv1.h"

#include <maybep2p/util.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A piece of a payload between separators. */
struct span {
	const char *p;
	size_t n;
};

const char *cv1_wire_strerror(int error)
{
	switch (error) {
	case CV1_OK: return "ok";
	case CV1_E_ASCII: return "byte outside printable ASCII";
	case CV1_E_FIELDS: return "wrong fields";
	case CV1_E_PID: return "bad pid";
	case CV1_E_ADDR: return "bad address";
	case CV1_E_PORT: return "bad port";
	case CV1_E_TOOMANY: return "too many list entries";
	case CV1_E_ID: return "bad broadcast id";
	case CV1_E_HOPS: return "bad hop count";
	case CV1_E_VERSION: return "bad version";
	case CV1_E_SPACE: return "no space";
	}
	return "unknown error";
}

/* Everything we take from the network is printable ASCII: this also keeps
 * NUL bytes and line breaks out of logs, the inbox and the saved state. */
static int printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* For text from operators and other plugins, held to the same rule. */
int cv1_text_ok(const char *text, size_t length)
{
	return printable((const uint8_t *)text, length);
}

/* Splits p into at most `max` fields at `sep`. With `rest`, the last field
 * takes everything after the (max-1)th separator, separators included.
 * Returns the number of fields, or -1 if there are more than `max`. */
static int split(const char *p, size_t n, char sep, struct span *f, int max, int rest)
{
	int count = 0;
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != sep)
			continue;
		if (count == max)
			return -1;
		if (rest && count == max - 1) {
			f[count].p = p + start;
			f[count].n = n - start;
			return count + 1;
		}
		f[count].p = p + start;
		f[count].n = i - start;
		count++;
		start = i + 1;
	}
	return count;
}

static int span_is(const struct span *s, const char *word)
{
	size_t len = strlen(word);
	return s->n == len && memcmp(s->p, word, len) == 0;
}

int cv1_valid_pid(const char *pid, size_t length)
{
	if (length == 0 || length > CV1_PID_MAX)
		return 0;
	for (size_t i = 0; i < length; i++) {
		unsigned char c = (unsigned char)pid[i];
		/* ',' and '|' separate fields; a space would split a control
		 * command's arguments. */
		if (c <= 0x20 || c > 0x7e || c == ',' || c == '|')
			return 0;
	}
	return 1;
}

/* An address peers announce, by the host's rule (<maybep2p/util.h>): one
 * we could dial, so never an unspecified, link-local, multicast or
 * broadcast one, however it is written. */
int cv1_valid_addr(const char *addr, size_t length)
{
	struct mp2p_addr a;

	return length <= CV1_ADDR_MAX && mp2p_addr_parse_ip(addr, length, &a) == 0 &&
	       mp2p_addr_forbidden(&a) == NULL;
}

/* Strict decimal: 1 to 5 digits, no sign, no spaces, no leading zero,
 * 1..65535 (the address rule of util.h). */
static int parse_port(const struct span *s, uint16_t *out)
{
	unsigned long v = 0;

	if (s->n == 0 || s->n > 5 || s->p[0] == '0')
		return CV1_E_PORT;
	for (size_t i = 0; i < s->n; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return CV1_E_PORT;
		v = v * 10 + (unsigned long)(s->p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return CV1_E_PORT;
	*out = (uint16_t)v;
	return CV1_OK;
}

static int parse_uint(const struct span *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (s->n == 0 || s->n > 9)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s->p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int take_pid(const struct span *s, char out[CV1_PID_MAX + 1])
{
	if (!cv1_valid_pid(s->p, s->n))
		return CV1_E_PID;
	memcpy(out, s->p, s->n);
	out[s->n] = '\0';
	return CV1_OK;
}

/* pid, addr and port from three spans. */
static int take_peer(const struct span *f, struct cv1_peer_addr *out)
{
	int rc;

	if ((rc = take_pid(&f[0], out->pid)) != CV1_OK)
		return rc;
	if (!cv1_valid_addr(f[1].p, f[1].n))
		return CV1_E_ADDR;
	memcpy(out->addr, f[1].p, f[1].n);
	out->addr[f[1].n] = '\0';
	return parse_port(&f[2], &out->port);
}

static int take_dir(const struct span *s, int *dir_out)
{
	if (span_is(s, "REQ"))
		*dir_out = CV1_REQ;
	else if (span_is(s, "RES"))
		*dir_out = CV1_RES;
	else
		return CV1_E_FIELDS;
	return CV1_OK;
}

/* JOIN: REQ,<pid>,<addr>,<port> or RES,<pid>,<addr>,<port>. */
int cv1_decode_join(const uint8_t *p, size_t n, int *dir_out,
                    struct cv1_peer_addr *peer_out)
{
	struct span f[4];
	int rc;

	if (!printable(p, n))
		return CV1_E_ASCII;
	if (split((const char *)p, n, ',', f, 4, 0) != 4)
		return CV1_E_FIELDS;
	if ((rc = take_dir(&f[0], dir_out)) != CV1_OK)
		return rc;
	return take_peer(&f[1], peer_out);
}

/* LIST: REQ, or RES followed by pid|addr|port entries; a bare RES is an
 * empty table. */
int cv1_decode_list(const uint8_t *p, size_t n, int *dir_out,
                    struct cv1_peer_addr *entries, size_t cap, size_t *count_out)
{
	const char *s = (const char *)p;
	struct span head[2];
	struct span rest, e[3];
	size_t count = 0;
	int rc;

	*count_out = 0;
	if (!printable(p, n))
		return CV1_E_ASCII;
	split(s, n, ',', head, 2, 1);
	if ((rc = take_dir(&head[0], dir_out)) != CV1_OK)
		return rc;
	if (*dir_out == CV1_REQ)
		return n == 3 ? CV1_OK : CV1_E_FIELDS;
	if (n == 3)
		return CV1_OK;
	rest = head[1];
	for (;;) {
		struct span one[2];
		int parts = split(rest.p, rest.n, ',', one, 2, 1);

		if (count == cap || count == CV1_LIST_MAX)
			return CV1_E_TOOMANY;
		if (split(one[0].p, one[0].n, '|', e, 3, 0) != 3)
			return CV1_E_FIELDS;
		if ((rc = take_peer(e, &entries[count])) != CV1_OK)
			return rc;
		count++;
		if (parts == 1)
			break;
		rest = one[1];
	}
	*count_out = count;
	return CV1_OK;
}

/* QUIT: the bare pid, with no REQ/RES prefix. */
int cv1_decode_quit(const uint8_t *p, size_t n, char pid_out[CV1_PID_MAX + 1])
{
	struct span s = { (const char *)p, n };

	if (!printable(p, n))
		return CV1_E_ASCII;
	return take_pid(&s, pid_out);
}

/* MESG: REQ,<text> (the text keeps its commas: the original cut it at the
 * first one, we deliver all of it) or FOR,<id>,<hops>,<origin>,<from>,<text>. */
int cv1_decode_mesg(const uint8_t *p, size_t n, struct cv1_mesg *out)
{
	struct span f[6];
	int count, rc;

	memset(out, 0, sizeof(*out));
	if (!printable(p, n))
		return CV1_E_ASCII;
	count = split((const char *)p, n, ',', f, 2, 1);
	if (count == 2 && span_is(&f[0], "REQ")) {
		out->text = f[1].p;
		out->text_length = f[1].n;
		return CV1_OK;
	}
	if (count != 2 || !span_is(&f[0], "FOR"))
		return CV1_E_FIELDS;
	if (split((const char *)p, n, ',', f, 6, 1) != 6)
		return CV1_E_FIELDS;
	out->forward = 1;
	if (cv1_id_parse(f[1].p, f[1].n, &out->id) < 0)
		return CV1_E_ID;
	if (parse_uint(&f[2], CV1_HOPS_MAX, &out->hops) < 0 || out->hops == 0)
		return CV1_E_HOPS;
	if ((rc = take_pid(&f[3], out->origin)) != CV1_OK)
		return rc;
	if ((rc = take_pid(&f[4], out->from)) != CV1_OK)
		return rc;
	out->text = f[5].p;
	out->text_length = f[5].n;
	return CV1_OK;
}

/* CAPA: REQ|RES,<pid>,<addr>,<port>,<version>. */
int cv1_decode_capa(const uint8_t *p, size_t n, struct cv1_capa *out)
{
	struct span f[5];
	int rc;

	if (!printable(p, n))
		return CV1_E_ASCII;
	if (split((const char *)p, n, ',', f, 5, 0) != 5)
		return CV1_E_FIELDS;
	if ((rc = take_dir(&f[0], &out->dir)) != CV1_OK)
		return rc;
	if ((rc = take_peer(&f[1], &out->peer)) != CV1_OK)
		return rc;
	if (parse_uint(&f[4], 65535, &out->version) < 0 || out->version == 0)
		return CV1_E_VERSION;
	return CV1_OK;
}

/* GONE: the pid of a peer the sender found dead. */
int cv1_decode_gone(const uint8_t *p, size_t n, char pid_out[CV1_PID_MAX + 1])
{
	return cv1_decode_quit(p, n, pid_out);
}

/* ---- encoders --------------------------------------------------------- */

/* snprintf into buf, or CV1_E_SPACE. The result is not NUL-terminated on
 * the wire, but it is in buf. */
static int put(char *buf, size_t cap, int written)
{
	if (written < 0 || (size_t)written >= cap)
		return CV1_E_SPACE;
	return written;
}

int cv1_encode_join(char *buf, size_t cap, int dir, const char *pid,
                    const char *addr, uint16_t port)
{
	return put(buf, cap, snprintf(buf, cap, "%s,%s,%s,%u",
	                              dir == CV1_RES ? "RES" : "REQ", pid, addr,
	                              (unsigned)port));
}

int cv1_encode_list_req(char *buf, size_t cap)
{
	return put(buf, cap, snprintf(buf, cap, "REQ"));
}

int cv1_encode_list_res(char *buf, size_t cap, const struct cv1_peer_addr *entries,
                        size_t count)
{
	size_t used;
	int rc;

	if ((rc = put(buf, cap, snprintf(buf, cap, "RES"))) < 0)
		return rc;
	used = (size_t)rc;
	for (size_t i = 0; i < count; i++) {
		rc = put(buf + used, cap - used,
		         snprintf(buf + used, cap - used, ",%s|%s|%u", entries[i].pid,
		                  entries[i].addr, (unsigned)entries[i].port));
		if (rc < 0)
			return rc;
		used += (size_t)rc;
	}
	return (int)used;
}

int cv1_encode_quit(char *buf, size_t cap, const char *pid)
{
	return put(buf, cap, snprintf(buf, cap, "%s", pid));
}

int cv1_encode_mesg(char *buf, size_t cap, const char *text, size_t text_length)
{
	if (text_length > (size_t)0x7fffffff - 8 || cap < text_length + 5)
		return CV1_E_SPACE;
	memcpy(buf, "REQ,", 4);
	memcpy(buf + 4, text, text_length);
	buf[4 + text_length] = '\0';
	return (int)(4 + text_length);
}

int cv1_encode_for(char *buf, size_t cap, uint64_t id, unsigned hops,
                   const char *origin, const char *from, const char *text,
                   size_t text_length)
{
	char hex[CV1_ID_HEX + 1];
	int rc;

	cv1_id_format(hex, id);
	rc = put(buf, cap, snprintf(buf, cap, "FOR,%s,%u,%s,%s,", hex, hops, origin, from));
	if (rc < 0)
		return rc;
	if (text_length > (size_t)0x7fffffff - (size_t)rc - 1 ||
	    cap - (size_t)rc < text_length + 1)
		return CV1_E_SPACE;
	memcpy(buf + rc, text, text_length);
	buf[(size_t)rc + text_length] = '\0';
	return rc + (int)text_length;
}

int cv1_encode_capa(char *buf, size_t cap, int dir, const char *pid,
                    const char *addr, uint16_t port, unsigned version)
{
	return put(buf, cap, snprintf(buf, cap, "%s,%s,%s,%u,%u",
	                              dir == CV1_RES ? "RES" : "REQ", pid, addr,
	                              (unsigned)port, version));
}

int cv1_encode_gone(char *buf, size_t cap, const char *pid)
{
	return cv1_encode_quit(buf, cap, pid);
}

void cv1_id_format(char out[CV1_ID_HEX + 1], uint64_t id)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = CV1_ID_HEX - 1; i >= 0; i--) {
		out[i] = digits[id & 0xf];
		id >>= 4;
	}
	out[CV1_ID_HEX] = '\0';
}

/* Exactly 16 hex digits, either case. */
int cv1_id_parse(const char *text, size_t length, uint64_t *id_out)
{
	uint64_t v = 0;

	if (length != CV1_ID_HEX)
		return -1;
	for (size_t i = 0; i < length; i++) {
		char c = text[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		v = (v << 4) | d;
	}
	*id_out = v;
	return 0;
}

/* "ADDR:PORT", or "[ADDR]:PORT" for IPv6, as send_to() wants it. */
int cv1_hostport(char *buf, size_t cap, const char *addr, uint16_t port)
{
	if (strchr(addr, ':') != NULL)
		return put(buf, cap, snprintf(buf, cap, "[%s]:%u", addr, (unsigned)port));
	return put(buf, cap, snprintf(buf, cap, "%s:%u", addr, (unsigned)port));
}

/* The 16-byte form of a bare address or an ADDR:PORT (the host writes a
 * connection's peer so), IPv4 as its mapped IPv6 form. */
static int ip16(const char *text, uint8_t out[16])
{
	struct mp2p_addr a;

	if (mp2p_addr_parse(text, &a) < 0 &&
	    mp2p_addr_parse_ip(text, strlen(text), &a) < 0)
		return -1;
	if (a.family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a.ip, 4);
	} else {
		memcpy(out, a.ip, 16);
	}
	return 0;
}

int cv1_same_ip(const char *a, const char *b)
{
	uint8_t x[16], y[16];

	return ip16(a, x) == 0 && ip16(b, y) == 0 && memcmp(x, y, 16) == 0;
}

/* The inverse, for the config, DNS seeds and `join`: the host's rule, and
 * the address written back in its canonical form. */
int cv1_parse_hostport(const char *text, char addr_out[CV1_ADDR_MAX + 1],
                       uint16_t *port_out)
{
	struct mp2p_addr a;

	if (text == NULL || mp2p_addr_check(text, &a, NULL) < 0 ||
	    mp2p_addr_format_ip(&a, addr_out, CV1_ADDR_MAX + 1) < 0)
		return -1;
	*port_out = a.port;
	return 0;
}

/* ---- quiet broadcasts ------------------------------------------------------
 * Bytes ride in the text of a broadcast as "~q1:" and base64 (RFC 4648,
 * padded): printable, comma-free, and read back only in its one canonical
 * form, so one text has one meaning. */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cv1_quiet_encode(char *buf, size_t cap, const uint8_t *data, size_t length)
{
	size_t need = CV1_QUIET_PREFIX_LEN + 4 * ((length + 2) / 3), o = CV1_QUIET_PREFIX_LEN;

	if (length == 0 || length > CV1_QUIET_MAX || cap < need + 1)
		return CV1_E_SPACE;
	memcpy(buf, CV1_QUIET_PREFIX, CV1_QUIET_PREFIX_LEN);
	for (size_t i = 0; i < length; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < length)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < length)
			v |= data[i + 2];
		buf[o++] = b64[v >> 18 & 63];
		buf[o++] = b64[v >> 12 & 63];
		buf[o++] = i + 1 < length ? b64[v >> 6 & 63] : '=';
		buf[o++] = i + 2 < length ? b64[v & 63] : '=';
	}
	buf[o] = '\0';
	return (int)o;
}

static int b64_value(char ch)
{
	const char *at = ch != '\0' ? strchr(b64, ch) : NULL;

	return at != NULL ? (int)(at - b64) : -1;
}

int cv1_quiet_decode(const char *text, size_t length, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = 0;

	if (length < CV1_QUIET_PREFIX_LEN + 4 || memcmp(text, CV1_QUIET_PREFIX, CV1_QUIET_PREFIX_LEN) != 0)
		return -1;
	text += CV1_QUIET_PREFIX_LEN;
	length -= CV1_QUIET_PREFIX_LEN;
	if (length % 4 != 0 || length / 4 * 3 > cap + 2)
		return -1;
	for (size_t i = 0; i < length; i += 4) {
		int last = i + 4 == length;
		int a = b64_value(text[i]), b = b64_value(text[i + 1]);
		int c = text[i + 2] == '=' && last ? -2 : b64_value(text[i + 2]);
		int d = text[i + 3] == '=' && last ? -2 : b64_value(text[i + 3]);
		uint32_t v;
		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)(c < 0 ? 0 : c) << 6 |
		    (uint32_t)(d < 0 ? 0 : d);
		/* Bits the padding leaves over must be 0: one encoding per value. */
		if ((c == -2 && (v & 0xffff)) || (d == -2 && (v & 0xff)))
			return -1;
		if (n + 3 - (c == -2) - (d == -2) > cap)
			return -1;
		out[n++] = (uint8_t)(v >> 16);
		if (c != -2)
			out[n++] = (uint8_t)(v >> 8);
		if (d != -2)
			out[n++] = (uint8_t)v;
	}
	*out_len = n;
	return n > 0 ? 0 : -1;
}

/* kad_wire.c -- the Kademlia payload codec: every length checked before use.
 *
 * The layout is specified in PROTOCOL.md. Decoding never reads past the
 * buffer and refuses trailing bytes, so one payload has one meaning. */
#include "kad.h"

#include <maybep2p/util.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const wire_names[] = {
	[KAD_T_PING] = "PING", [KAD_T_STOR] = "STOR", [KAD_T_FNOD] = "FNOD",
	[KAD_T_FVAL] = "FVAL", [KAD_T_PONG] = "PONG", [KAD_T_STOK] = "STOK",
	[KAD_T_NODS] = "NODS", [KAD_T_VALU] = "VALU",
};

int kad_type_from_wire(const char type[4])
{
	for (int t = KAD_T_PING; t <= KAD_T_VALU; t++)
		if (memcmp(type, wire_names[t], 4) == 0)
			return t;
	return KAD_T_NONE;
}

const char *kad_type_to_wire(int type)
{
	if (type < KAD_T_PING || type > KAD_T_VALU)
		return NULL;
	return wire_names[type];
}

int kad_is_request(int type)
{
	return type >= KAD_T_PING && type <= KAD_T_FVAL;
}

/* A node address must be something we could dial: the one address rule
 * of the host and both plugins (util.h: numeric IPv4 without leading
 * zeros or bracketed IPv6, port 1-65535 without leading zeros) and none
 * of the ranges no node can be reached at, in any spelling, IPv4-mapped
 * IPv6 included. */
int kad_addr_valid(const char *addr)
{
	return strlen(addr) <= KAD_ADDR_MAX && mp2p_addr_check(addr, NULL, NULL) == 0;
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int kad_addr_pack(const char *addr, struct kad_paddr *out)
{
	struct mp2p_addr a;

	memset(out, 0, sizeof(*out));
	if (mp2p_addr_parse(addr, &a) < 0)
		return -1;
	/* IPv4 as its mapped IPv6 form, so both spellings land in one group. */
	if (a.family == AF_INET) {
		memcpy(out->ip, v4_mapped, 12);
		memcpy(out->ip + 12, a.ip, 4);
	} else {
		memcpy(out->ip, a.ip, 16);
		out->v6 = 1;
	}
	out->port = a.port;
	return 0;
}

/* Decimal digits of v at p; returns the end. */
static char *put_decimal(char *p, unsigned v)
{
	char tmp[5];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Every answer to a FNOD turns up to k entries back into text, so IPv4,
 * the common case, is written by hand: snprintf() took most of an
 * answer's time. */
void kad_addr_unpack(const struct kad_paddr *p, char out[KAD_ADDR_MAX + 1])
{
	struct mp2p_addr a;
	char *o = out;

	if (!p->v6) {
		for (int i = 12; i < 16; i++) {
			o = put_decimal(o, p->ip[i]);
			*o++ = i < 15 ? '.' : ':';
		}
		*put_decimal(o, p->port) = '\0';
		return;
	}
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.port = p->port;
	memcpy(a.ip, p->ip, 16);
	/* Every packed address has a text that fits (at most 54 bytes). */
	if (mp2p_addr_format(&a, out, KAD_ADDR_MAX + 1) < 0)
		out[0] = '\0';
}

void kad_paddr_groups(const struct kad_paddr *a, struct kad_groups *g)
{
	memcpy(g->ip, a->ip, 16);
	memcpy(g->prefix, a->ip, 16);
	if (memcmp(a->ip, v4_mapped, 12) == 0) {
		g->prefix[15] = 0;                           /* /24 */
	} else {
		memset(g->ip + 8, 0, 8);                     /* /64 */
		memset(g->prefix + 6, 0, 10);                /* /48 */
	}
}

int kad_addr_groups(const char *addr, struct kad_groups *g)
{
	struct kad_paddr a;

	if (kad_addr_pack(addr, &a) < 0)
		return -1;
	kad_paddr_groups(&a, g);
	return 0;
}

/* --- reading ----------------------------------------------------------- */

const uint8_t *kad_take(struct kad_rd *r, size_t n)
{
	const uint8_t *at;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	at = r->p;
	r->p += n;
	r->left -= n;
	return at;
}

uint8_t kad_get8(struct kad_rd *r)
{
	const uint8_t *b = kad_take(r, 1);
	return b ? b[0] : 0;
}

uint32_t kad_get32(struct kad_rd *r)
{
	const uint8_t *b = kad_take(r, 4);
	return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

uint64_t kad_get64(struct kad_rd *r)
{
	uint64_t hi = kad_get32(r);
	return hi << 32 | kad_get32(r);
}

static void get_bytes(struct kad_rd *r, void *out, size_t n)
{
	const uint8_t *b = kad_take(r, n);
	if (b)
		memcpy(out, b, n);
}

/* A length-prefixed address; checked for NULs and for being dialable. */
static int get_addr(struct kad_rd *r, char out[KAD_ADDR_MAX + 1])
{
	uint8_t n = kad_get8(r);
	const uint8_t *b;

	if (r->bad)
		return KAD_E_SHORT;
	if (n == 0 || n > KAD_ADDR_MAX)
		return KAD_E_ADDRESS;
	if ((b = kad_take(r, n)) == NULL)
		return KAD_E_SHORT;
	if (memchr(b, '\0', n) != NULL)
		return KAD_E_ADDRESS;
	memcpy(out, b, n);
	out[n] = '\0';
	return kad_addr_valid(out) ? KAD_E_OK : KAD_E_ADDRESS;
}

static int get_value(struct kad_rd *r, size_t max_value, struct kad_msg *m)
{
	get_bytes(r, m->key, KAD_ID_LEN);
	m->seq = kad_get64(r);
	m->ttl = kad_get32(r);
	m->vlen = kad_get32(r);
	if (r->bad)
		return KAD_E_SHORT;
	if (m->vlen > max_value)
		return KAD_E_VALUE;
	if ((m->value = kad_take(r, m->vlen)) == NULL)
		return KAD_E_SHORT;
	return KAD_E_OK;
}

int kad_decode(int type, const uint8_t *p, size_t len, size_t max_value,
               struct kad_msg *m)
{
	struct kad_rd r = { p, len, 0 };
	int e = KAD_E_OK;

	memset(m, 0, offsetof(struct kad_msg, nodes));
	m->type = type;
	if (type < KAD_T_PING || type > KAD_T_VALU)
		return KAD_E_TYPE;
	m->version = kad_get8(&r);
	if (m->version != KAD_WIRE_VERSION && m->version != KAD_WIRE_VERSION_1)
		return r.bad ? KAD_E_SHORT : KAD_E_VERSION;
	/* A version-2 value is a record: the value and what proves it. */
	if (m->version == KAD_WIRE_VERSION)
		max_value += KAD_REC_OVERHEAD;
	m->reqid = kad_get64(&r);
	get_bytes(&r, m->id, KAD_ID_LEN);
	if (r.bad)
		return KAD_E_SHORT;
	if (kad_is_request(type) && (e = get_addr(&r, m->addr)) != KAD_E_OK)
		return e;

	switch (type) {
	case KAD_T_PING:
	case KAD_T_PONG:
		break;
	case KAD_T_FNOD:
	case KAD_T_FVAL:
		get_bytes(&r, m->key, KAD_ID_LEN);
		break;
	case KAD_T_STOR:
	case KAD_T_VALU:
		e = get_value(&r, max_value, m);
		break;
	case KAD_T_STOK:
		m->status = kad_get8(&r);
		if (!r.bad && m->status > KAD_STOK_REFUSED)
			e = KAD_E_STATUS;
		break;
	case KAD_T_NODS: {
		uint8_t n = kad_get8(&r);
		if (r.bad)
			break;
		/* The count is checked before any entry is read, so a list of
		 * hundreds costs nothing. */
		if (n > KAD_MAX_K)
			return KAD_E_COUNT;
		for (int i = 0; i < n && e == KAD_E_OK && !r.bad; i++) {
			get_bytes(&r, m->nodes[i].id, KAD_ID_LEN);
			e = get_addr(&r, m->nodes[i].addr);
		}
		m->nnodes = n;
		break;
	}
	}
	if (e != KAD_E_OK)
		return e;
	if (r.bad || r.left != 0)
		return KAD_E_SHORT;
	return KAD_E_OK;
}

/* --- writing ----------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t left;
	int bad;
};

static void put_bytes(struct wr *w, const void *b, size_t n)
{
	if (w->bad || w->left < n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p, b, n);
	w->p += n;
	w->left -= n;
}

static void put8(struct wr *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

static void put32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put_bytes(w, b, 4);
}

static void put64(struct wr *w, uint64_t v)
{
	put32(w, (uint32_t)(v >> 32));
	put32(w, (uint32_t)v);
}

static void put_addr(struct wr *w, const char *addr)
{
	size_t n = strlen(addr);

	if (n == 0 || n > KAD_ADDR_MAX) {
		w->bad = 1;
		return;
	}
	put8(w, (uint8_t)n);
	put_bytes(w, addr, n);
}

static void put_value(struct wr *w, const struct kad_msg *m)
{
	put_bytes(w, m->key, KAD_ID_LEN);
	put64(w, m->seq);
	put32(w, m->ttl);
	put32(w, m->vlen);
	put_bytes(w, m->value, m->vlen);
}

static int finish(const struct wr *w, const uint8_t *start)
{
	return w->bad ? -1 : (int)(w->p - start);
}

int kad_encode_request(uint8_t *out, size_t cap, const struct kad_msg *m)
{
	struct wr w = { out, cap, 0 };

	if (!kad_is_request(m->type))
		return -1;
	put8(&w, (uint8_t)(m->version ? m->version : KAD_WIRE_VERSION));
	put64(&w, m->reqid);
	put_bytes(&w, m->id, KAD_ID_LEN);
	put_addr(&w, m->addr);
	if (m->type == KAD_T_FNOD || m->type == KAD_T_FVAL)
		put_bytes(&w, m->key, KAD_ID_LEN);
	else if (m->type == KAD_T_STOR)
		put_value(&w, m);
	return finish(&w, out);
}

int kad_encode_answer(uint8_t *out, size_t cap, const struct kad_msg *m)
{
	struct wr w = { out, cap, 0 };

	if (m->type < KAD_T_PONG || m->type > KAD_T_VALU)
		return -1;
	put8(&w, (uint8_t)(m->version ? m->version : KAD_WIRE_VERSION));
	put64(&w, m->reqid);
	put_bytes(&w, m->id, KAD_ID_LEN);
	switch (m->type) {
	case KAD_T_STOK:
		put8(&w, (uint8_t)m->status);
		break;
	case KAD_T_NODS:
		if (m->nnodes < 0 || m->nnodes > KAD_MAX_K)
			return -1;
		put8(&w, (uint8_t)m->nnodes);
		for (int i = 0; i < m->nnodes; i++) {
			put_bytes(&w, m->nodes[i].id, KAD_ID_LEN);
			put_addr(&w, m->nodes[i].addr);
		}
		break;
	case KAD_T_VALU:
		put_value(&w, m);
		break;
	}
	return finish(&w, out);
}

/* The largest payload any message can take: a NODS of KAD_MAX_K nodes or
 * a STOR with a value of max_value bytes. */
size_t kad_encoded_max(size_t max_value)
{
	size_t head = 1 + 8 + KAD_ID_LEN + 1 + KAD_ADDR_MAX;
	size_t nods = head + 1 + (size_t)KAD_MAX_K * (KAD_ID_LEN + 1 + KAD_ADDR_MAX);
	size_t stor = head + KAD_ID_LEN + 8 + 4 + 4 + max_value + KAD_REC_OVERHEAD;
	return nods > stor ? nods : stor;
}

/* util.h -- small helpers every plugin needs and should not write again:
 * big-endian integers, range-checked config settings, error texts, the
 * host's own "ADDR:PORT" rule and its forbidden-address check, and service
 * version numbers.
 *
 * Header only: every function is static inline, nothing is linked and
 * nothing here is part of the ABI (a plugin built with one copy of this
 * header and a host built with another still agree). It compiles as C99
 * and later, and as C++ (g++ and clang++). It needs a POSIX C library
 * (inet_pton and inet_ntop for IPv6).
 *
 * THE ADDRESS RULE
 *
 * The host, classicv1 and kademlia accept one textual form of a peer's
 * address, and so should every plugin that reads addresses from the
 * network:
 *
 *   A.B.C.D:PORT     IPv4: four decimal numbers 0-255, no leading zeros
 *                    ("10.0.0.1", never "010.0.0.1", which some libraries
 *                    read as octal), nothing else (no "10.1", no hex)
 *   [IPV6]:PORT      IPv6 in brackets, any form inet_pton(3) accepts,
 *                    with no zone ("%eth0")
 *   PORT             1 to 65535, decimal, no leading zeros, no sign
 *
 * Names are refused: resolving one would block the loop. An address that
 * parses can still be one no peer can be reached at, or one a hostile peer
 * names to make us knock on our own network's doors: mp2p_addr_forbidden()
 * says so for the unspecified address, link-local, multicast and broadcast
 * ranges, however they are written, IPv4-mapped IPv6 ("::ffff:169.254.0.1")
 * included. Loopback and private ranges are not forbidden (tests run on
 * loopback; a LAN is a legitimate place for peers); mp2p_addr_kind() tells
 * them apart for a plugin that wants a stricter policy.
 */
#ifndef MAYBEP2P_UTIL_H
#define MAYBEP2P_UTIL_H

#include <maybep2p/plugin.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------
 * Service versions: (major << 16) | minor, as service_offer() and the
 * service headers use them.
 * ------------------------------------------------------------------ */

/** A service version number from its two halves. */
#define MP2P_SERVICE_VERSION(major, minor) \
	((uint32_t)(((uint32_t)(major) << 16) | ((uint32_t)(minor) & 0xffffu)))
/** The halves of a service version number. */
#define MP2P_SERVICE_MAJOR(version) ((uint16_t)((uint32_t)(version) >> 16))
#define MP2P_SERVICE_MINOR(version) ((uint16_t)((uint32_t)(version) & 0xffffu))

/* ---------------------------------------------------------------------
 * Big-endian integers, the byte order of every MaybeP2P wire format.
 * `p` need not be aligned. The caller checks the length first.
 * ------------------------------------------------------------------ */

static inline void mp2p_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void mp2p_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void mp2p_put_be64(uint8_t *p, uint64_t v)
{
	mp2p_put_be32(p, (uint32_t)(v >> 32));
	mp2p_put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t mp2p_get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t mp2p_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t mp2p_get_be64(const uint8_t *p)
{
	return (uint64_t)mp2p_get_be32(p) << 32 | mp2p_get_be32(p + 4);
}

/* ---------------------------------------------------------------------
 * Error texts: what init(), start() and restore_state() hand back through
 * `char **error_text`. The host frees them with free(3).
 * ------------------------------------------------------------------ */

/** Sets *error_text (if error_text is not NULL) to a malloc'd message
 *  formatted like vprintf(3). Returns -1, so a callback can end with
 *  `return mp2p_verror_text(error_text, fmt, ap);`. If memory runs out
 *  *error_text is left NULL, which the host reports as "no reason given". */
static inline int mp2p_verror_text(char **error_text, const char *fmt, va_list ap)
{
	va_list again;
	char *text;
	int n;

	if (error_text == NULL)
		return -1;
	*error_text = NULL;
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0 || (text = (char *)malloc((size_t)n + 1)) == NULL)
		return -1;
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	*error_text = text;
	return -1;
}

/** mp2p_verror_text() with the arguments inline:
 *  `return mp2p_error_text(error_text, "cannot read %s: %s", f, strerror(e));` */
static inline int mp2p_error_text(char **error_text, const char *fmt, ...) MP2P_PRINTF(2, 3);
static inline int mp2p_error_text(char **error_text, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mp2p_verror_text(error_text, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---------------------------------------------------------------------
 * The address rule (see the top of this file)
 * ------------------------------------------------------------------ */

/** Longest "[IPV6]:PORT" text, with its NUL: 45 characters of address
 *  (an IPv6 address ending in a dotted quad), brackets, colon, 5 digits. */
#define MP2P_ADDR_TEXT_MAX 54

/** A parsed address. */
struct mp2p_addr {
	int family;                  /**< AF_INET or AF_INET6 */
	uint16_t port;               /**< host byte order, 1-65535 */
	uint8_t ip[16];              /**< network order; IPv4 uses the first 4 */
};

/** What kind of address it is, IPv4 embedded in IPv6 judged as IPv4. */
enum mp2p_addr_kind {
	MP2P_ADDR_PUBLIC = 0,        /**< anything not listed below */
	MP2P_ADDR_LOOPBACK = 1,      /**< 127.0.0.0/8, ::1 */
	MP2P_ADDR_PRIVATE = 2,       /**< 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 */
	MP2P_ADDR_UNSPECIFIED = 3,   /**< 0.0.0.0/8, :: (forbidden) */
	MP2P_ADDR_LINK_LOCAL = 4,    /**< 169.254.0.0/16, fe80::/10 (forbidden) */
	MP2P_ADDR_MULTICAST = 5,     /**< 224.0.0.0/4, ff00::/8 (forbidden) */
	MP2P_ADDR_BROADCAST = 6      /**< 255.255.255.255 (forbidden) */
};

/* Reads 1-3 decimal digits without a leading zero, at most `max`. */
static inline const char *mp2p_addr_number_(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	int digits = 0;

	while (s[digits] >= '0' && s[digits] <= '9') {
		if (digits == 5 || (digits == 1 && s[0] == '0'))
			return NULL;
		v = v * 10 + (unsigned)(s[digits] - '0');
		digits++;
	}
	if (digits == 0 || v > max)
		return NULL;
	*out = v;
	return s + digits;
}

/* IPv4 by the rule from s; returns the first character after it. */
static inline const char *mp2p_addr_v4_(const char *s, uint8_t ip[4])
{
	unsigned v;

	for (int i = 0; i < 4; i++) {
		if ((s = mp2p_addr_number_(s, 255, &v)) == NULL || (i < 3 && *s != '.'))
			return NULL;
		ip[i] = (uint8_t)v;
		if (i < 3)
			s++;
	}
	return s;
}

/** Parses a bare IP address, without a port, as some wire formats carry
 *  it: IPv4 by the rule, or IPv6 without brackets. `length` bytes of
 *  `text` are read (no NUL needed; a NUL inside fails). Returns 0 and
 *  fills *out with port 0, or -1 and leaves *out zeroed. */
static inline int mp2p_addr_parse_ip(const char *text, size_t length, struct mp2p_addr *out)
{
	char buf[46];
	const char *end;

	memset(out, 0, sizeof(*out));
	if (length == 0 || length >= sizeof(buf) || memchr(text, '\0', length) != NULL)
		return -1;
	memcpy(buf, text, length);
	buf[length] = '\0';
	if (memchr(buf, ':', length) != NULL) {
		if (inet_pton(AF_INET6, buf, out->ip) != 1)
			goto bad;
		out->family = AF_INET6;
		return 0;
	}
	if ((end = mp2p_addr_v4_(buf, out->ip)) == NULL || *end != '\0')
		goto bad;
	out->family = AF_INET;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

/** Parses `text` by the address rule. Returns 0 and fills *out, or -1 and
 *  leaves *out zeroed. Never reads past the NUL; any length is safe. */
static inline int mp2p_addr_parse(const char *text, struct mp2p_addr *out)
{
	const char *s, *port;
	unsigned v;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':' || memchr(text + 1, ':', (size_t)(close - text - 1)) == NULL)
			return -1;
		if (mp2p_addr_parse_ip(text + 1, (size_t)(close - text - 1), out) < 0)
			return -1;
		port = close + 2;
	} else {
		if ((s = mp2p_addr_v4_(text, out->ip)) == NULL || *s != ':')
			goto bad;
		out->family = AF_INET;
		port = s + 1;
	}
	if ((s = mp2p_addr_number_(port, 65535, &v)) == NULL || *s != '\0' || v == 0)
		goto bad;
	out->port = (uint16_t)v;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

/** Writes the address alone, without port or brackets ("10.0.0.1",
 *  "fe80::1"), canonical. Returns its length, or -1 if it does not fit. */
static inline int mp2p_addr_format_ip(const struct mp2p_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (a->family == AF_INET6) {
		if (inet_ntop(AF_INET6, a->ip, ip, sizeof(ip)) == NULL)
			return -1;
		n = snprintf(buf, size, "%s", ip);
	} else {
		n = snprintf(buf, size, "%u.%u.%u.%u", (unsigned)a->ip[0], (unsigned)a->ip[1],
		             (unsigned)a->ip[2], (unsigned)a->ip[3]);
	}
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/** Writes the canonical text of `a` ("A.B.C.D:P", "[V6]:P" in RFC 5952
 *  form) into buf. Returns its length, or -1 if it does not fit. Parsing
 *  the text again gives the same address. */
static inline int mp2p_addr_format(const struct mp2p_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (mp2p_addr_format_ip(a, ip, sizeof(ip)) < 0)
		return -1;
	if (a->family == AF_INET6)
		n = snprintf(buf, size, "[%s]:%u", ip, (unsigned)a->port);
	else
		n = snprintf(buf, size, "%s:%u", ip, (unsigned)a->port);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* The IPv4 address inside an IPv6 one, if the IPv6 form is one of those
 * that stand for an IPv4 address: mapped (::ffff:0:0/96), translated
 * (::ffff:0:0:0/96), the deprecated compatible form (::/96 but :: and ::1)
 * and the NAT64 well-known prefix (64:ff9b::/96). Returns 1 and sets *v4. */
static inline int mp2p_addr_embedded_v4_(const uint8_t ip[16], uint32_t *v4)
{
	static const uint8_t zero[10] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	*v4 = mp2p_get_be32(ip + 12);
	if (memcmp(ip, zero, 10) == 0 && ip[10] == 0xff && ip[11] == 0xff)
		return 1;
	if (memcmp(ip, zero, 8) == 0 && ip[8] == 0xff && ip[9] == 0xff &&
	    ip[10] == 0 && ip[11] == 0)
		return 1;
	if (memcmp(ip, nat64, 12) == 0)
		return 1;
	return memcmp(ip, zero, 10) == 0 && ip[10] == 0 && ip[11] == 0 && *v4 > 1;
}

static inline enum mp2p_addr_kind mp2p_addr_kind_v4_(uint32_t a)
{
	if ((a >> 24) == 0)
		return MP2P_ADDR_UNSPECIFIED;
	if ((a >> 24) == 127)
		return MP2P_ADDR_LOOPBACK;
	if ((a >> 16) == 0xa9fe)
		return MP2P_ADDR_LINK_LOCAL;
	if ((a >> 28) == 0xe)
		return MP2P_ADDR_MULTICAST;
	if (a == 0xffffffffu)
		return MP2P_ADDR_BROADCAST;
	if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 ||
	    (a >> 22) == (0x64400000u >> 22))
		return MP2P_ADDR_PRIVATE;
	return MP2P_ADDR_PUBLIC;
}

/** Classifies a parsed address (the port plays no part). */
static inline enum mp2p_addr_kind mp2p_addr_kind(const struct mp2p_addr *a)
{
	static const uint8_t any[16] = { 0 };
	static const uint8_t one[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint32_t v4;

	if (a->family == AF_INET)
		return mp2p_addr_kind_v4_(mp2p_get_be32(a->ip));
	if (memcmp(a->ip, any, 16) == 0)
		return MP2P_ADDR_UNSPECIFIED;
	if (memcmp(a->ip, one, 16) == 0)
		return MP2P_ADDR_LOOPBACK;
	if (mp2p_addr_embedded_v4_(a->ip, &v4))
		return mp2p_addr_kind_v4_(v4);
	if (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80)
		return MP2P_ADDR_LINK_LOCAL;
	if (a->ip[0] == 0xff)
		return MP2P_ADDR_MULTICAST;
	if ((a->ip[0] & 0xfe) == 0xfc)
		return MP2P_ADDR_PRIVATE;
	return MP2P_ADDR_PUBLIC;
}

/** Why no peer may be dialled at this address ("link-local address"), or
 *  NULL if the rule allows it. The text is static. */
static inline const char *mp2p_addr_forbidden(const struct mp2p_addr *a)
{
	switch (mp2p_addr_kind(a)) {
	case MP2P_ADDR_UNSPECIFIED: return "unspecified address";
	case MP2P_ADDR_LINK_LOCAL: return "link-local address";
	case MP2P_ADDR_MULTICAST: return "multicast address";
	case MP2P_ADDR_BROADCAST: return "broadcast address";
	default: return NULL;
	}
}

/** The whole rule in one call, for an address a peer sent: 0 if `text`
 *  parses and is not forbidden; else -1 and, if why is not NULL, *why
 *  set to a static reason ("not a numeric ADDR:PORT", "multicast
 *  address", ...). *out (may be NULL) receives the parsed address. */
static inline int mp2p_addr_check(const char *text, struct mp2p_addr *out, const char **why)
{
	struct mp2p_addr a;
	const char *reason;

	if (mp2p_addr_parse(text, &a) < 0)
		reason = "not a numeric ADDR:PORT (IPv6 as [ADDR]:PORT)";
	else
		reason = mp2p_addr_forbidden(&a);
	if (out != NULL)
		*out = a;
	if (why != NULL)
		*why = reason;
	return reason == NULL ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * Config settings with their allowed range. Each returns 1 and sets *out
 * if the operator wrote the setting and it is valid, 0 if the setting is
 * absent (*out untouched: keep your default), -1 with *error_text naming
 * the file, line and setting otherwise. Call them from init() only.
 * ------------------------------------------------------------------ */

/** An integer in [lo, hi]. */
static inline int mp2p_config_int(const struct mp2p_host_api *api, const mp2p_config *c,
                                  const char *key, long long lo, long long hi,
                                  long long *out, char **error_text)
{
	long long v;
	int r = api->config_get_int(c, key, &v, error_text);

	if (r <= 0)
		return r;
	if (v < lo || v > hi) {
		*error_text = api->config_error(c, key, "must be between %lld and %lld (got %lld)",
		                                lo, hi, v);
		return -1;
	}
	*out = v;
	return 1;
}

/** A number (integers accepted) in [lo, hi]; NaN is refused. */
static inline int mp2p_config_float(const struct mp2p_host_api *api, const mp2p_config *c,
                                    const char *key, double lo, double hi, double *out,
                                    char **error_text)
{
	double v;
	int r = api->config_get_float(c, key, &v, error_text);

	if (r <= 0)
		return r;
	if (!(v >= lo && v <= hi)) {
		*error_text = api->config_error(c, key, "must be between %g and %g (got %g)",
		                                lo, hi, v);
		return -1;
	}
	*out = v;
	return 1;
}

/** A string of 1 to max_length bytes; *out is host-owned, valid during
 *  init() only: copy it. */
static inline int mp2p_config_string(const struct mp2p_host_api *api, const mp2p_config *c,
                                     const char *key, size_t max_length, const char **out,
                                     char **error_text)
{
	const char *v;
	size_t n;
	int r = api->config_get_string(c, key, &v, error_text);

	if (r <= 0)
		return r;
	n = strlen(v);
	if (n == 0 || n > max_length) {
		*error_text = api->config_error(c, key, "must be 1 to %zu characters long",
		                                max_length);
		return -1;
	}
	*out = v;
	return 1;
}

/** An address that follows the rule and is not forbidden. */
static inline int mp2p_config_addr(const struct mp2p_host_api *api, const mp2p_config *c,
                                   const char *key, struct mp2p_addr *out, char **error_text)
{
	const char *v, *why;
	int r = api->config_get_string(c, key, &v, error_text);

	if (r <= 0)
		return r;
	if (mp2p_addr_check(v, out, &why) < 0) {
		*error_text = api->config_error(c, key, "'%s': %s", v, why);
		return -1;
	}
	return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* MAYBEP2P_UTIL_H */

/* dial_rule.c -- host.dial.deny's CIDRs: parsed by the one address rule of
 * <maybep2p/util.h>, and matched however the address is spelt. Pure: no
 * host, no libevent, so the unit tests and the fuzzer drive it alone. */
#include "config.h"
#include "host.h"

#include <maybep2p/util.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* host.dial.deny when the operator writes none: the ranges no peer can be
 * at, and link-local, where cloud metadata services answer
 * (169.254.169.254). Matching sees through IPv4 written as IPv6. */
const char *const dial_deny_default[] = {
	"0.0.0.0/8", "::/128", "169.254.0.0/16", "fe80::/10",
	"224.0.0.0/4", "ff00::/8", "255.255.255.255/32", NULL
};

/* "A.B.C.D/N", "IPV6/N", or an address alone (all its bits). IPv4 follows
 * the address rule of <maybep2p/util.h>: no leading zeros, four parts. */
int dial_rule_parse(const char *text, struct dial_rule *out)
{
	char ip[64], probe[80];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	struct mp2p_addr a;
	int max;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(ip))
		return -1;
	memcpy(ip, text, n);
	ip[n] = '\0';
	/* Through the one address parser: it wants a port, so lend it one. */
	if (strchr(ip, ':') != NULL)
		snprintf(probe, sizeof(probe), "[%s]:1", ip);
	else
		snprintf(probe, sizeof(probe), "%s:1", ip);
	if (mp2p_addr_parse(probe, &a) < 0)
		return -1;
	out->family = a.family;
	memcpy(out->ip, a.ip, sizeof(out->ip));
	max = a.family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash != NULL) {
		const char *d = slash + 1;
		int bits = 0, digits = 0;
		for (; *d >= '0' && *d <= '9' && digits < 4; d++, digits++)
			bits = bits * 10 + (*d - '0');
		if (digits == 0 || *d != '\0' || (digits > 1 && slash[1] == '0') || bits > max)
			return -1;
		out->bits = bits;
	}
	return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Does the rule cover this socket address? An IPv4 rule also covers the
 * IPv6 forms that carry an IPv4 address (::ffff:169.254.0.1 and kin), so
 * no spelling slips past it. */
int dial_rule_match(const struct dial_rule *r, const struct sockaddr *sa)
{
	uint8_t v4[4];
	uint32_t embedded;

	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return r->family == AF_INET && prefix_equal(v4, r->ip, r->bits);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const uint8_t *ip6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (r->family == AF_INET6)
		return prefix_equal(ip6, r->ip, r->bits);
	if (!mp2p_addr_embedded_v4_(ip6, &embedded))
		return 0;
	mp2p_put_be32(v4, embedded);
	return prefix_equal(v4, r->ip, r->bits);
}


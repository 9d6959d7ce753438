/* addr.c -- "ADDR:PORT" and "[ADDR]:PORT" to socket addresses and back. */
#include "config.h"
#include "host.h"

#include <maybep2p/util.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Numeric addresses only (a name would need DNS, and DNS would block), by
 * the one rule in <maybep2p/util.h> that the plugins follow too. Whether
 * the address may be dialled is not decided here: 0.0.0.0 is a fine
 * address to listen on. */
int addr_parse(const char *text, struct sockaddr_storage *ss, int *len_out)
{
	struct mp2p_addr a;

	memset(ss, 0, sizeof(*ss));
	if (mp2p_addr_parse(text, &a) < 0)
		return -1;
	if (a.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		memcpy(&s6->sin6_addr, a.ip, 16);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a.port);
		*len_out = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		memcpy(&s4->sin_addr, a.ip, 4);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a.port);
		*len_out = sizeof(*s4);
	}
	return 0;
}

/* An address to listen on: the same rule, and port 0 besides, which asks
 * the kernel to pick one (peers are never told to dial port 0). */
int addr_parse_listen(const char *text, struct sockaddr_storage *ss, int *len_out)
{
	size_t n = strlen(text);
	char *one;
	int rc;

	if (addr_parse(text, ss, len_out) == 0)
		return 0;
	if (n < 3 || text[n - 1] != '0' || text[n - 2] != ':' || (one = strdup(text)) == NULL)
		return -1;
	one[n - 1] = '1';
	rc = addr_parse(one, ss, len_out);
	free(one);
	if (rc < 0)
		return -1;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)ss)->sin_port = 0;
	return 0;
}

void addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, size, "(unknown address family %d)", sa->sa_family);
	}
}

/* The IPv4 address of an AF_INET address or of an IPv4-mapped IPv6 one
 * (::ffff:a.b.c.d), so that one host reached both ways is one host. */
static int v4_of(const struct sockaddr *sa, uint32_t *v4)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		*v4 = ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
		return 1;
	}
	if (sa->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return 0;
	memcpy(v4, &s6->sin6_addr.s6_addr[12], 4);
	return 1;
}

/* A key for the per-IP connection count: the address without its port.
 * An IPv6 peer usually holds a whole /64 (or more), so IPv6 addresses are
 * counted by their first `ipv6_prefix` bits; IPv4 written as IPv6 counts
 * as the IPv4 address it is. */
uint64_t addr_ip_key(const struct sockaddr *sa, long ipv6_prefix)
{
	uint32_t v4;

	if (v4_of(sa, &v4))
		return (1ull << 32) | ntohl(v4);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		uint8_t ip[17];
		long bits = ipv6_prefix < 0 ? 0 : ipv6_prefix > 128 ? 128 : ipv6_prefix;
		memcpy(ip, &s6->sin6_addr, 16);
		for (long b = bits; b < 128; b++)
			ip[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
		ip[16] = (uint8_t)bits;
		return hash_bytes(ip, sizeof(ip)) | (1ull << 63);
	}
	return 1;
}

/* 0.0.0.0 or ::, as a listener may be bound to. */
int addr_is_any(const struct sockaddr *sa)
{
	static const uint8_t any6[16] = { 0 };

	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == 0;
	return sa->sa_family == AF_INET6 &&
	       memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, any6, 16) == 0;
}

/* Do two socket addresses name the same IP (ports aside)? */
int addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	uint32_t va = 0, vb = 0;
	int a4 = v4_of(a, &va), b4 = v4_of(b, &vb);

	if (a4 || b4)
		return a4 && b4 && va == vb;
	if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

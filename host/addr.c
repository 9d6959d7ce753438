/* addr.c -- "ADDR:PORT" and "[ADDR]:PORT" to socket addresses and back. */
#include "config.h"
#include "host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Numeric addresses only: a name would need DNS, and DNS would block. */
int addr_parse(const char *text, struct sockaddr_storage *ss, int *len_out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text;
	char *end;
	size_t hlen;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - text - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hlen);
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL || strchr(text, ':') != colon)
			return -1;
		hlen = (size_t)(colon - text);
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, text, hlen);
		port_text = colon + 1;
	}
	host[hlen] = '\0';
	if (*port_text < '0' || *port_text > '9')
		return -1;
	port = strtol(port_text, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return -1;
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len_out = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len_out = sizeof(*s4);
	}
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

/* A key for the per-IP connection count: the address without its port. */
uint64_t addr_ip_key(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return (1ull << 32) | ntohl(s4->sin_addr.s_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return hash_bytes(&s6->sin6_addr, sizeof(s6->sin6_addr)) | (1ull << 63);
	}
	return 1;
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

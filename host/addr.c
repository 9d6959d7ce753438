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

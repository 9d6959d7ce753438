/* fuzz_dial.c -- host.dial.deny's rule parser and matcher over any text:
 * never a read past the input, and a parsed rule always covers its own
 * network address, in IPv4 and in IPv4-mapped IPv6 alike. */
// sources: host/dial_rule.c
#include "host.h"

#include <maybep2p/util.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void to_sockaddr(const struct mp2p_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *split = memchr(data, '\n', size);
	size_t rlen = split ? (size_t)(split - data) : size;
	char *rule = malloc(rlen + 1), *addr;
	struct sockaddr_storage ss;
	struct dial_rule r;
	struct mp2p_addr a;

	memcpy(rule, data, rlen);
	rule[rlen] = '\0';
	if (dial_rule_parse(rule, &r) == 0) {
		struct sockaddr_in6 mapped;
		/* The rule's own address is inside it. */
		memset(&ss, 0, sizeof(ss));
		if (r.family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, r.ip, 4);
			if (!dial_rule_match(&r, (struct sockaddr *)&ss))
				abort();
			/* And so is its ::ffff: spelling. */
			memset(&mapped, 0, sizeof(mapped));
			mapped.sin6_family = AF_INET6;
			mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&mapped.sin6_addr.s6_addr[12], r.ip, 4);
			if (!dial_rule_match(&r, (struct sockaddr *)&mapped))
				abort();
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, r.ip, 16);
			if (!dial_rule_match(&r, (struct sockaddr *)&ss))
				abort();
		}
		if (r.bits < 0 || r.bits > (r.family == AF_INET ? 32 : 128))
			abort();
	}
	/* The rest of the input is an address a peer named. */
	if (split != NULL) {
		size_t alen = size - rlen - 1;
		addr = malloc(alen + 1);
		memcpy(addr, split + 1, alen);
		addr[alen] = '\0';
		if (mp2p_addr_parse(addr, &a) == 0) {
			int denied = 0;
			to_sockaddr(&a, &ss);
			for (int i = 0; dial_deny_default[i] != NULL; i++) {
				struct dial_rule d;
				if (dial_rule_parse(dial_deny_default[i], &d) < 0)
					abort();
				denied |= dial_rule_match(&d, (struct sockaddr *)&ss);
			}
			/* The default list and util.h's forbidden ranges agree. */
			if (denied != (mp2p_addr_forbidden(&a) != NULL))
				abort();
			if (rule[0] != '\0' && dial_rule_parse(rule, &r) == 0)
				(void)dial_rule_match(&r, (struct sockaddr *)&ss);
		}
		free(addr);
	}
	free(rule);
	return 0;
}

/* dial.c -- the dial guard: which addresses a plugin may make the host dial.
 * Plugins dial what peers tell them about, so every rule here stands
 * between a hostile peer and a third party it would like us to flood. */
#include "config.h"
#include "host.h"

#include <string.h>

/* An address a peer named as its own, on connection `claimed_on`, is
 * dialled only if the peer is at that IP: otherwise one frame could send
 * this host at anyone. The port is not compared, since a peer dials out
 * from a port other than the one it listens on. */
int dial_claim_allowed(struct host *h, struct mp2p_host *in, uint64_t claimed_on,
                       const char *addr, const struct sockaddr *sa)
{
	static struct ratelog rl_gone, rl_other;
	struct sockaddr_storage from;
	char from_text[64];

	if (h->cfg.dial_trust_claims)
		return 1;
	if (conn_peer_addr(h, claimed_on, &from) < 0) {
		h->stats.dial_refused_claim++;
		log_rated(&rl_gone, HLOG_WARN,
		          "%s: refused to dial %s: the connection %llu that claimed it is gone",
		          in->name, addr, (unsigned long long)claimed_on);
		return 0;
	}
	if (addr_same_ip((const struct sockaddr *)&from, sa))
		return 1;
	h->stats.dial_refused_claim++;
	addr_format((const struct sockaddr *)&from, from_text, sizeof(from_text));
	log_rated(&rl_other, HLOG_WARN,
	          "%s: refused to dial %s: claimed by %s, another IP (host.dial.trust_claims is off)",
	          in->name, addr, from_text);
	return 0;
}

/* dial.c -- the dial guard: which addresses a plugin may make the host dial.
 * Plugins dial what peers tell them about, so every rule here stands
 * between a hostile peer and a third party it would like us to flood. */
#include "config.h"
#include "host.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The host's own listening sockets, by the address dialled: an exact
 * match, or the port of a wildcard listener on any loopback address. */
static int is_self(struct host *h, const struct sockaddr *sa)
{
	struct sockaddr_storage ls;
	struct dial_rule loop4, loop6;
	int len;

	dial_rule_parse("127.0.0.0/8", &loop4);
	dial_rule_parse("::1", &loop6);
	for (int i = 0; i < h->cfg.nlisten; i++) {
		const struct sockaddr *l = (const struct sockaddr *)&ls;
		uint16_t lport, port;
		if (addr_parse_listen(h->cfg.listen[i], &ls, &len) < 0)
			continue;
		lport = l->sa_family == AF_INET ? ((const struct sockaddr_in *)l)->sin_port
		                                : ((const struct sockaddr_in6 *)l)->sin6_port;
		port = sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
		                                : ((const struct sockaddr_in6 *)sa)->sin6_port;
		if (lport != port)
			continue;
		if (addr_same_ip(l, sa))
			return 1;
		if (addr_is_any(l) && (dial_rule_match(&loop4, sa) || dial_rule_match(&loop6, sa)))
			return 1;
	}
	if (h->advertise != NULL && addr_parse(h->advertise, &ls, &len) == 0 &&
	    addr_same_ip((const struct sockaddr *)&ls, sa) &&
	    ((const struct sockaddr_in *)&ls)->sin_port == ((const struct sockaddr_in *)sa)->sin_port)
		return 1;
	return 0;
}

/* Every dial a plugin asks for passes here first. Each refusal has its
 * counter (maybep2pctl stats) and one log line a second at most. */
int dial_allowed(struct host *h, struct mp2p_host *in, const char *addr, const struct sockaddr *sa)
{
	static struct ratelog rl_deny, rl_self, rl_out, rl_rate, rl_pending;
	double now = host_now(h);
	long pending;

	for (int i = 0; i < h->cfg.ndial_deny; i++) {
		if (dial_rule_match(&h->cfg.dial_deny[i], sa)) {
			h->stats.dial_refused_deny++;
			log_rated(&rl_deny, HLOG_WARN, "%s: refused to dial %s: in host.dial.deny",
			          in->name, addr);
			return 0;
		}
	}
	if (is_self(h, sa)) {
		h->stats.dial_refused_self++;
		log_rated(&rl_self, HLOG_WARN, "%s: refused to dial %s: it is this host's own address",
		          in->name, addr);
		return 0;
	}
	if (h->nout >= h->cfg.max_outbound) {
		h->stats.dial_refused_outbound++;
		log_rated(&rl_out, HLOG_WARN, "%s: refused to dial %s: max_outbound (%ld) reached",
		          in->name, addr, h->cfg.max_outbound);
		return 0;
	}
	pending = (long)(uintptr_t)idmap_get(&h->dial_pending, addr_ip_key(sa, 128));
	if (pending >= h->cfg.dial_pending_per_ip) {
		h->stats.dial_refused_pending++;
		log_rated(&rl_pending, HLOG_WARN,
		          "%s: refused to dial %s: %ld dials to that IP are still connecting",
		          in->name, addr, pending);
		return 0;
	}
	/* A token bucket: `rate` a second, at most a second's worth saved. */
	h->dial_tokens += (now - h->dial_refill) * h->cfg.dial_rate;
	if (h->dial_tokens > h->cfg.dial_rate)
		h->dial_tokens = h->cfg.dial_rate;
	h->dial_refill = now;
	if (h->dial_tokens < 1.0) {
		h->stats.dial_refused_rate++;
		log_rated(&rl_rate, HLOG_WARN, "%s: refused to dial %s: over host.dial.rate (%g a second)",
		          in->name, addr, h->cfg.dial_rate);
		return 0;
	}
	h->dial_tokens -= 1.0;
	return 1;
}

static void pending_add(struct host *h, uint64_t key, long delta)
{
	long n = (long)(uintptr_t)idmap_get(&h->dial_pending, key) + delta;

	if (n <= 0)
		idmap_del(&h->dial_pending, key);
	else
		idmap_put(&h->dial_pending, key, (void *)(uintptr_t)n);
}

/* A dial to this destination IP is connecting, or no longer is. */
void dial_started(struct host *h, uint64_t dest_key) { pending_add(h, dest_key, 1); }
void dial_finished(struct host *h, uint64_t dest_key) { pending_add(h, dest_key, -1); }

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

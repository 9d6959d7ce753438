/* fuzz_classicv1.c -- libFuzzer harness for the classicv1 payload decoders
 * and the reader of its saved state.
 *
 * The first input byte picks a decoder, the rest is the payload. Whatever a
 * decoder accepts must encode back to bytes it accepts again with the same
 * meaning, so the harness also checks that the codec agrees with itself.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isdk/include \
 *     tests/fuzz/fuzz_classicv1.c plugins/classicv1/cv1_wire.c \
 *     plugins/classicv1/cv1_peers.c plugins/classicv1/cv1_dedup.c \
 *     plugins/classicv1/cv1_state.c plugins/classicv1/cv1_inbox.c -o fuzz_classicv1
 *
 * tests/fuzz/run.sh builds it from the sources named here:
 */
// sources: plugins/classicv1/cv1_wire.c plugins/classicv1/cv1_peers.c plugins/classicv1/cv1_dedup.c plugins/classicv1/cv1_state.c plugins/classicv1/cv1_inbox.c
#include <stdlib.h>
#include <string.h>

#include "../../plugins/classicv1/cv1.h"
#include "../../plugins/classicv1/cv1_node.h"

/* The state reader asks the host only for the time. */
static struct mp2p_host_api fake_api;
static double fake_now(mp2p_host *h)
{
	(void)h;
	return 1000.0;
}

/* A damaged state file is refused or read; what is read saves again and
 * reads back to the same bytes. */
static void state(const uint8_t *p, size_t n)
{
	static struct cv1 c1, c2;
	void *out1 = NULL, *out2 = NULL;
	size_t len1 = 0, len2 = 0;
	char *err = NULL;

	fake_api.now = fake_now;
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	c1.api = c2.api = &fake_api;
	c1.max_peers = c2.max_peers = 8;
	/* init() gives every instance a pid before any state is read. */
	strcpy(c1.pid, "fresh");
	strcpy(c2.pid, "fresh");
	if (cv1_peers_init(&c1.peers, 8) < 0 || cv1_peers_init(&c2.peers, 8) < 0 ||
	    cv1_dedup_init(&c1.dedup, 64, 600) < 0 || cv1_dedup_init(&c2.dedup, 64, 600) < 0)
		abort();
	if (cv1_state_restore(&c1, (const char *)p, n, &err) == 0) {
		if (cv1_state_save(&c1, &out1, &len1) < 0 ||
		    cv1_state_restore(&c2, out1, len1, &err) != 0 ||
		    cv1_state_save(&c2, &out2, &len2) < 0 || len1 != len2 ||
		    memcmp(out1, out2, len1) != 0)
			abort();
	}
	if (c1.peers.count > c1.peers.max || c1.inbox.count > CV1_INBOX_MAX)
		abort();
	free(err);
	free(out1);
	free(out2);
	cv1_inbox_clear(&c1.inbox);
	cv1_inbox_clear(&c2.inbox);
	cv1_peers_free(&c1.peers);
	cv1_peers_free(&c2.peers);
	cv1_dedup_free(&c1.dedup);
	cv1_dedup_free(&c2.dedup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv1_peer_addr entries[CV1_LIST_MAX];
static struct cv1_peer_addr again[CV1_LIST_MAX];
static char buf[CV1_LIST_MAX * CV1_LIST_ENTRY_MAX + 64];

static void same_peer(const struct cv1_peer_addr *a, const struct cv1_peer_addr *b)
{
	if (strcmp(a->pid, b->pid) != 0 || strcmp(a->addr, b->addr) != 0 || a->port != b->port)
		abort();
}

/* Decoded peers also go through the table, which must stay bounded. */
static void table(const struct cv1_peer_addr *pa, size_t n)
{
	struct cv1_peers t;

	if (cv1_peers_init(&t, 8) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct cv1_peer *p;
		cv1_peers_add(&t, &pa[i], (double)i, (int)(i & 1), &p);
		if (p != NULL && i % 3 == 2)
			cv1_peers_remove(&t, p, (double)i, 5.0);
		if (t.count > t.max)
			abort();
	}
	cv1_peers_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1;
	size_t n = size ? size - 1 : 0, count, count2;
	struct cv1_peer_addr pa, pb;
	struct cv1_mesg m, m2;
	struct cv1_capa k, k2;
	char pid[CV1_PID_MAX + 1];
	int dir, dir2, len;

	if (size == 0)
		return 0;
	switch (data[0] % 8) {
	case 0:
		if (cv1_decode_join(p, n, &dir, &pa) != CV1_OK)
			break;
		len = cv1_encode_join(buf, sizeof(buf), dir, pa.pid, pa.addr, pa.port);
		if (len < 0 || cv1_decode_join((uint8_t *)buf, (size_t)len, &dir2, &pb) != CV1_OK ||
		    dir != dir2)
			abort();
		same_peer(&pa, &pb);
		table(&pa, 1);
		break;
	case 1:
		if (cv1_decode_list(p, n, &dir, entries, CV1_LIST_MAX, &count) != CV1_OK)
			break;
		if (count > CV1_LIST_MAX)
			abort();
		len = dir == CV1_REQ ? cv1_encode_list_req(buf, sizeof(buf))
		                     : cv1_encode_list_res(buf, sizeof(buf), entries, count);
		if (len < 0 || cv1_decode_list((uint8_t *)buf, (size_t)len, &dir2, again,
		                               CV1_LIST_MAX, &count2) != CV1_OK ||
		    dir != dir2 || count != count2)
			abort();
		for (size_t i = 0; i < count; i++)
			same_peer(&entries[i], &again[i]);
		table(entries, count);
		break;
	case 2:
		if (cv1_decode_quit(p, n, pid) == CV1_OK && strlen(pid) != n)
			abort();
		break;
	case 3:
		if (cv1_decode_mesg(p, n, &m) != CV1_OK)
			break;
		if (m.text < (const char *)p || m.text + m.text_length > (const char *)p + n)
			abort();
		len = m.forward ? cv1_encode_for(buf, sizeof(buf), m.id, m.hops, m.origin, m.from,
		                                 m.text, m.text_length)
		                : cv1_encode_mesg(buf, sizeof(buf), m.text, m.text_length);
		if (len < 0)
			break;   /* a text longer than our buffer */
		if (cv1_decode_mesg((uint8_t *)buf, (size_t)len, &m2) != CV1_OK ||
		    m.forward != m2.forward || m.id != m2.id || m.hops != m2.hops ||
		    m.text_length != m2.text_length || memcmp(m.text, m2.text, m.text_length) != 0)
			abort();
		break;
	case 4:
		if (cv1_decode_capa(p, n, &k) != CV1_OK)
			break;
		len = cv1_encode_capa(buf, sizeof(buf), k.dir, k.peer.pid, k.peer.addr, k.peer.port,
		                      k.version);
		if (len < 0 || cv1_decode_capa((uint8_t *)buf, (size_t)len, &k2) != CV1_OK ||
		    k.version != k2.version || k.dir != k2.dir)
			abort();
		same_peer(&k.peer, &k2.peer);
		break;
	case 5: {
		/* ADDR:PORT as the config, DNS records and `join` give it. */
		char text[128], addr[CV1_ADDR_MAX + 1];
		uint16_t port;
		size_t tn = n < sizeof(text) - 1 ? n : sizeof(text) - 1;

		memcpy(text, p, tn);
		text[tn] = '\0';
		if (cv1_parse_hostport(text, addr, &port) == 0 &&
		    (cv1_hostport(buf, sizeof(buf), addr, port) < 0 ||
		     cv1_parse_hostport(buf, addr, &port) != 0))
			abort();
		break;
	}
	case 6:
		state(p, n);
		break;
	case 7: {
		/* A quiet broadcast's text: decodes to at most the limit, and the
		 * bytes encode back to the same text (one text, one meaning). */
		static uint8_t bytes[CV1_QUIET_MAX];
		static char text[CV1_QUIET_TEXT_MAX + 1];
		size_t got = 0;

		if (cv1_quiet_decode((const char *)p, n, bytes, sizeof(bytes), &got) != 0)
			break;
		if (got == 0 || got > CV1_QUIET_MAX)
			abort();
		len = cv1_quiet_encode(text, sizeof(text), bytes, got);
		if (len < 0 || (size_t)len != n || memcmp(text, p, n) != 0)
			abort();
		break;
	}
	}
	return 0;
}

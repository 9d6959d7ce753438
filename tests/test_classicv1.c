/* test_classicv1.c -- CUnit tests of the classicv1 payload codec, peer table,
 * broadcast dedup cache and saved state, against exact bytes.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/classicv1/cv1.h"
#include "../plugins/classicv1/cv1_node.h"
#include "addr_rows.h"

/* The saved-state code asks the host only for the time. */
static struct mp2p_host_api fake_api;
static double fake_now(mp2p_host *h)
{
	(void)h;
	return 100.0;
}

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* ---- JOIN -------------------------------------------------------------- */

static void test_join_encode(void)
{
	char buf[128];
	int n = cv1_encode_join(buf, sizeof(buf), CV1_REQ, "3f1c-aa", "127.0.0.1", 4000);

	CU_ASSERT_EQUAL(n, 26);
	CU_ASSERT_STRING_EQUAL(buf, "REQ,3f1c-aa,127.0.0.1,4000");
	n = cv1_encode_join(buf, sizeof(buf), CV1_RES, "p", "::1", 65535);
	CU_ASSERT_EQUAL(n, 15);
	CU_ASSERT_STRING_EQUAL(buf, "RES,p,::1,65535");
	CU_ASSERT_EQUAL(cv1_encode_join(buf, 10, CV1_REQ, "p", "127.0.0.1", 1), CV1_E_SPACE);
}

static void test_join_decode(void)
{
	struct cv1_peer_addr pa;
	int dir = -1;

	/* A reference peer's JOIN, with its UUID4 pid. */
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,7d3b9a1e-2f44-4c1b-9d7e-0a5b6c7d8e9f,127.0.0.1,5001"),
	                                &dir, &pa), CV1_OK);
	CU_ASSERT_EQUAL(dir, CV1_REQ);
	CU_ASSERT_STRING_EQUAL(pa.pid, "7d3b9a1e-2f44-4c1b-9d7e-0a5b6c7d8e9f");
	CU_ASSERT_STRING_EQUAL(pa.addr, "127.0.0.1");
	CU_ASSERT_EQUAL(pa.port, 5001);
	CU_ASSERT_EQUAL(cv1_decode_join(B("RES,x,::1,1"), &dir, &pa), CV1_OK);
	CU_ASSERT_EQUAL(dir, CV1_RES);
	CU_ASSERT_STRING_EQUAL(pa.addr, "::1");
	CU_ASSERT_EQUAL(pa.port, 1);
}

static void test_join_malformed(void)
{
	struct cv1_peer_addr pa;
	int dir;

	CU_ASSERT_EQUAL(cv1_decode_join(B(""), &dir, &pa), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1"), &dir, &pa), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,5,"), &dir, &pa), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_join(B("FOR,p,127.0.0.1,5"), &dir, &pa), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_join(B("req,p,127.0.0.1,5"), &dir, &pa), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,,127.0.0.1,5"), &dir, &pa), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,a|b,127.0.0.1,5"), &dir, &pa), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,a b,127.0.0.1,5"), &dir, &pa), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,localhost,5"), &dir, &pa), CV1_E_ADDR);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.256,5"), &dir, &pa), CV1_E_ADDR);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,,5"), &dir, &pa), CV1_E_ADDR);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,0"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,65536"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,+80"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1, 80"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,080000"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,http"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,"), &dir, &pa), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p\xc3\xa9,127.0.0.1,5"), &dir, &pa), CV1_E_ASCII);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p\0q,127.0.0.1,5"), &dir, &pa), CV1_E_ASCII);
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,p,127.0.0.1,5\n"), &dir, &pa), CV1_E_ASCII);
	/* 65 characters: one more than a pid may have. */
	CU_ASSERT_EQUAL(cv1_decode_join(B("REQ,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
	                                  "127.0.0.1,5"), &dir, &pa), CV1_E_PID);
}

/* ---- LIST -------------------------------------------------------------- */

static void test_list_codec(void)
{
	struct cv1_peer_addr e[4];
	char buf[256];
	size_t n = 99;
	int dir = -1;

	CU_ASSERT_EQUAL(cv1_encode_list_req(buf, sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(buf, "REQ");
	CU_ASSERT_EQUAL(cv1_encode_list_res(buf, sizeof(buf), e, 0), 3);
	CU_ASSERT_STRING_EQUAL(buf, "RES");
	strcpy(e[0].pid, "a1");
	strcpy(e[0].addr, "127.0.0.1");
	e[0].port = 4000;
	strcpy(e[1].pid, "b2");
	strcpy(e[1].addr, "::1");
	e[1].port = 4001;
	CU_ASSERT_EQUAL(cv1_encode_list_res(buf, sizeof(buf), e, 2), 33);
	CU_ASSERT_STRING_EQUAL(buf, "RES,a1|127.0.0.1|4000,b2|::1|4001");
	CU_ASSERT_EQUAL(cv1_encode_list_res(buf, 20, e, 2), CV1_E_SPACE);

	CU_ASSERT_EQUAL(cv1_decode_list(B("REQ"), &dir, e, 4, &n), CV1_OK);
	CU_ASSERT_EQUAL(dir, CV1_REQ);
	CU_ASSERT_EQUAL(n, 0);
	/* The original's empty table is a bare RES. */
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES"), &dir, e, 4, &n), CV1_OK);
	CU_ASSERT_EQUAL(dir, CV1_RES);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,x|10.0.0.2|7,y|::1|8,z|127.0.0.1|65535"),
	                                &dir, e, 4, &n), CV1_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(e[0].pid, "x");
	CU_ASSERT_STRING_EQUAL(e[0].addr, "10.0.0.2");
	CU_ASSERT_EQUAL(e[0].port, 7);
	CU_ASSERT_STRING_EQUAL(e[1].addr, "::1");
	CU_ASSERT_STRING_EQUAL(e[2].pid, "z");
	CU_ASSERT_EQUAL(e[2].port, 65535);
}

static void test_list_malformed(void)
{
	struct cv1_peer_addr e[CV1_LIST_MAX];
	size_t n;
	int dir;
	char *big;
	size_t len = 0;

	CU_ASSERT_EQUAL(cv1_decode_list(B("REQ,"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4|5,"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4|5|6"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,|1.2.3.4|5"), &dir, e, 4, &n), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4|99999"), &dir, e, 4, &n), CV1_E_PORT);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4|5,b|x|5"), &dir, e, 4, &n), CV1_E_ADDR);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(cv1_decode_list(B("LIST"), &dir, e, 4, &n), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_list(B("RES,a|1.2.3.4|5,b|1.2.3.4|5,c|1.2.3.4|5"), &dir, e,
	                                2, &n), CV1_E_TOOMANY);

	/* Thousands of entries: refused whole, nothing copied past the limit. */
	big = malloc(3000 * 24 + 8);
	CU_ASSERT_FATAL(big != NULL);
	len = (size_t)sprintf(big, "RES");
	for (int i = 0; i < 3000; i++)
		len += (size_t)sprintf(big + len, ",p%d|127.0.0.1|%d", i, 1000 + i);
	CU_ASSERT_EQUAL(cv1_decode_list((const uint8_t *)big, len, &dir, e, CV1_LIST_MAX, &n),
	                CV1_E_TOOMANY);
	CU_ASSERT_EQUAL(n, 0);
	free(big);
}

/* ---- QUIT, ERRO-less types, GONE ---------------------------------------- */

static void test_quit(void)
{
	char pid[CV1_PID_MAX + 1], buf[80];

	CU_ASSERT_EQUAL(cv1_encode_quit(buf, sizeof(buf), "7d3b-9a"), 7);
	CU_ASSERT_STRING_EQUAL(buf, "7d3b-9a");
	CU_ASSERT_EQUAL(cv1_decode_quit(B("7d3b-9a"), pid), CV1_OK);
	CU_ASSERT_STRING_EQUAL(pid, "7d3b-9a");
	/* No REQ/RES prefix: a comma makes it a bad pid. */
	CU_ASSERT_EQUAL(cv1_decode_quit(B("REQ,7d3b"), pid), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_quit(B(""), pid), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_quit(B("a|b"), pid), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_quit(B("\xff"), pid), CV1_E_ASCII);
	CU_ASSERT_EQUAL(cv1_encode_gone(buf, sizeof(buf), "x"), 1);
	CU_ASSERT_EQUAL(cv1_decode_gone(B("x"), pid), CV1_OK);
	CU_ASSERT_STRING_EQUAL(pid, "x");
}

/* ---- MESG -------------------------------------------------------------- */

static void test_mesg_req(void)
{
	struct cv1_mesg m;
	char buf[64];

	CU_ASSERT_EQUAL(cv1_encode_mesg(buf, sizeof(buf), "hello", 5), 9);
	CU_ASSERT_STRING_EQUAL(buf, "REQ,hello");
	CU_ASSERT_EQUAL(cv1_encode_mesg(buf, 9, "hello", 5), CV1_E_SPACE);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ,hello"), &m), CV1_OK);
	CU_ASSERT_EQUAL(m.forward, 0);
	CU_ASSERT_EQUAL(m.text_length, 5);
	CU_ASSERT_NSTRING_EQUAL(m.text, "hello", 5);
	/* The original kept only "hi"; we deliver the whole text. */
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ,hi, there,all"), &m), CV1_OK);
	CU_ASSERT_EQUAL(m.text_length, 13);
	CU_ASSERT_NSTRING_EQUAL(m.text, "hi, there,all", 13);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ,"), &m), CV1_OK);
	CU_ASSERT_EQUAL(m.text_length, 0);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ"), &m), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("RES,hello"), &m), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("hello"), &m), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ,caf\xc3\xa9"), &m), CV1_E_ASCII);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("REQ,a\tb"), &m), CV1_E_ASCII);
}

static void test_mesg_for(void)
{
	struct cv1_mesg m;
	char buf[128];
	int n;

	n = cv1_encode_for(buf, sizeof(buf), 0x0123456789abcdefULL, 7, "orig", "hop", "a,b", 3);
	CU_ASSERT_EQUAL(n, 35);
	CU_ASSERT_STRING_EQUAL(buf, "FOR,0123456789abcdef,7,orig,hop,a,b");
	CU_ASSERT_EQUAL(cv1_decode_mesg((const uint8_t *)buf, (size_t)n, &m), CV1_OK);
	CU_ASSERT_EQUAL(m.forward, 1);
	CU_ASSERT(m.id == 0x0123456789abcdefULL);
	CU_ASSERT_EQUAL(m.hops, 7);
	CU_ASSERT_STRING_EQUAL(m.origin, "orig");
	CU_ASSERT_STRING_EQUAL(m.from, "hop");
	CU_ASSERT_EQUAL(m.text_length, 3);
	CU_ASSERT_NSTRING_EQUAL(m.text, "a,b", 3);
	CU_ASSERT_EQUAL(cv1_encode_for(buf, 35, 1, 7, "orig", "hop", "a,b", 3), CV1_E_SPACE);

	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789ABCDEF,1,o,f,"), &m), CV1_OK);
	CU_ASSERT_EQUAL(m.text_length, 0);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcde,1,o,f,t"), &m), CV1_E_ID);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdeg,1,o,f,t"), &m), CV1_E_ID);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,0,o,f,t"), &m), CV1_E_HOPS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,256,o,f,t"), &m), CV1_E_HOPS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,-1,o,f,t"), &m), CV1_E_HOPS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,1,,f,t"), &m), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,1,o,,t"), &m), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,1,o|x,f,t"), &m), CV1_E_PID);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR,0123456789abcdef,1,o,f"), &m), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_mesg(B("FOR"), &m), CV1_E_FIELDS);
}

/* ---- CAPA and addresses ------------------------------------------------ */

static void test_capa(void)
{
	struct cv1_capa k;
	char buf[128];

	CU_ASSERT_EQUAL(cv1_encode_capa(buf, sizeof(buf), CV1_REQ, "me", "127.0.0.2", 4100, 1), 23);
	CU_ASSERT_STRING_EQUAL(buf, "REQ,me,127.0.0.2,4100,1");
	CU_ASSERT_EQUAL(cv1_decode_capa((const uint8_t *)buf, strlen(buf), &k), CV1_OK);
	CU_ASSERT_EQUAL(k.dir, CV1_REQ);
	CU_ASSERT_STRING_EQUAL(k.peer.pid, "me");
	CU_ASSERT_STRING_EQUAL(k.peer.addr, "127.0.0.2");
	CU_ASSERT_EQUAL(k.peer.port, 4100);
	CU_ASSERT_EQUAL(k.version, 1);
	CU_ASSERT_EQUAL(cv1_decode_capa(B("RES,me,127.0.0.2,4100,2"), &k), CV1_OK);
	CU_ASSERT_EQUAL(k.dir, CV1_RES);
	CU_ASSERT_EQUAL(k.version, 2);
	CU_ASSERT_EQUAL(cv1_decode_capa(B("RES,me,127.0.0.2,4100"), &k), CV1_E_FIELDS);
	CU_ASSERT_EQUAL(cv1_decode_capa(B("RES,me,127.0.0.2,4100,0"), &k), CV1_E_VERSION);
	CU_ASSERT_EQUAL(cv1_decode_capa(B("RES,me,127.0.0.2,4100,v1"), &k), CV1_E_VERSION);
}

static void test_hostport(void)
{
	char addr[CV1_ADDR_MAX + 1], buf[CV1_HOSTPORT_MAX];
	uint16_t port;

	CU_ASSERT_EQUAL(cv1_parse_hostport("127.0.0.1:4000", addr, &port), 0);
	CU_ASSERT_STRING_EQUAL(addr, "127.0.0.1");
	CU_ASSERT_EQUAL(port, 4000);
	CU_ASSERT_EQUAL(cv1_parse_hostport("[::1]:53", addr, &port), 0);
	CU_ASSERT_STRING_EQUAL(addr, "::1");
	CU_ASSERT_EQUAL(port, 53);
	CU_ASSERT_EQUAL(cv1_parse_hostport("::1:53", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport("localhost:53", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport("127.0.0.1:", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport("127.0.0.1:0", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport(":53", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport("127.0.0.1", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_parse_hostport("[::1]53", addr, &port), -1);
	CU_ASSERT_EQUAL(cv1_hostport(buf, sizeof(buf), "::1", 53), 8);
	CU_ASSERT_STRING_EQUAL(buf, "[::1]:53");
	CU_ASSERT_EQUAL(cv1_hostport(buf, sizeof(buf), "10.1.2.3", 7), 10);
	CU_ASSERT_STRING_EQUAL(buf, "10.1.2.3:7");
}

static void test_ids(void)
{
	char hex[CV1_ID_HEX + 1];
	uint64_t id = 0;

	cv1_id_format(hex, 0xfedcba9876543210ULL);
	CU_ASSERT_STRING_EQUAL(hex, "fedcba9876543210");
	CU_ASSERT_EQUAL(cv1_id_parse(hex, 16, &id), 0);
	CU_ASSERT(id == 0xfedcba9876543210ULL);
	cv1_id_format(hex, 1);
	CU_ASSERT_STRING_EQUAL(hex, "0000000000000001");
	CU_ASSERT_EQUAL(cv1_id_parse("00000000000000010", 17, &id), -1);
	CU_ASSERT_EQUAL(cv1_id_parse("000000000000000x", 16, &id), -1);
}

/* ---- the peer table ---------------------------------------------------- */

static struct cv1_peer_addr mk(const char *pid, const char *addr, uint16_t port)
{
	struct cv1_peer_addr pa;

	memset(&pa, 0, sizeof(pa));
	snprintf(pa.pid, sizeof(pa.pid), "%s", pid);
	snprintf(pa.addr, sizeof(pa.addr), "%s", addr);
	pa.port = port;
	return pa;
}

static void test_peers_bounds(void)
{
	struct cv1_peers t;
	struct cv1_peer *p;
	struct cv1_peer_addr pa;
	char pid[16];

	CU_ASSERT_EQUAL_FATAL(cv1_peers_init(&t, 3), 0);
	/* One IP holds at most two entries, in any spelling of it. */
	pa = mk("a", "127.9.9.9", 1);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1.0, 0, &p), CV1_ADD_NEW);
	pa = mk("b", "::ffff:127.9.9.9", 2);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1.0, 1, &p), CV1_ADD_NEW);
	pa = mk("c", "127.9.9.9", 3);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1.0, 1, &p), CV1_ADD_CROWDED);
	CU_ASSERT_EQUAL(t.count, 2);
	cv1_peers_remove(&t, cv1_peers_find(&t, "a"), 1.0, 0);
	cv1_peers_remove(&t, cv1_peers_find(&t, "b"), 1.0, 0);
	CU_ASSERT(cv1_same_ip("127.0.0.1:80", "127.0.0.1"));
	CU_ASSERT(cv1_same_ip("[::1]:80", "0:0::1"));
	CU_ASSERT(!cv1_same_ip("127.0.0.1:80", "127.0.0.2"));
	CU_ASSERT(!cv1_same_ip("junk", "junk"));
	for (int i = 0; i < 3; i++) {
		snprintf(pid, sizeof(pid), "p%d", i);
		pa = mk(pid, i == 2 ? "127.0.0.2" : "127.0.0.1", (uint16_t)(4000 + i));
		CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1.0, 0, &p), CV1_ADD_NEW);
		CU_ASSERT_PTR_NOT_NULL(p);
	}
	CU_ASSERT_EQUAL(t.count, 3);
	/* Full: a newcomer is refused, from gossip or in person. */
	pa = mk("late", "127.0.0.1", 5000);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 2.0, 0, &p), CV1_ADD_FULL);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 2.0, 1, &p), CV1_ADD_FULL);
	CU_ASSERT_EQUAL(t.count, 3);
	for (int i = 0; i < 3; i++) {
		snprintf(pid, sizeof(pid), "p%d", i);
		CU_ASSERT_PTR_NOT_NULL(cv1_peers_find(&t, pid));
	}
	CU_ASSERT_PTR_NULL(cv1_peers_find(&t, "late"));
	/* A known pid is reported as such, not duplicated. */
	pa = mk("p1", "127.0.0.1", 4001);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 2.0, 0, &p), CV1_ADD_KNOWN);
	CU_ASSERT_STRING_EQUAL(p->pid, "p1");
	CU_ASSERT_PTR_EQUAL(cv1_peers_find_hostport(&t, "127.0.0.1:4001"), p);
	/* Invalid entries never enter. */
	pa = mk("bad|pid", "127.0.0.1", 1);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 2.0, 0, &p), CV1_ADD_INVALID);
	pa = mk("ok", "not-an-ip", 1);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 2.0, 0, &p), CV1_ADD_INVALID);
	cv1_peers_free(&t);
}

static void test_peers_address_updates(void)
{
	struct cv1_peers t;
	struct cv1_peer *p;
	struct cv1_peer_addr pa = mk("a", "127.0.0.1", 4000);

	CU_ASSERT_EQUAL_FATAL(cv1_peers_init(&t, 4), 0);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 0, 1, &p), CV1_ADD_NEW);
	CU_ASSERT_STRING_EQUAL(p->hostport, "127.0.0.1:4000");
	CU_ASSERT_EQUAL(p->kind, CV1_KIND_UNKNOWN);
	p->reuse_conn = 9;
	/* Gossip does not move a known peer... */
	pa = mk("a", "127.0.0.9", 4009);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1, 0, &p), CV1_ADD_KNOWN);
	CU_ASSERT_STRING_EQUAL(p->hostport, "127.0.0.1:4000");
	CU_ASSERT_EQUAL(p->reuse_conn, 9);
	/* ...the peer itself does. */
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1, 1, &p), CV1_ADD_KNOWN);
	CU_ASSERT_STRING_EQUAL(p->hostport, "127.0.0.9:4009");
	CU_ASSERT_EQUAL(p->reuse_conn, 0);
	pa = mk("v6", "::1", 7);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 1, 1, &p), CV1_ADD_NEW);
	CU_ASSERT_STRING_EQUAL(p->hostport, "[::1]:7");
	cv1_peers_free(&t);
}

static void test_peers_tombstones(void)
{
	struct cv1_peers t;
	struct cv1_peer *p;
	struct cv1_peer_addr pa = mk("dead", "127.0.0.1", 4000);

	CU_ASSERT_EQUAL_FATAL(cv1_peers_init(&t, 2), 0);
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 0, 0, &p), CV1_ADD_NEW);
	cv1_peers_remove(&t, p, 10.0, 5.0);
	CU_ASSERT_EQUAL(t.count, 0);
	CU_ASSERT_PTR_NULL(cv1_peers_find(&t, "dead"));
	CU_ASSERT(cv1_peers_tombed(&t, "dead", 12.0));
	/* Gossip cannot bring it back before the time is up... */
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 12.0, 0, &p), CV1_ADD_TOMBED);
	CU_ASSERT_EQUAL(t.count, 0);
	/* ...afterwards it can. */
	CU_ASSERT(!cv1_peers_tombed(&t, "dead", 15.0));
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 15.0, 0, &p), CV1_ADD_NEW);
	cv1_peers_remove(&t, p, 20.0, 5.0);
	/* The peer itself, joining again, always can. */
	CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 21.0, 1, &p), CV1_ADD_NEW);
	CU_ASSERT(!cv1_peers_tombed(&t, "dead", 21.0));
	/* Removing a free slot is harmless. */
	cv1_peers_remove(&t, p, 22.0, 0);
	cv1_peers_remove(&t, p, 22.0, 0);
	CU_ASSERT_EQUAL(t.count, 0);
	/* The tombstone list is bounded: many removals reuse its slots. */
	for (int i = 0; i < 3 * CV1_TOMBS; i++) {
		char pid[16];
		snprintf(pid, sizeof(pid), "t%d", i);
		pa = mk(pid, "127.0.0.1", 1);
		CU_ASSERT_EQUAL(cv1_peers_add(&t, &pa, 30.0, 1, &p), CV1_ADD_NEW);
		cv1_peers_remove(&t, p, 30.0, 100.0);
	}
	CU_ASSERT(cv1_peers_tombed(&t, "t383", 31.0));
	CU_ASSERT(!cv1_peers_tombed(&t, "t0", 31.0));
	cv1_peers_free(&t);
}

/* ---- the dedup cache --------------------------------------------------- */

static void test_dedup_basic(void)
{
	struct cv1_dedup d;

	CU_ASSERT_EQUAL_FATAL(cv1_dedup_init(&d, 8, 60.0), 0);
	CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, 42, 0.0), 0);
	CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, 42, 1.0), 1);
	CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, 43, 1.0), 0);
	CU_ASSERT(cv1_dedup_contains(&d, 42, 59.0));
	CU_ASSERT_EQUAL(cv1_dedup_count(&d), 2);
	/* 42 was remembered at 0.0: gone at 60.0; 43 lasts until 61.0. */
	CU_ASSERT(!cv1_dedup_contains(&d, 42, 60.0));
	CU_ASSERT(cv1_dedup_contains(&d, 43, 60.0));
	CU_ASSERT_EQUAL(cv1_dedup_count(&d), 1);
	CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, 42, 60.0), 0);
	cv1_dedup_free(&d);
	CU_ASSERT_EQUAL(cv1_dedup_init(&d, 0, 1.0), -1);
	cv1_dedup_free(&d);
}

static void test_dedup_bounded(void)
{
	struct cv1_dedup d;
	uint64_t x = 88172645463325252ULL;

	CU_ASSERT_EQUAL_FATAL(cv1_dedup_init(&d, 1000, 1e9), 0);
	for (uint64_t i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, x, (double)i), 0);
		if (cv1_dedup_count(&d) > 1000)
			CU_FAIL("dedup cache grew past its bound");
	}
	CU_ASSERT_EQUAL(cv1_dedup_count(&d), 1000);
	cv1_dedup_free(&d);

	/* With room for 4, the fifth id pushes out the first. */
	CU_ASSERT_EQUAL_FATAL(cv1_dedup_init(&d, 4, 1e9), 0);
	for (uint64_t id = 1; id <= 5; id++)
		CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, id, 0.0), 0);
	CU_ASSERT(!cv1_dedup_contains(&d, 1, 0.0));
	for (uint64_t id = 2; id <= 5; id++)
		CU_ASSERT(cv1_dedup_contains(&d, id, 0.0));
	/* Ids that land in one bucket still come and go one by one. */
	cv1_dedup_free(&d);
	CU_ASSERT_EQUAL_FATAL(cv1_dedup_init(&d, 3, 1e9), 0);
	for (uint64_t id = 0; id < 50; id++) {
		CU_ASSERT_EQUAL(cv1_dedup_check_add(&d, id << 40, 0.0), 0);
		CU_ASSERT(cv1_dedup_contains(&d, id << 40, 0.0));
		if (id >= 3)
			CU_ASSERT(!cv1_dedup_contains(&d, (id - 3) << 40, 0.0));
	}
	cv1_dedup_free(&d);
}

/* ---- saved state ------------------------------------------------------- */

/* The state tests are about the saved pid and table, as in mode "plain". */
static int fake_security(mp2p_host *h)
{
	(void)h;
	return MP2P_SECURITY_PLAIN;
}

static struct cv1 *state_node(void)
{
	struct cv1 *c = calloc(1, sizeof(*c));

	CU_ASSERT_FATAL(c != NULL);
	fake_api.now = fake_now;
	fake_api.security = fake_security;
	c->api = &fake_api;
	c->max_peers = 4;
	CU_ASSERT_FATAL(cv1_peers_init(&c->peers, 4) == 0);
	CU_ASSERT_FATAL(cv1_dedup_init(&c->dedup, 16, 600) == 0);
	strcpy(c->pid, "fresh-pid");
	return c;
}

static void state_free(struct cv1 *c)
{
	cv1_inbox_clear(&c->inbox);
	cv1_peers_free(&c->peers);
	cv1_dedup_free(&c->dedup);
	free(c);
}

static void test_state_round_trip(void)
{
	struct cv1 *a = state_node(), *b = state_node();
	struct cv1_peer_addr pa = mk("peer-1", "127.0.0.1", 4001);
	struct cv1_peer *p;
	void *data = NULL;
	size_t len = 0;
	char *err = NULL;

	strcpy(a->pid, "0b7e-saved");
	cv1_peers_add(&a->peers, &pa, 1, 1, &p);
	p->kind = CV1_KIND_OURS;
	pa = mk("peer-2", "::1", 4002);
	cv1_peers_add(&a->peers, &pa, 1, 1, &p);
	p->kind = CV1_KIND_CLASSIC;
	cv1_dedup_check_add(&a->dedup, 0xabcdef0123456789ULL, 99.0);
	cv1_inbox_push(&a->inbox, MP2P_CLASSICV1_DIRECT, "127.0.0.1:5555", "", "hi, there", 9, 0,
	               1700000000.25);
	cv1_inbox_push(&a->inbox, MP2P_CLASSICV1_BROADCAST, "peer-1", "00000000000000ff",
	               "all  of  you", 12, 7, 1700000001.5);
	CU_ASSERT_EQUAL_FATAL(cv1_state_save(a, &data, &len), 0);
	CU_ASSERT_STRING_EQUAL((char *)data,
	        "classicv1-state 1\npid 0b7e-saved\nseq 2\n"
	        "peer peer-1 127.0.0.1 4001 2\npeer peer-2 ::1 4002 1\n"
	        "seen abcdef0123456789\n"
	        "msg 1 1 0 1700000000.25 127.0.0.1:5555 - hi, there\n"
	        "msg 2 2 7 1700000001.5 peer-1 00000000000000ff all  of  you\n");
	CU_ASSERT_EQUAL(cv1_state_restore(b, data, len, &err), 0);
	CU_ASSERT_PTR_NULL(err);
	CU_ASSERT_STRING_EQUAL(b->pid, "0b7e-saved");
	CU_ASSERT_EQUAL(b->peers.count, 2);
	p = cv1_peers_find(&b->peers, "peer-2");
	CU_ASSERT(p != NULL && p->kind == CV1_KIND_CLASSIC && p->port == 4002 &&
	          strcmp(p->hostport, "[::1]:4002") == 0);
	CU_ASSERT(cv1_dedup_contains(&b->dedup, 0xabcdef0123456789ULL, 100.0));
	CU_ASSERT_EQUAL(b->inbox.count, 2);
	CU_ASSERT_EQUAL(b->inbox.next_seq, 2);
	struct cv1_inbox_entry *e = cv1_inbox_at(&b->inbox, 1);
	CU_ASSERT(e != NULL && e->seq == 2 && e->kind == MP2P_CLASSICV1_BROADCAST && e->hops == 7 &&
	          strcmp(e->text, "all  of  you") == 0 && strcmp(e->id, "00000000000000ff") == 0 &&
	          strcmp(e->sender, "peer-1") == 0);
	e = cv1_inbox_at(&b->inbox, 0);
	CU_ASSERT(e != NULL && e->id[0] == '\0' && strcmp(e->text, "hi, there") == 0);
	free(data);
	state_free(a);
	state_free(b);
}

static void test_state_damaged(void)
{
	static const char *const bad[] = {
		"",
		"classicv1-state 1",                                  /* no newline */
		"classicv1-state 2\npid x\n",
		"something else\n",
		"classicv1-state 1\npid a,b\n",
		"classicv1-state 1\npid \n",
		"classicv1-state 1\npeer p 127.0.0.1 0 1\n",
		"classicv1-state 1\npeer p 127.0.0.1 70000 1\n",
		"classicv1-state 1\npeer p localhost 4000 1\n",
		"classicv1-state 1\npeer p 127.0.0.1 4000 9\n",
		"classicv1-state 1\npeer p 127.0.0.1 4000\n",
		"classicv1-state 1\nseen 12345\n",
		"classicv1-state 1\nmsg 1 3 0 1.0 s - text\n",
		"classicv1-state 1\nmsg 1 1 0 x s - text\n",
		"classicv1-state 1\nmsg 1 1 0 1.0 s - caf\xc3\xa9\n",
		"classicv1-state 1\nmsg 1 1 0 1.0 s\n",
		"classicv1-state 1\nseq -1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cv1 *c = state_node();
		char *err = NULL;
		struct cv1_peer_addr pa = mk("before", "127.0.0.1", 1);

		cv1_peers_add(&c->peers, &pa, 0, 1, NULL);
		if (cv1_state_restore(c, bad[i], strlen(bad[i]), &err) != -1)
			CU_FAIL("damaged state accepted");
		CU_ASSERT_PTR_NOT_NULL(err);
		/* Refused whole: nothing half restored. */
		CU_ASSERT_EQUAL(c->peers.count, 0);
		CU_ASSERT_EQUAL(c->inbox.count, 0);
		free(err);
		state_free(c);
	}
	/* A NUL inside the bytes, and records a later build may add. */
	struct cv1 *c = state_node();
	char *err = NULL;
	CU_ASSERT_EQUAL(cv1_state_restore(c, "classicv1-state 1\n\0pid x\n", 25, &err), -1);
	free(err);
	err = NULL;
	const char *later = "classicv1-state 1\npid kept\nfuture 1 2 3\n";
	CU_ASSERT_EQUAL(cv1_state_restore(c, later, strlen(later), &err), 0);
	CU_ASSERT_STRING_EQUAL(c->pid, "kept");
	state_free(c);
}

/* The shared address table: an ADDR:PORT (config, DNS seeds, `join`) and
 * the address and port fields of a JOIN follow the same rule as the host
 * and the kademlia plugin. */
static void test_addr_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct addr_row *r = &rows[i];
		char addr[CV1_ADDR_MAX + 1], field[128], join[200];
		const char *close, *colon;
		struct cv1_peer_addr pa;
		uint16_t port;
		int dir, want = addr_row_dialable(r), ok;

		ok = cv1_parse_hostport(r->text, addr, &port) == 0;
		if (ok != want)
			printf("\n  row %s: parse_hostport %d, want %d", r->text, ok, want);
		CU_ASSERT_EQUAL(ok, want);
		/* JOIN carries the address bare and the port apart. */
		if (r->text[0] == '[' && (close = strchr(r->text, ']')) != NULL && close[1] == ':' &&
		    memchr(r->text, ':', (size_t)(close - r->text)) != NULL)
			snprintf(field, sizeof(field), "%.*s,%s", (int)(close - r->text - 1),
			         r->text + 1, close + 2);
		else if (r->text[0] != '[' && (colon = strrchr(r->text, ':')) != NULL &&
		         memchr(r->text, ':', (size_t)(colon - r->text)) == NULL)
			snprintf(field, sizeof(field), "%.*s,%s", (int)(colon - r->text), r->text,
			         colon + 1);
		else
			continue;
		snprintf(join, sizeof(join), "REQ,pid,%s", field);
		ok = cv1_decode_join((const uint8_t *)join, strlen(join), &dir, &pa) == CV1_OK;
		if (ok != want)
			printf("\n  row %s: JOIN %s decodes %d, want %d", r->text, join, ok, want);
		CU_ASSERT_EQUAL(ok, want);
	}
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("classicv1_wire", NULL, NULL);
	CU_add_test(s, "JOIN encode", test_join_encode);
	CU_add_test(s, "JOIN decode", test_join_decode);
	CU_add_test(s, "JOIN malformed", test_join_malformed);
	CU_add_test(s, "LIST codec", test_list_codec);
	CU_add_test(s, "LIST malformed", test_list_malformed);
	CU_add_test(s, "QUIT and GONE", test_quit);
	CU_add_test(s, "MESG REQ", test_mesg_req);
	CU_add_test(s, "MESG FOR", test_mesg_for);
	CU_add_test(s, "CAPA", test_capa);
	CU_add_test(s, "ADDR:PORT", test_hostport);
	CU_add_test(s, "the shared address rows", test_addr_rows);
	CU_add_test(s, "broadcast ids", test_ids);
	s = CU_add_suite("classicv1_peers", NULL, NULL);
	CU_add_test(s, "bounds", test_peers_bounds);
	CU_add_test(s, "address updates", test_peers_address_updates);
	CU_add_test(s, "tombstones", test_peers_tombstones);
	s = CU_add_suite("classicv1_dedup", NULL, NULL);
	CU_add_test(s, "basic", test_dedup_basic);
	CU_add_test(s, "bounded", test_dedup_bounded);
	s = CU_add_suite("classicv1_state", NULL, NULL);
	CU_add_test(s, "round trip", test_state_round_trip);
	CU_add_test(s, "damaged", test_state_damaged);

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

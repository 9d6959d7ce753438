/* test_util.c -- <maybep2p/util.h>: the address rule row by row, the
 * forbidden ranges in every spelling, big-endian helpers, error texts. */
#include "config.h"
#include "unit.h"

#include <maybep2p/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr_rows.h"

static const char *const forbidden_kinds[] = {
	[MP2P_ADDR_UNSPECIFIED] = "unspecified address",
	[MP2P_ADDR_LINK_LOCAL] = "link-local address",
	[MP2P_ADDR_MULTICAST] = "multicast address",
	[MP2P_ADDR_BROADCAST] = "broadcast address",
};

static void test_addr_rule(void)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct addr_row *r = &rows[i];
		const char *want_canon = r->canonical != NULL ? r->canonical : r->text;
		const char *want_why = NULL, *why = NULL;
		struct mp2p_addr a, again;
		char buf[MP2P_ADDR_TEXT_MAX];
		int ok = mp2p_addr_parse(r->text, &a) == 0;
		int row_ok = ok == r->ok;

		if (ok && row_ok) {
			row_ok = mp2p_addr_kind(&a) == r->kind &&
			         mp2p_addr_format(&a, buf, sizeof(buf)) > 0 &&
			         strcmp(buf, want_canon) == 0 &&
			         mp2p_addr_parse(buf, &again) == 0 &&
			         memcmp(&a, &again, sizeof(a)) == 0;
			if ((size_t)r->kind < sizeof(forbidden_kinds) / sizeof(forbidden_kinds[0]))
				want_why = forbidden_kinds[r->kind];
			why = mp2p_addr_forbidden(&a);
			row_ok &= (why == NULL) == (want_why == NULL) &&
			          (why == NULL || strcmp(why, want_why) == 0);
			row_ok &= (mp2p_addr_check(r->text, NULL, NULL) == 0) == (want_why == NULL);
		} else if (!ok) {
			static const struct mp2p_addr zero = { 0 };
			row_ok &= memcmp(&a, &zero, sizeof(a)) == 0 &&
			          mp2p_addr_check(r->text, NULL, &why) == -1 &&
			          strncmp(why, "not a numeric", 13) == 0;
		}
		if (!row_ok) {
			fprintf(stderr, "\n  address row %zu '%s': expected %s", i, r->text,
			        r->ok ? "accepted" : "refused");
			if (ok)
				fprintf(stderr, ", got kind %d text '%s' forbidden '%s'",
				        (int)mp2p_addr_kind(&a), buf, why ? why : "");
			failures++;
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

/* The formatted text of every port and of every IPv4 octet parses back. */
static void test_addr_round_trip(void)
{
	struct mp2p_addr a, b;
	char buf[MP2P_ADDR_TEXT_MAX];
	int bad = 0;

	for (unsigned p = 1; p <= 65535; p++) {
		a.family = AF_INET;
		memset(a.ip, 0, sizeof(a.ip));
		a.ip[0] = (uint8_t)(p % 256);
		a.ip[3] = (uint8_t)(p / 256);
		a.port = (uint16_t)p;
		/* Field by field: the struct's tail padding is never written. */
		if (mp2p_addr_format(&a, buf, sizeof(buf)) < 0 || mp2p_addr_parse(buf, &b) < 0 ||
		    a.family != b.family || a.port != b.port || memcmp(a.ip, b.ip, sizeof(a.ip)) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Too small a buffer is an error, not a truncated address. */
	CU_ASSERT_EQUAL(mp2p_addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535",
	                                &a), 0);
	CU_ASSERT_EQUAL(mp2p_addr_format(&a, buf, 10), -1);
	CU_ASSERT_TRUE(mp2p_addr_format(&a, buf, sizeof(buf)) > 0);
}

static void test_big_endian(void)
{
	uint8_t b[8];

	mp2p_put_be16(b, 0x1234);
	CU_ASSERT(b[0] == 0x12 && b[1] == 0x34);
	CU_ASSERT_EQUAL(mp2p_get_be16(b), 0x1234);
	mp2p_put_be32(b, 0x89abcdefu);
	CU_ASSERT(b[0] == 0x89 && b[1] == 0xab && b[2] == 0xcd && b[3] == 0xef);
	CU_ASSERT_EQUAL(mp2p_get_be32(b), 0x89abcdefu);
	mp2p_put_be64(b, 0x0102030405060708ull);
	CU_ASSERT(b[0] == 1 && b[7] == 8);
	CU_ASSERT_EQUAL(mp2p_get_be64(b), 0x0102030405060708ull);
	mp2p_put_be64(b, UINT64_MAX);
	CU_ASSERT_EQUAL(mp2p_get_be64(b), UINT64_MAX);
}

static void test_error_text(void)
{
	char *e = NULL;

	CU_ASSERT_EQUAL(mp2p_error_text(&e, "cannot read %s: %d", "x", 7), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_STRING_EQUAL(e, "cannot read x: 7");
	free(e);
	CU_ASSERT_EQUAL(mp2p_error_text(NULL, "ignored"), -1);
}

static void test_service_version(void)
{
	uint32_t v = MP2P_SERVICE_VERSION(3, 7);

	CU_ASSERT_EQUAL(v, 0x00030007u);
	CU_ASSERT_EQUAL(MP2P_SERVICE_MAJOR(v), 3);
	CU_ASSERT_EQUAL(MP2P_SERVICE_MINOR(v), 7);
	CU_ASSERT_EQUAL(MP2P_SERVICE_VERSION(1, 0x1ffff), 0x0001ffffu);
}

int util_suite(void)
{
	CU_pSuite s = CU_add_suite("util.h", NULL, NULL);

	if (s == NULL || !CU_add_test(s, "the address rule, row by row", test_addr_rule) ||
	    !CU_add_test(s, "formatted addresses parse back", test_addr_round_trip) ||
	    !CU_add_test(s, "big-endian put and get", test_big_endian) ||
	    !CU_add_test(s, "error texts", test_error_text) ||
	    !CU_add_test(s, "service versions", test_service_version))
		return -1;
	return 0;
}

/* test_dial.c -- host.dial.deny's rules: which texts parse, and that a
 * denied range is recognised in every spelling a peer might use. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <string.h>

/* Does the rule `rule` cover the address `addr` ("ADDR:PORT")? */
static int covers(const char *rule, const char *addr)
{
	struct dial_rule r;
	struct sockaddr_storage ss;
	int len;

	CU_ASSERT_EQUAL_FATAL(dial_rule_parse(rule, &r), 0);
	CU_ASSERT_EQUAL_FATAL(addr_parse(addr, &ss, &len), 0);
	return dial_rule_match(&r, (struct sockaddr *)&ss);
}

/* Is `addr` denied by the default list? */
static int denied_by_default(const char *addr)
{
	struct sockaddr_storage ss;
	struct dial_rule r;
	int len;

	CU_ASSERT_EQUAL_FATAL(addr_parse(addr, &ss, &len), 0);
	for (int i = 0; dial_deny_default[i] != NULL; i++) {
		CU_ASSERT_EQUAL_FATAL(dial_rule_parse(dial_deny_default[i], &r), 0);
		if (dial_rule_match(&r, (struct sockaddr *)&ss))
			return 1;
	}
	return 0;
}

static void test_parse(void)
{
	static const char *const good[] = {
		"10.0.0.0/8", "169.254.169.254", "0.0.0.0/0", "255.255.255.255/32",
		"fe80::/10", "::/128", "::ffff:169.254.0.0/112", "2001:db8::1", "::/0", NULL
	};
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "fe80::/129", "010.0.0.0/8", "10.0.0/8",
		"10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8x", "[fe80::]/10", "fe80::%eth0/10",
		"example.org/8", "10.0.0.0/8/8", "1.2.3.4:80", "10.0.0.0/ 8", NULL
	};
	struct dial_rule r;

	for (int i = 0; good[i]; i++)
		CU_ASSERT_EQUAL(dial_rule_parse(good[i], &r), 0);
	for (int i = 0; bad[i]; i++) {
		CU_ASSERT_EQUAL(dial_rule_parse(bad[i], &r), -1);
		if (dial_rule_parse(bad[i], &r) != -1)
			fprintf(stderr, "\n  accepted: '%s'\n", bad[i]);
	}
	CU_ASSERT_EQUAL(dial_rule_parse("169.254.169.254", &r), 0);
	CU_ASSERT_EQUAL(r.bits, 32);
	CU_ASSERT_EQUAL(dial_rule_parse("fe80::/10", &r), 0);
	CU_ASSERT_EQUAL(r.bits, 10);
	CU_ASSERT_EQUAL(r.family, AF_INET6);
}

static void test_match(void)
{
	CU_ASSERT_TRUE(covers("10.0.0.0/8", "10.255.1.2:80"));
	CU_ASSERT_FALSE(covers("10.0.0.0/8", "11.0.0.1:80"));
	CU_ASSERT_TRUE(covers("10.1.2.0/23", "10.1.3.255:1"));
	CU_ASSERT_FALSE(covers("10.1.2.0/23", "10.1.4.0:1"));
	CU_ASSERT_TRUE(covers("0.0.0.0/0", "1.2.3.4:5"));
	CU_ASSERT_FALSE(covers("0.0.0.0/0", "[2001:db8::1]:5"));
	CU_ASSERT_TRUE(covers("fe80::/10", "[febf::1]:1"));
	CU_ASSERT_FALSE(covers("fe80::/10", "[fec0::1]:1"));
	/* An IPv4 rule sees through the IPv6 spellings of IPv4. */
	CU_ASSERT_TRUE(covers("169.254.0.0/16", "[::ffff:169.254.169.254]:80"));
	CU_ASSERT_TRUE(covers("169.254.0.0/16", "[::ffff:a9fe:a9fe]:80"));
	CU_ASSERT_TRUE(covers("169.254.0.0/16", "[64:ff9b::169.254.1.1]:80"));
	CU_ASSERT_TRUE(covers("169.254.0.0/16", "[::ffff:0:169.254.1.1]:80"));
	CU_ASSERT_FALSE(covers("169.254.0.0/16", "[::ffff:127.0.0.1]:80"));
}

static void test_defaults(void)
{
	static const char *const deny[] = {
		"0.0.0.0:80", "0.1.2.3:80", "[::]:80", "169.254.169.254:80", "[fe80::1]:80",
		"224.0.0.1:80", "239.255.255.250:1900", "[ff02::1]:80", "255.255.255.255:80",
		"[::ffff:169.254.169.254]:80", "[::ffff:0.0.0.0]:80", "[::ffff:224.0.0.1]:80",
		"[::ffff:255.255.255.255]:80", "[64:ff9b::a9fe:a9fe]:80", NULL
	};
	static const char *const allow[] = {
		"127.0.0.1:80", "[::1]:80", "10.0.0.1:80", "192.168.1.1:80", "[fc00::1]:80",
		"[::ffff:127.0.0.1]:80", "8.8.8.8:53", "169.253.255.255:80", "169.255.0.0:80", NULL
	};

	for (int i = 0; deny[i]; i++) {
		CU_ASSERT_TRUE(denied_by_default(deny[i]));
		if (!denied_by_default(deny[i]))
			fprintf(stderr, "\n  not denied: %s\n", deny[i]);
	}
	for (int i = 0; allow[i]; i++) {
		CU_ASSERT_FALSE(denied_by_default(allow[i]));
		if (denied_by_default(allow[i]))
			fprintf(stderr, "\n  denied: %s\n", allow[i]);
	}
}

static void test_ip_key(void)
{
	struct sockaddr_storage a, b;
	int len;

	/* One /64 is one peer for the per-IP cap; another /64 is another. */
	addr_parse("[2001:db8:1:2::1]:1", &a, &len);
	addr_parse("[2001:db8:1:2:ffff::9]:2", &b, &len);
	CU_ASSERT_EQUAL(addr_ip_key((struct sockaddr *)&a, 64), addr_ip_key((struct sockaddr *)&b, 64));
	CU_ASSERT_NOT_EQUAL(addr_ip_key((struct sockaddr *)&a, 128), addr_ip_key((struct sockaddr *)&b, 128));
	addr_parse("[2001:db8:1:3::1]:1", &b, &len);
	CU_ASSERT_NOT_EQUAL(addr_ip_key((struct sockaddr *)&a, 64), addr_ip_key((struct sockaddr *)&b, 64));
	/* IPv4 counts as itself however it is written. */
	addr_parse("10.1.2.3:1", &a, &len);
	addr_parse("[::ffff:10.1.2.3]:2", &b, &len);
	CU_ASSERT_EQUAL(addr_ip_key((struct sockaddr *)&a, 64), addr_ip_key((struct sockaddr *)&b, 64));
	CU_ASSERT_TRUE(addr_same_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_parse("10.1.2.4:1", &b, &len);
	CU_ASSERT_FALSE(addr_same_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
}

int dial_suite(void)
{
	CU_pSuite s = CU_add_suite("dial rules", NULL, NULL);

	if (s == NULL || !CU_add_test(s, "CIDR texts", test_parse) ||
	    !CU_add_test(s, "matching", test_match) ||
	    !CU_add_test(s, "the default deny list in every spelling", test_defaults) ||
	    !CU_add_test(s, "per-IP keys by IPv6 prefix", test_ip_key))
		return -1;
	return 0;
}

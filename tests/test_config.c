/* test_config.c -- each host setting's validation, with the exact error
 * text and the line it names. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static char *load(const char *text, struct host_config *c, char **path_out)
{
	return unit_config_load(dir, text, c, path_out);
}

/* Expects exactly one error, "PATH:" + rest. */
static void expect(const char *text, const char *rest)
{
	struct host_config c;
	char *path, *got = load(text, &c, &path), want[1024];

	snprintf(want, sizeof(want), "%s:%s", path, rest);
	UNIT_TEXT_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);
}

static void test_defaults(void)
{
	struct host_config c;
	char *got = load("plugins = ( { name = \"echo\"; file = \"echo.so\"; } );\n", &c, NULL);

	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_EQUAL(c.nlisten, 1);
	CU_ASSERT_STRING_EQUAL(c.listen[0], "127.0.0.1:25565");
	CU_ASSERT_PTR_NULL(c.id);
	CU_ASSERT_EQUAL(c.max_inbound, 10000);
	CU_ASSERT_EQUAL(c.max_outbound, 1024);
	CU_ASSERT_EQUAL(c.max_connections_per_ip, 1000);
	CU_ASSERT_EQUAL(c.ipv6_prefix, 64);
	CU_ASSERT_EQUAL(c.max_buffered, 256L << 20);
	CU_ASSERT_DOUBLE_EQUAL(c.t_first_frame, 5.0, 1e-9);
	CU_ASSERT_FALSE(c.dial_trust_claims);
	CU_ASSERT_EQUAL(c.ndial_deny, 7);
	CU_ASSERT_EQUAL(c.max_frame, 1048576);
	CU_ASSERT_EQUAL(c.max_output, 4194304);
	CU_ASSERT_DOUBLE_EQUAL(c.t_connect, 5.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(c.t_idle, 300.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(c.t_frame, 10.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(c.t_write, 10.0, 1e-9);
	CU_ASSERT_EQUAL(c.log_level, HLOG_INFO);
	CU_ASSERT_EQUAL(c.nplugins, 1);
	CU_ASSERT_TRUE(c.plugins[0].required);
	CU_ASSERT_PTR_NULL(c.plugins[0].config);
	config_release(&c);
	free(got);
}

static void test_full(void)
{
	struct host_config c;
	char *got = load("host: {\n id = \"node-a\";\n listen = [ \"127.0.0.1:1\", \"[::1]:2\" ];\n"
	                 " advertise = \"10.0.0.1:3\";\n state_dir = \"/s\";\n control = \"/c\";\n"
	                 " plugin_dir = \"/p\";\n log_level = \"debug\";\n"
	                 " limits: { max_connections = 5; max_connections_per_ip = 2; max_frame = 100;"
	                 " max_output = 200; };\n timeouts: { connect = 1; idle = 2.5; frame = 3.0; write = 4; };\n};\n"
	                 "plugins = ( { name = \"a\"; file = \"a.so\"; required = false; config: { k = 1; }; } );\n",
	                 &c, NULL);

	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_STRING_EQUAL(c.id, "node-a");
	CU_ASSERT_EQUAL(c.nlisten, 2);
	CU_ASSERT_STRING_EQUAL(c.listen[1], "[::1]:2");
	CU_ASSERT_STRING_EQUAL(c.advertise, "10.0.0.1:3");
	CU_ASSERT_STRING_EQUAL(c.plugin_dir, "/p");
	CU_ASSERT_EQUAL(c.log_level, HLOG_DEBUG);
	CU_ASSERT_EQUAL(c.max_inbound, 5);   /* max_connections is its old name */
	CU_ASSERT_EQUAL(c.max_output, 200);
	CU_ASSERT_DOUBLE_EQUAL(c.t_idle, 2.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(c.t_connect, 1.0, 1e-9);
	CU_ASSERT_FALSE(c.plugins[0].required);
	CU_ASSERT_PTR_NOT_NULL(c.plugins[0].config);
	CU_ASSERT_STRING_EQUAL(c.plugins[0].config_text, "{k=1;}");
	config_release(&c);
	free(got);
}

static void test_errors(void)
{
	expect("host: {\n  bogus = 1;\n};\n", "2: setting 'host.bogus': unknown setting");
	expect("hots: { };\n", "1: setting 'hots': unknown setting");
	expect("host: {\n limits: {\n  max_frame = \"big\";\n };\n};\n",
	       "3: setting 'host.limits.max_frame': must be an integer");
	expect("host: {\n limits: { max_connections = 0; };\n};\n",
	       "2: setting 'host.limits.max_connections': must be between 1 and 1000000 (got 0)");
	expect("host: {\n limits: { max_connections = 5; max_inbound = 6; };\n};\n",
	       "2: setting 'host.limits.max_connections': is the old name of max_inbound; set only max_inbound");
	expect("host: {\n limits: { ipv6_prefix = 8; };\n};\n",
	       "2: setting 'host.limits.ipv6_prefix': must be between 16 and 128 (got 8)");
	expect("host: {\n limits: { max_frame = 100000; max_buffered = 65536; };\n};\n",
	       "2: setting 'host.limits.max_buffered': must be at least twice max_frame + 20 (200040), or one frame in and one out would not fit");
	expect("host: {\n dial: { deny = [ \"10.0.0.0/33\" ]; };\n};\n",
	       "2: setting 'host.dial.deny[0]': element 0: '10.0.0.0/33' is not an address or CIDR (\"10.0.0.0/8\", \"fe80::/10\")");
	expect("host: {\n dial: { trust_claims = 1; };\n};\n",
	       "2: setting 'host.dial.trust_claims': must be true or false");
	expect("host: {\n dial: { rate = 0; };\n};\n",
	       "2: setting 'host.dial.rate': must be a number per second, more than 0 and at most 1000000");
	expect("host: {\n limits: { max_frame = 1000; max_output = 500; };\n};\n",
	       "2: setting 'host.limits.max_output': must be at least max_frame + 20 (1020), or no frame could be sent");
	expect("host: {\n timeouts: { idle = -1.0; };\n};\n",
	       "2: setting 'host.timeouts.idle': must be more than 0 seconds and at most a year (got -1)");
	expect("host: {\n timeouts: { frame = \"10\"; };\n};\n",
	       "2: setting 'host.timeouts.frame': must be a number of seconds");
	expect("host: {\n timeouts: { delay = 1; };\n};\n",
	       "2: setting 'host.timeouts.delay': unknown setting");
	expect("host: {\n listen = [ \"localhost:80\" ];\n};\n",
	       "2: setting 'host.listen[0]': 'localhost:80' is not a numeric ADDR:PORT (IPv6 as [ADDR]:PORT)");
	expect("host: {\n listen = \"127.0.0.1:80\";\n};\n",
	       "2: setting 'host.listen': must be a list of \"ADDR:PORT\" strings: [ \"127.0.0.1:80\" ]");
	expect("host: {\n listen = [ \"127.0.0.1:70000\" ];\n};\n",
	       "2: setting 'host.listen[0]': '127.0.0.1:70000' is not a numeric ADDR:PORT (IPv6 as [ADDR]:PORT)");
	expect("host: {\n log_level = \"loud\";\n};\n",
	       "2: setting 'host.log_level': must be one of error, warn, info, debug (got 'loud')");
	expect("host: {\n id = \"a b\";\n};\n", "2: setting 'host.id': must not contain spaces, ',' or '|'");
	expect("host: {\n state_dir = 5;\n};\n", "2: setting 'host.state_dir': must be a string");
	expect("plugins = (\n { file = \"a.so\"; }\n);\n", "2: setting 'plugins[0]': a plugin needs a name");
	expect("plugins = (\n { name = \"a\"; }\n);\n", "2: setting 'plugins[0]': a plugin needs a file");
	expect("plugins = (\n { name = \"a\"; file = \"a.so\"; },\n { name = \"a\"; file = \"b.so\"; }\n);\n",
	       "3: setting 'plugins[1].name': a plugin named 'a' is already defined at line 2");
	expect("plugins = (\n { name = \"stats\"; file = \"a.so\"; }\n);\n",
	       "2: setting 'plugins[0].name': 'stats' must be 1-64 of [A-Za-z0-9_.-], not start with '.', and not be a host command");
	expect("plugins = (\n { name = \".plugins\"; file = \"a.so\"; }\n);\n",
	       "2: setting 'plugins[0].name': '.plugins' must be 1-64 of [A-Za-z0-9_.-], not start with '.', and not be a host command");
	expect("plugins = (\n { name = \"a\"; file = \"a.so\"; required = 1; }\n);\n",
	       "2: setting 'plugins[0].required': must be true or false");
	expect("plugins = (\n { name = \"a\"; file = \"a.so\"; config = 3; }\n);\n",
	       "2: setting 'plugins[0].config': must be a group { ... }");
	expect("plugins = (\n { name = \"a\"; file = \"a.so\"; colour = \"red\"; }\n);\n",
	       "2: setting 'plugins[0].colour': unknown setting");
	expect("host: {\n  log_level = ;\n};\n", "2: syntax error");
}

static void test_several_errors(void)
{
	struct host_config c;
	struct diag errs = { 0 };
	char *path = unit_write(dir, "t.conf", "host: {\n a = 1;\n b = 2;\n};\n");

	CU_ASSERT_EQUAL(config_load(&c, path, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 2);   /* every problem, not just the first */
	diag_clear(&errs);
	config_release(&c);
	free(path);
}

static void test_missing_file(void)
{
	struct host_config c;
	struct diag errs = { 0 };

	CU_ASSERT_EQUAL(config_load(&c, "/nonexistent/maybep2p.conf", &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	if (errs.count == 1)
		CU_ASSERT_STRING_EQUAL(errs.lines[0], "/nonexistent/maybep2p.conf: cannot read: No such file or directory");
	diag_clear(&errs);
	config_release(&c);
}

static void test_addr(void)
{
	struct sockaddr_storage ss;
	char buf[64];
	int len;

	CU_ASSERT_EQUAL(addr_parse("127.0.0.1:25565", &ss, &len), 0);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "127.0.0.1:25565");
	CU_ASSERT_EQUAL(addr_parse("[::1]:80", &ss, &len), 0);
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[::1]:80");
	CU_ASSERT_EQUAL(addr_parse("::1:80", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse("127.0.0.1:", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse("127.0.0.1:-1", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse("127.0.0.1:65536", &ss, &len), -1);
	/* Port 0 is for listening alone: the kernel picks. */
	CU_ASSERT_EQUAL(addr_parse("127.0.0.1:0", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse_listen("127.0.0.1:0", &ss, &len), 0);
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&ss)->sin_port, 0);
	CU_ASSERT_EQUAL(addr_parse_listen("[::1]:0", &ss, &len), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(addr_parse_listen("127.0.0.1:00", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse_listen("127.0.0.1:7000", &ss, &len), 0);
	CU_ASSERT_EQUAL(addr_parse("example.org:80", &ss, &len), -1);
	CU_ASSERT_EQUAL(addr_parse(":80", &ss, &len), -1);
}

static void test_idmap(void)
{
	struct idmap m = { 0 };
	int ok = 1;

	for (uint64_t k = 1; k <= 5000; k++)
		idmap_put(&m, k * 7919, (void *)(uintptr_t)k);
	for (uint64_t k = 1; k <= 5000; k += 2)
		ok &= idmap_del(&m, k * 7919) == (void *)(uintptr_t)k;
	for (uint64_t k = 1; k <= 5000; k++)
		ok &= idmap_get(&m, k * 7919) == ((k & 1) ? NULL : (void *)(uintptr_t)k);
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(m.used, 2500);
	idmap_free(&m);
}

int config_suite(void)
{
	CU_pSuite s;

	dir = unit_tmpdir();
	s = CU_add_suite("config", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "defaults", test_defaults) ||
	    !CU_add_test(s, "every key read", test_full) ||
	    !CU_add_test(s, "each error with file and line", test_errors) ||
	    !CU_add_test(s, "every problem reported", test_several_errors) ||
	    !CU_add_test(s, "missing file", test_missing_file) ||
	    !CU_add_test(s, "addresses", test_addr) ||
	    !CU_add_test(s, "id map", test_idmap))
		return -1;
	return 0;
}

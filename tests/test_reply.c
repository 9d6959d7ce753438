/* test_reply.c -- control replies rendered as JSON and as aligned text. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_json(void)
{
	struct mp2p_reply *r = reply_new();
	char *s;

	reply_str(r, "id", "node \"a\"\n");
	reply_int(r, "peers", 2);
	reply_row(r);
	reply_str(r, "pid", "p1");
	reply_float(r, "rtt", 0.5);
	reply_row(r);
	reply_str(r, "pid", "p2");
	s = reply_render(r, 1);
	CU_ASSERT_STRING_EQUAL(s, "{\"id\": \"node \\\"a\\\"\\n\", \"peers\": 2, \"rows\": [{\"pid\": \"p1\", \"rtt\": 0.5}, {\"pid\": \"p2\"}]}\n");
	free(s);
	reply_error(r, "no such peer '%s'", "p3");
	CU_ASSERT_EQUAL(reply_status(r), 1);
	s = reply_render(r, 1);
	CU_ASSERT_EQUAL(strncmp(s, "{\"error\": \"no such peer 'p3'\", ", 31), 0);
	free(s);
	reply_free(r);
}

static void test_text(void)
{
	struct mp2p_reply *r = reply_new();
	char *s;

	reply_str(r, "id", "node-a");
	reply_int(r, "connections", 12);
	reply_row(r);
	reply_str(r, "name", "echo");
	reply_str(r, "state", "running");
	reply_row(r);
	reply_str(r, "name", "classicv1");
	reply_str(r, "extra", "x");
	s = reply_render(r, 0);
	CU_ASSERT_STRING_EQUAL(s, "id           node-a\n"
	                          "connections  12\n"
	                          "\n"
	                          "name       state    extra\n"
	                          "echo       running  -\n"
	                          "classicv1  -        x\n");
	free(s);
	reply_usage(r, "unknown command 'x'");
	CU_ASSERT_EQUAL(reply_status(r), 2);
	reply_free(r);
}

int reply_suite(void)
{
	CU_pSuite s = CU_add_suite("reply", NULL, NULL);

	if (s == NULL || !CU_add_test(s, "json", test_json) || !CU_add_test(s, "text", test_text))
		return -1;
	return 0;
}

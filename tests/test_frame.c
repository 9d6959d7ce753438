/* test_frame.c -- the frame header parser and the stream scanner. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static size_t make(uint8_t *buf, const char *proto, const char *type, const void *p, uint32_t n)
{
	frame_header_write(buf, proto, type, n);
	if (n)
		memcpy(buf + MP2P_FRAME_HEADER, p, n);
	return MP2P_FRAME_HEADER + n;
}

static void test_header_fields(void)
{
	uint8_t buf[64];
	struct frame_header fh;
	const char *why = NULL;

	make(buf, "ClassicV1", "JOIN", "REQ", 3);
	CU_ASSERT_EQUAL(memcmp(buf, "ClassicV1\0\0\0JOIN\0\0\0\3REQ", 23), 0);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 100, &fh, &why), FRAME_OK);
	CU_ASSERT_STRING_EQUAL(fh.protocol, "ClassicV1");
	CU_ASSERT_EQUAL(memcmp(fh.type, "JOIN", 4), 0);
	CU_ASSERT_EQUAL(fh.length, 3);
	/* A full 12-byte name has no NUL at all. */
	make(buf, "abcdefghijkl", "PING", NULL, 0);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 100, &fh, &why), FRAME_OK);
	CU_ASSERT_STRING_EQUAL(fh.protocol, "abcdefghijkl");
}

/* Three frames in one stream, cut at every pair of places: each must
 * come out whole, in order, whatever the reads looked like. */
static void test_every_split(void)
{
	uint8_t stream[256], acc[256];
	struct frame_header fh;
	const char *why;
	size_t len = 0;

	len += make(stream + len, "echo", "PING", "hello", 5);
	len += make(stream + len, "echo", "PING", NULL, 0);
	len += make(stream + len, "Kademlia", "FNOD", "0123456789", 10);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			size_t cuts[3] = { a, b, len }, have = 0, used = 0, fed = 0;
			int frames = 0, bad = 0;
			for (int c = 0; c < 3; c++) {
				memcpy(acc + have, stream + fed, cuts[c] - fed);
				have += cuts[c] - fed;
				fed = cuts[c];
				for (;;) {
					int rc = frame_scan(acc + used, have - used, 64, &fh, &why);
					if (rc == FRAME_BAD)
						bad++;
					if (rc != FRAME_OK)
						break;
					frames++;
					if (frames == 1)
						bad += fh.length != 5 || memcmp(acc + used + 20, "hello", 5) != 0;
					if (frames == 2)
						bad += fh.length != 0;
					if (frames == 3)
						bad += fh.length != 10 || strcmp(fh.protocol, "Kademlia") != 0;
					used += MP2P_FRAME_HEADER + fh.length;
				}
			}
			if (frames != 3 || bad != 0 || used != len) {
				CU_FAIL("a split lost or corrupted a frame");
				return;
			}
		}
	}
	CU_PASS("every split");
}

static void test_limits(void)
{
	static uint8_t buf[MP2P_FRAME_HEADER + 1001];
	struct frame_header fh;
	const char *why = NULL;

	memset(buf + MP2P_FRAME_HEADER, 'x', 1001);
	make(buf, "echo", "PING", buf + MP2P_FRAME_HEADER, 1000);
	CU_ASSERT_EQUAL(frame_scan(buf, MP2P_FRAME_HEADER + 1000, 1000, &fh, &why), FRAME_OK);
	CU_ASSERT_EQUAL(frame_scan(buf, MP2P_FRAME_HEADER + 999, 1000, &fh, &why), FRAME_NEED_MORE);
	make(buf, "echo", "PING", buf + MP2P_FRAME_HEADER, 1001);
	CU_ASSERT_EQUAL(frame_scan(buf, 20, 1000, &fh, &why), FRAME_BAD);
	CU_ASSERT_STRING_EQUAL(why, "payload over max_frame");
	/* Zero-length payloads are frames too, even with max_frame 0. */
	make(buf, "echo", "PING", NULL, 0);
	CU_ASSERT_EQUAL(frame_scan(buf, 20, 0, &fh, &why), FRAME_OK);
	CU_ASSERT_EQUAL(frame_scan(buf, 19, 0, &fh, &why), FRAME_NEED_MORE);
	/* The largest length the field can say is refused at once. */
	memset(buf + 16, 0xff, 4);
	CU_ASSERT_EQUAL(frame_scan(buf, 20, 1u << 30, &fh, &why), FRAME_BAD);
}

static void test_garbage(void)
{
	uint8_t buf[32];
	struct frame_header fh;
	const char *why = NULL;

	memcpy(buf, "GET / HTTP/1.1\r\nHost", 20);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 1000, &fh, &why), FRAME_BAD);
	CU_ASSERT_STRING_EQUAL(why, "protocol name is not printable ASCII");
	memset(buf, 0, 20);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 1000, &fh, &why), FRAME_BAD);
	CU_ASSERT_STRING_EQUAL(why, "empty protocol name");
	make(buf, "echo", "PING", NULL, 0);
	buf[6] = 'x';
	CU_ASSERT_EQUAL(frame_header_parse(buf, 1000, &fh, &why), FRAME_BAD);
	CU_ASSERT_STRING_EQUAL(why, "protocol name padding is not NUL");
	make(buf, "echo", "PI\nG", NULL, 0);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 1000, &fh, &why), FRAME_BAD);
	CU_ASSERT_STRING_EQUAL(why, "message type is not printable ASCII");
	make(buf, "ec ho", "PING", NULL, 0);
	CU_ASSERT_EQUAL(frame_header_parse(buf, 1000, &fh, &why), FRAME_BAD);
}

static void test_protocol_names(void)
{
	CU_ASSERT_TRUE(frame_protocol_valid("ClassicV1"));
	CU_ASSERT_TRUE(frame_protocol_valid("abcdefghijkl"));
	CU_ASSERT_FALSE(frame_protocol_valid("abcdefghijklm"));
	CU_ASSERT_FALSE(frame_protocol_valid(""));
	CU_ASSERT_FALSE(frame_protocol_valid("a b"));
}

int frame_suite(void)
{
	CU_pSuite s = CU_add_suite("frame", NULL, NULL);

	if (s == NULL || !CU_add_test(s, "header fields", test_header_fields) ||
	    !CU_add_test(s, "every split of three frames", test_every_split) ||
	    !CU_add_test(s, "zero, maximum, one over", test_limits) ||
	    !CU_add_test(s, "garbage headers", test_garbage) ||
	    !CU_add_test(s, "protocol names", test_protocol_names))
		return -1;
	return 0;
}

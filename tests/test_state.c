/* test_state.c -- state files: round trip, and damage detected and moved aside. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void test_round_trip(void)
{
	char *e = NULL;
	void *data = NULL;
	size_t len = 0;
	uint32_t format = 0;

	CU_ASSERT_EQUAL(state_write(dir, "p", 7, "hello state", 11, &e), 0);
	CU_ASSERT_EQUAL(state_read(dir, "p", &format, &data, &len, &e), 1);
	CU_ASSERT_EQUAL(format, 7);
	CU_ASSERT_EQUAL(len, 11);
	CU_ASSERT_EQUAL(memcmp(data, "hello state", 11), 0);
	free(data);
	CU_ASSERT_EQUAL(state_read(dir, "absent", &format, &data, &len, &e), 0);
	CU_ASSERT_PTR_NULL(data);
	CU_ASSERT_EQUAL(crc32_bytes("123456789", 9), 0xcbf43926u);
}

static int count_aside(const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += strncmp(e->d_name, name, strlen(name)) == 0 && strstr(e->d_name, ".corrupt-") != NULL;
	if (d)
		closedir(d);
	return n;
}

static void test_damage(void)
{
	char path[1024], *e = NULL;
	void *data = NULL;
	size_t len = 0;
	uint32_t format = 0;
	FILE *f;

	CU_ASSERT_EQUAL(state_write(dir, "q", 1, "0123456789", 10, &e), 0);
	snprintf(path, sizeof(path), "%s/q.state", dir);
	f = fopen(path, "r+b");
	fseek(f, 35, SEEK_SET);
	fputc('X', f);            /* one flipped byte in the payload */
	fclose(f);
	CU_ASSERT_EQUAL(state_read(dir, "q", &format, &data, &len, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "checksum mismatch; moved aside to"));
	free(e);
	e = NULL;
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(count_aside("q.state"), 1);

	CU_ASSERT_EQUAL(state_write(dir, "t", 1, "0123456789", 10, &e), 0);
	snprintf(path, sizeof(path), "%s/t.state", dir);
	CU_ASSERT_EQUAL(truncate(path, 36), 0);
	CU_ASSERT_EQUAL(state_read(dir, "t", &format, &data, &len, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "truncated or oversized"));
	free(e);
}

int state_suite(void)
{
	CU_pSuite s;

	dir = unit_tmpdir();
	s = CU_add_suite("state", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "round trip", test_round_trip) ||
	    !CU_add_test(s, "damage moved aside", test_damage))
		return -1;
	return 0;
}

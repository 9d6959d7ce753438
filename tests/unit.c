/* unit.c -- runs every host suite; exits non-zero if any assertion failed. */
#include "config.h"
#include "unit.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *unit_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = malloc(4096);

	snprintf(d, 4096, "%s/mp2p-unit.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(d) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return d;
}

char *unit_write(const char *dir, const char *name, const char *text)
{
	char *path = malloc(4096);
	FILE *f;

	snprintf(path, 4096, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

int main(void)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (frame_suite() || config_suite() || loader_suite() || reply_suite() || state_suite()) {
		fprintf(stderr, "cannot register the suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

/* unit.c -- runs every host suite; exits non-zero if any assertion failed. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dirs[16];
static int ndirs;

char *unit_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = malloc(4096);

	snprintf(d, 4096, "%s/mp2p-unit.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(d) == NULL || ndirs == 16) {
		perror("mkdtemp");
		exit(1);
	}
	dirs[ndirs++] = d;
	return d;
}

/* The suites write only plain files, one level deep. */
static void remove_tmpdirs(void)
{
	for (int i = 0; i < ndirs; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;
		char path[4096];
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], e->d_name);
			unlink(path);
		}
		if (d != NULL)
			closedir(d);
		rmdir(dirs[i]);
		free(dirs[i]);
	}
	ndirs = 0;
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

char *unit_diag_text(struct diag *errs)
{
	char *out = errs->count ? diag_join(errs) : strdup("");

	diag_clear(errs);
	return out;
}

char *unit_config_load(const char *dir, const char *text, struct host_config *c, char **path_out)
{
	struct diag errs = { 0 };
	char *path = unit_write(dir, "t.conf", text);

	config_load(c, path, &errs);
	if (path_out)
		*path_out = path;
	else
		free(path);
	return unit_diag_text(&errs);
}

int main(void)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (frame_suite() || config_suite() || loader_suite() || reply_suite() || state_suite() || util_suite() ||
	    dial_suite() || tls_suite() || sim_suite() ||
	    sim_scenario_suite()) {
		fprintf(stderr, "cannot register the suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	remove_tmpdirs();
	return failed ? 1 : 0;
}

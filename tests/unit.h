/* unit.h -- the CUnit suites of the host, one per area. */
#ifndef MP2P_UNIT_H
#define MP2P_UNIT_H
#include <CUnit/CUnit.h>

int frame_suite(void);
int config_suite(void);
int loader_suite(void);
int reply_suite(void);
int state_suite(void);
int util_suite(void);
int dial_suite(void);
int tls_suite(void);
int sim_suite(void);
int sim_scenario_suite(void);

/* A fresh private directory under TMPDIR, malloc'd. */
char *unit_tmpdir(void);
/* Writes text to dir/name and returns the path, malloc'd. */
char *unit_write(const char *dir, const char *name, const char *text);

struct diag;
struct host_config;
/* The problems in errs joined one a line, "" if none, malloc'd; errs is
 * cleared. */
char *unit_diag_text(struct diag *errs);
/* Writes text to dir/t.conf and loads it into c: the errors, as
 * unit_diag_text() gives them. The path is put in *path_out (malloc'd)
 * unless path_out is NULL. The caller releases c. */
char *unit_config_load(const char *dir, const char *text, struct host_config *c, char **path_out);

/* A text compared in full, both sides printed when they differ (CUnit
 * alone prints neither); a macro so that CUnit names the caller's line. */
#define UNIT_TEXT_EQUAL(got, want)                                                \
	do {                                                                      \
		CU_ASSERT_STRING_EQUAL((got), (want));                            \
		if (strcmp((got), (want)) != 0)                                   \
			fprintf(stderr, "\n  want: %s\n  got:  %s\n", (want), (got)); \
	} while (0)
#endif

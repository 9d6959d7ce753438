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
#endif

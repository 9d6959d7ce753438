/* test_loader.c -- real dlopen of real test plugins: the good one, and one
 * for each way a plugin can be refused, with the exact reason. */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *scratch;

static char *open_error(const char *file)
{
	char path[1024], *error_text = NULL;
	struct module *m;

	snprintf(path, sizeof(path), "%s/%s", TEST_PLUGIN_DIR, file);
	m = loader_open(path, scratch, &error_text);
	if (m != NULL) {
		loader_close(m);
		return strdup("");
	}
	/* Drop the directory so the expectations read like the log does. */
	if (error_text != NULL && strncmp(error_text, TEST_PLUGIN_DIR "/", strlen(TEST_PLUGIN_DIR) + 1) == 0)
		memmove(error_text, error_text + strlen(TEST_PLUGIN_DIR) + 1,
		        strlen(error_text) - strlen(TEST_PLUGIN_DIR));
	return error_text;
}

static void check(const char *file, const char *want)
{
	char *got = open_error(file);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	UNIT_TEXT_EQUAL(got, want);
	free(got);
}

static void test_good(void)
{
	char path[1024], *error_text = NULL;
	struct module *m;

	snprintf(path, sizeof(path), "%s/tp_good.so", TEST_PLUGIN_DIR);
	m = loader_open(path, scratch, &error_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->desc.name, "testplugin");
	CU_ASSERT_STRING_EQUAL(m->desc.version, "0.0.1");
	CU_ASSERT_STRING_EQUAL(m->desc.protocols[0], "tplug");
	CU_ASSERT_PTR_NOT_NULL(m->desc.init);
	CU_ASSERT_PTR_NOT_NULL(m->desc.control);
	CU_ASSERT_PTR_NULL(m->desc.on_drain);  /* what a plugin leaves out is NULL */
	/* A private copy per load, so a rebuilt file is really reloaded. */
	CU_ASSERT_STRING_NOT_EQUAL(m->private_path, path);
	loader_close(m);
}

static void test_refusals(void)
{
	char want[256];

	check("tp_badmagic.so", "tp_badmagic.so: mp2p_plugin_v1 is not a MaybeP2P plugin descriptor (bad magic 0x12345678)");
	snprintf(want, sizeof(want), "tp_major2.so: built for ABI 2.0, this host speaks %d.%d",
	         MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
	check("tp_major2.so", want);
	snprintf(want, sizeof(want), "tp_newminor.so: built for ABI %d.%d, this host speaks %d.%d",
	         MP2P_ABI_MAJOR, MP2P_ABI_MINOR + 1, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
	check("tp_newminor.so", want);
	snprintf(want, sizeof(want), "tp_nosym.so: no symbol mp2p_plugin_v1: not a MaybeP2P ABI %d plugin",
	         MP2P_ABI_MAJOR);
	check("tp_nosym.so", want);
	check("missing.so", "missing.so: cannot open: No such file or directory");
	snprintf(want, sizeof(want), "tp_flags.so: descriptor flags 0x4 are reserved and must be 0 (ABI %d.%d)",
	         MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
	check("tp_flags.so", want);
}

static void test_descriptor_rules(void)
{
	static const char *const none[] = { NULL };
	static const char *const long_name[] = { "thirteen-char", NULL };
	struct mp2p_plugin d;
	char *e = NULL;

	memset(&d, 0, sizeof(d));
	d.magic = MP2P_PLUGIN_MAGIC;
	d.abi_major = MP2P_ABI_MAJOR;
	d.size = sizeof(d);
	d.name = "x";
	d.version = "1";
	d.init = (void *)1;
	d.destroy = (void *)1;
	d.protocols = none;
	CU_ASSERT_EQUAL(loader_check(&d, "x.so", &e), -1);
	CU_ASSERT_STRING_EQUAL(e, "x.so: plugin 'x' names no protocol");
	free(e);
	d.protocols = long_name;
	CU_ASSERT_EQUAL(loader_check(&d, "x.so", &e), -1);
	CU_ASSERT_STRING_EQUAL(e, "x.so: plugin 'x': protocol name #1 is not 1-12 printable ASCII characters");
	free(e);
	d.size = 16;
	CU_ASSERT_EQUAL(loader_check(&d, "x.so", &e), -1);
	CU_ASSERT_STRING_EQUAL(e, "x.so: descriptor of 16 bytes is smaller than ABI 1.0's");
	free(e);
}

/* The instance layer: init runs with the operator's config. */
static struct host h;

static void host_setup(const char *conf_text)
{
	struct diag errs = { 0 };
	char *path;

	memset(&h, 0, sizeof(h));
	path = unit_write(scratch, "loader.conf", conf_text);
	CU_ASSERT_EQUAL(config_load(&h.cfg, path, &errs), 0);
	diag_print(&errs, HLOG_ERR);
	diag_clear(&errs);
	free(path);
	h.scratch_dir = scratch;
	h.core.io = &daemon_io;
	h.core.cfg = &h.cfg;
}

static void test_init(void)
{
	struct mp2p_host *a, *b, *set[2];
	struct diag errs = { 0 };
	char want[512];

	host_setup("host: { plugin_dir = \"" TEST_PLUGIN_DIR "\"; state_dir = \"/nonexistent\"; };\n"
	           "plugins = (\n { name = \"good\"; file = \"tp_good.so\"; config: { answer = 7; }; },\n"
	           " { name = \"fails\"; file = \"tp_initfail.so\"; },\n"
	           " { name = \"neg\"; file = \"tp_good.so\"; config: {\n  answer = -1; }; },\n"
	           " { name = \"typo\"; file = \"tp_good.so\"; config: {\n  answr = 1; }; },\n"
	           " { name = \"e1\"; file = \"echo_a.so\"; },\n"
	           " { name = \"e2\"; file = \"tp_claimsecho.so\"; }\n);\n");
	a = instance_create(&h, &h.cfg, &h.cfg.plugins[0], &errs);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_EQUAL(errs.count, 0);
	if (a != NULL)
		CU_ASSERT_EQUAL(((long long *)a->self)[1], 7);   /* struct tp { host; answer; } */
	instance_destroy(a);

	CU_ASSERT_PTR_NULL(instance_create(&h, &h.cfg, &h.cfg.plugins[1], &errs));
	CU_ASSERT_PTR_NULL(instance_create(&h, &h.cfg, &h.cfg.plugins[2], &errs));
	CU_ASSERT_PTR_NULL(instance_create(&h, &h.cfg, &h.cfg.plugins[3], &errs));
	CU_ASSERT_EQUAL_FATAL(errs.count, 3);
	snprintf(want, sizeof(want), "%s:4: plugin 'fails': init failed: the test plugin refuses to start: no frobnicator", h.cfg.path);
	CU_ASSERT_STRING_EQUAL(errs.lines[0], want);
	snprintf(want, sizeof(want), "%s:6: plugin neg: setting 'answer': must not be negative", h.cfg.path);
	CU_ASSERT_STRING_EQUAL(errs.lines[1], want);
	snprintf(want, sizeof(want), "%s:8: plugin typo: setting 'answr': unknown setting", h.cfg.path);
	CU_ASSERT_STRING_EQUAL(errs.lines[2], want);
	diag_clear(&errs);

	/* Two plugins claiming one protocol cannot both route. */
	a = instance_create(&h, &h.cfg, &h.cfg.plugins[4], &errs);
	b = instance_create(&h, &h.cfg, &h.cfg.plugins[5], &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	set[0] = a;
	set[1] = b;
	CU_ASSERT_EQUAL(routes_build(&h.core, set, 2, &errs), -1);
	CU_ASSERT_EQUAL_FATAL(errs.count, 1);
	snprintf(want, sizeof(want), "protocol 'echo' is claimed by both plugin 'e1' (%s/echo_a.so) and plugin 'e2' (%s/tp_claimsecho.so)",
	         TEST_PLUGIN_DIR, TEST_PLUGIN_DIR);
	CU_ASSERT_STRING_EQUAL(errs.lines[0], want);
	diag_clear(&errs);
	CU_ASSERT_EQUAL(routes_build(&h.core, set, 1, &errs), 0);
	CU_ASSERT_PTR_EQUAL(route_protocol(&h.core, "echo"), a);
	CU_ASSERT_PTR_NULL(route_protocol(&h.core, "nobody"));
	free(h.core.routes);
	instance_destroy(a);
	instance_destroy(b);
	h.scratch_dir = NULL;
	config_release(&h.cfg);
}

int loader_suite(void)
{
	CU_pSuite s;

	scratch = unit_tmpdir();
	s = CU_add_suite("loader", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "a good plugin", test_good) ||
	    !CU_add_test(s, "refused plugins, by name and version", test_refusals) ||
	    !CU_add_test(s, "descriptor rules", test_descriptor_rules) ||
	    !CU_add_test(s, "init with config, failures, protocol clash", test_init))
		return -1;
	return 0;
}

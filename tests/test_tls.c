/* test_tls.c -- the host key file, peer ids, host.security settings and
 * the first-byte sniffing of mode "mixed". */
#include "config.h"
#include "host.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_key_created_and_kept(void)
{
	char *e = NULL, *path = NULL, id1[MP2P_PEER_ID_LEN + 1], id2[MP2P_PEER_ID_LEN + 1];
	char *sub = NULL;
	EVP_PKEY *k1, *k2;
	struct stat st;

	sub = malloc(4096);
	snprintf(sub, 4096, "%s/state", dir);
	/* Without create nothing is made. */
	CU_ASSERT_PTR_NULL(hostkey_load(sub, 0, &e));
	CU_ASSERT_PTR_NULL(e);
	k1 = hostkey_load(sub, 1, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k1);
	CU_ASSERT_EQUAL(peer_id_of_key(k1, id1), 0);
	CU_ASSERT_TRUE(peer_id_valid(id1));
	path = malloc(4096);
	snprintf(path, 4096, "%s/host.key", sub);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	/* The second start reads the same key. */
	k2 = hostkey_load(sub, 1, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
	CU_ASSERT_EQUAL(peer_id_of_key(k2, id2), 0);
	CU_ASSERT_STRING_EQUAL(id1, id2);
	hostkey_free(k2);

	/* A key others may read is refused, with the file and the fix named. */
	chmod(path, 0644);
	CU_ASSERT_PTR_NULL(hostkey_load(sub, 1, &e));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "mode 0644"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "chmod 600"));
	free(e);
	e = NULL;

	/* A damaged key is refused, never replaced. */
	unlink(path);
	free(unit_write(sub, "host.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n"));
	chmod(path, 0600);
	CU_ASSERT_PTR_NULL(hostkey_load(sub, 1, &e));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "not a PEM private key"));
	free(e);
	unlink(path);
	rmdir(sub);
	hostkey_free(k1);
	free(path);
	free(sub);
}

static void test_peer_id_syntax(void)
{
	CU_ASSERT_TRUE(peer_id_valid(ID_A));
	CU_ASSERT_TRUE(peer_id_valid(ID_B));
	CU_ASSERT_FALSE(peer_id_valid(NULL));
	CU_ASSERT_FALSE(peer_id_valid(""));
	CU_ASSERT_FALSE(peer_id_valid(ID_A "a"));
	CU_ASSERT_FALSE(peer_id_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	CU_ASSERT_FALSE(peer_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CU_ASSERT_FALSE(peer_id_valid("gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static char *load(const char *text, struct host_config *c, char **path_out)
{
	return unit_config_load(dir, text, c, path_out);
}

static void test_security_settings(void)
{
	struct host_config c;
	char *got, *path, want[1024];

	got = load("host: { };\n", &c, NULL);
	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_EQUAL(c.security_mode, SEC_TLS);   /* a new config is encrypted */
	CU_ASSERT_FALSE(c.allow_set);
	CU_ASSERT_TRUE(config_allows(&c, ID_A));
	config_release(&c);
	free(got);

	got = load("host: { security: { mode = \"mixed\"; allow = [ \"" ID_B "\", \"" ID_A "\" ]; }; };\n",
	           &c, NULL);
	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_EQUAL(c.security_mode, SEC_MIXED);
	CU_ASSERT_TRUE(config_allows(&c, ID_A));
	CU_ASSERT_TRUE(config_allows(&c, ID_B));
	CU_ASSERT_FALSE(config_allows(&c, "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	config_release(&c);
	free(got);

	/* An empty list admits nobody: a private network of one. */
	got = load("host: { security: { allow = [ ]; }; };\n", &c, NULL);
	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_FALSE(config_allows(&c, ID_A));
	config_release(&c);
	free(got);

	got = load("host: {\n security: {\n  mode = \"tls1.2\";\n };\n};\n", &c, &path);
	snprintf(want, sizeof(want), "%s:3: setting 'host.security.mode': must be \"tls\", \"plain\" or "
	         "\"mixed\" (got 'tls1.2')", path);
	CU_ASSERT_STRING_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);

	got = load("host: {\n security: {\n  allow = [ \"" ID_A "\",\n \"bob\" ];\n };\n};\n", &c, &path);
	snprintf(want, sizeof(want), "%s:4: setting 'host.security.allow[1]': element 1 is not a peer id "
	         "(64 lowercase hex digits, as `maybep2pd --peer-id` prints)", path);
	UNIT_TEXT_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);

	got = load("host: {\n security: {\n  mode = \"plain\";\n  allow = [ \"" ID_A "\" ];\n };\n};\n", &c, &path);
	snprintf(want, sizeof(want), "%s:4: setting 'host.security.allow': needs mode \"tls\" or \"mixed\": "
	         "a plaintext peer cannot prove its peer id", path);
	CU_ASSERT_STRING_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);

	got = load("host: { security: { cipher = \"rc4\"; }; };\n", &c, &path);
	snprintf(want, sizeof(want), "%s:1: setting 'host.security.cipher': unknown setting", path);
	CU_ASSERT_STRING_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);
}

static void test_allow_file(void)
{
	struct host_config c;
	char *got, *path, *list, want[2048];

	list = unit_write(dir, "allowed", "# the lab\n\n  " ID_A "  \n" ID_B "\n");
	got = load("host: { security: { allow_file = \"allowed\"; }; };\n", &c, NULL);
	CU_ASSERT_STRING_EQUAL(got, "");   /* relative to the config file */
	CU_ASSERT_EQUAL(c.nallow, 2);
	CU_ASSERT_TRUE(config_allows(&c, ID_A));
	CU_ASSERT_TRUE(config_allows(&c, ID_B));
	config_release(&c);
	free(got);
	free(list);

	list = unit_write(dir, "allowed", ID_A "\nnot-an-id\n" ID_B "x\n");
	got = load("host: {\n security: { allow_file = \"allowed\"; };\n};\n", &c, &path);
	snprintf(want, sizeof(want),
	         "%s:2: setting 'host.security.allow_file': %s:2: 'not-an-id' is not a peer id (64 lowercase hex digits)\n"
	         "%s:2: setting 'host.security.allow_file': %s:3: '%sx' is not a peer id (64 lowercase hex digits)",
	         path, list, path, list, ID_B);
	UNIT_TEXT_EQUAL(got, want);
	config_release(&c);
	free(got);
	free(path);
	unlink(list);
	free(list);

	got = load("host: { security: { allow_file = \"/nonexistent/allowed\"; }; };\n", &c, &path);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "/nonexistent/allowed: cannot read the allow file"));
	config_release(&c);
	free(got);
	free(path);
}

static void test_sniff(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	static const uint8_t frame[] = "echo\0\0\0\0\0\0\0\0PING";
	static const uint8_t odd_version[] = { 0x16, 0x02, 0x00 };
	static const uint8_t future[] = { 0x16, 0x03, 0x09 };
	static const uint8_t nul[] = { 0x00, 'e' };
	const char *why;

	CU_ASSERT_EQUAL(tls_sniff(hello, 0, &why), SNIFF_NEED_MORE);
	CU_ASSERT_EQUAL(tls_sniff(hello, 1, &why), SNIFF_TLS);
	CU_ASSERT_EQUAL(tls_sniff(hello, sizeof(hello), &why), SNIFF_TLS);
	CU_ASSERT_EQUAL(tls_sniff(frame, 1, &why), SNIFF_PLAIN);
	CU_ASSERT_EQUAL(tls_sniff(frame, 3, &why), SNIFF_PLAIN);
	CU_ASSERT_EQUAL(tls_sniff(odd_version, 3, &why), SNIFF_BAD);
	CU_ASSERT_STRING_EQUAL(why, "a TLS record of an unknown version");
	CU_ASSERT_EQUAL(tls_sniff(future, 3, &why), SNIFF_BAD);
	CU_ASSERT_EQUAL(tls_sniff(nul, 2, &why), SNIFF_BAD);
	CU_ASSERT_STRING_EQUAL(why, "neither a TLS handshake nor a frame");
}

int tls_suite(void)
{
	CU_pSuite s;

	dir = unit_tmpdir();
	s = CU_add_suite("tls", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "host key created, kept, guarded", test_key_created_and_kept) ||
	    !CU_add_test(s, "peer id syntax", test_peer_id_syntax) ||
	    !CU_add_test(s, "host.security", test_security_settings) ||
	    !CU_add_test(s, "allow_file", test_allow_file) ||
	    !CU_add_test(s, "first-byte sniffing", test_sniff))
		return -1;
	return 0;
}

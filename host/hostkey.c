/* hostkey.c -- the host's Ed25519 key in state_dir/host.key, and the peer
 * id derived from it: SHA-256 of the raw 32-byte public key, written as 64
 * lowercase hex digits. The key never leaves this file's functions except
 * as an EVP_PKEY handed to the TLS context. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#define KEY_FILE "host.key"

int peer_id_valid(const char *text)
{
	size_t i;

	if (text == NULL)
		return 0;
	for (i = 0; i < MP2P_PEER_ID_LEN; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return 0;
	return text[i] == '\0';
}

int peer_id_of_key(const EVP_PKEY *key, char out[MP2P_PEER_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32], digest[32];
	size_t rawlen = sizeof(raw);
	unsigned int dlen = 0;

	out[0] = '\0';
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 || rawlen != sizeof(raw) ||
	    EVP_Digest(raw, rawlen, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		return -1;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[MP2P_PEER_ID_LEN] = '\0';
	return 0;
}

/* Reads an existing key file, refusing one that is not ours alone: a key
 * others can read is a key others may hold. */
static EVP_PKEY *key_read(const char *path, int fd, char **error_text)
{
	EVP_PKEY *key;
	struct stat st;
	FILE *f;

	if (fstat(fd, &st) < 0) {
		*error_text = str_printf("%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_text = str_printf("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_uid != geteuid()) {
		*error_text = str_printf("%s: owned by uid %u, not by this user (%u); refusing a key "
		                         "another user controls", path, (unsigned)st.st_uid,
		                         (unsigned)geteuid());
		close(fd);
		return NULL;
	}
	if (st.st_mode & 077) {
		*error_text = str_printf("%s: mode %04o lets other users at the private key; "
		                         "run chmod 600 on it", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		*error_text = str_printf("%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL) {
		*error_text = str_printf("%s: not a PEM private key", path);
		return NULL;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		*error_text = str_printf("%s: not an Ed25519 key", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* Writes a fresh key beside the final name and renames it into place, so a
 * crash leaves either no key or a whole one, never a readable half. The
 * temporary file is created 0600 and exclusively: nobody else can have it
 * open, and a symlink planted there is not followed. */
static EVP_PKEY *key_create(const char *dir, const char *path, char **error_text)
{
	EVP_PKEY *key = NULL;
	char *tmp = str_printf("%s/" KEY_FILE ".new", dir);
	FILE *f = NULL;
	int fd = -1, ok = 0;

	if (tmp == NULL)
		return NULL;
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
		*error_text = str_printf("%s: cannot generate an Ed25519 key", path);
		goto done;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		*error_text = str_printf("%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		*error_text = str_printf("%s: cannot create: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) < 0) {
		*error_text = str_printf("%s: cannot write the key: %s", tmp, strerror(errno));
		goto done;
	}
	if (rename(tmp, path) < 0) {
		*error_text = str_printf("%s: cannot rename into place: %s", path, strerror(errno));
		goto done;
	}
	ok = 1;
done:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (!ok) {
		unlink(tmp);
		EVP_PKEY_free(key);
		key = NULL;
	}
	free(tmp);
	return key;
}

EVP_PKEY *hostkey_load(const char *state_dir, int create, char **error_text)
{
	char *path = str_printf("%s/" KEY_FILE, state_dir);
	EVP_PKEY *key = NULL;
	int fd;

	*error_text = NULL;
	if (path == NULL)
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		key = key_read(path, fd, error_text);
	} else if (errno != ENOENT) {
		*error_text = str_printf("%s: cannot open: %s", path, strerror(errno));
	} else if (create) {
		if (state_mkdirs(state_dir, error_text) == 0)
			key = key_create(state_dir, path, error_text);
		if (key != NULL)
			log_msg(HLOG_INFO, "created a new host key in %s", path);
	}
	free(path);
	return key;
}

void hostkey_free(EVP_PKEY *key)
{
	EVP_PKEY_free(key);
}

/* Signs msg with the host key (pure Ed25519: the message, not a digest of
 * it) and gives the raw public key beside, so a plugin can sign data that
 * others check against this host's peer id. sig NULL: the public key only. */
int hostkey_sign(const EVP_PKEY *key, const void *msg, size_t len,
                 unsigned char sig[MP2P_SIGNATURE_LEN], unsigned char pub[MP2P_PUBLIC_KEY_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = MP2P_SIGNATURE_LEN, publen = MP2P_PUBLIC_KEY_LEN;
	unsigned char raw[MP2P_PUBLIC_KEY_LEN];
	int ok;

	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 || (sig && !msg && len))
		return -1;
	if (EVP_PKEY_get_raw_public_key(key, raw, &publen) != 1 || publen != sizeof(raw))
		return -1;
	if (sig != NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return -1;
		/* EVP_DigestSignInit takes a non-const key but only reads it. */
		ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, (EVP_PKEY *)key) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, msg ? msg : (const void *)"", len) == 1 &&
		     siglen == MP2P_SIGNATURE_LEN;
		EVP_MD_CTX_free(ctx);
		if (!ok)
			return -1;
	}
	if (pub != NULL)
		memcpy(pub, raw, sizeof(raw));
	return 0;
}

/* bench_tls.c -- the benchmark's TLS contexts: an Ed25519 key and a
 * self-signed certificate made at start, and the settings the host uses
 * (see host/tls.c), so neither side of a comparison does less work. */
#include "bench_tls.h"

#include <stdint.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* The host's suites, in the host's order of preference. */
#define BENCH_TLS_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

static void fail(char *err, size_t size, const char *what)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, size, "%s: %s", what, why ? why : "unknown error");
}

/* A certificate is only a carrier for the key here, as between hosts:
 * a subject for people reading it, sensible dates, a self-signature. */
static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();

	if (x == NULL)
		return NULL;
	if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                               (const unsigned char *)"bench", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    X509_set_pubkey(x, key) != 1 || X509_sign(x, key, NULL) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Stands in for chain verification, as the host's check does: the key
 * must be Ed25519, and nothing else about the certificate matters. */
static int accept_ed25519(X509_STORE_CTX *store, void *arg)
{
	X509 *cert = X509_STORE_CTX_get0_cert(store);

	(void)arg;
	if (cert != NULL && EVP_PKEY_get_id(X509_get0_pubkey(cert)) == EVP_PKEY_ED25519)
		return 1;
	X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

SSL_CTX *bench_tls_ctx_new(enum bench_tls_role role, char *err, size_t size)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *cert = key ? self_signed(key) : NULL;
	SSL_CTX *ctx = cert ? SSL_CTX_new(role == BENCH_TLS_SERVER ? TLS_server_method()
	                                                            : TLS_client_method())
	                    : NULL;

	if (ctx == NULL) {
		fail(err, size, key == NULL ? "Ed25519 key" : cert == NULL ? "certificate" : "SSL_CTX_new");
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, BENCH_TLS_SUITES) != 1 ||
	    SSL_CTX_set1_sigalgs_list(ctx, "ed25519") != 1 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		fail(err, size, "TLS settings");
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, accept_ed25519, NULL);
	/* Every handshake is a full one, as between hosts. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* A peer that closes without close_notify has ended its stream. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (role == BENCH_TLS_CLIENT)
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

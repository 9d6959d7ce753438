/* bench_tls.h -- the TLS set-up the benchmark's bare server and load
 * generator share: a fresh Ed25519 key with a self-signed certificate,
 * and a TLS 1.3 context configured the way the host configures its own
 * (the same three AEAD suites, both sides present a key, no certificate
 * authorities, no resumption), so a figure measured against the host and
 * one measured against the bare server pay for the same cryptography. */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Which end of a connection a context is for. */
enum bench_tls_role { BENCH_TLS_SERVER = 0, BENCH_TLS_CLIENT = 1 };

/**
 * A new TLS 1.3 context with a key and certificate made for it.
 *
 * Both roles ask the other side for its certificate and accept it when it
 * carries an Ed25519 key, as the host does for a peer whose id it does
 * not pin; the peer's CertificateVerify signature is checked by OpenSSL
 * as in every TLS 1.3 handshake. A client context also lets SSL_write()
 * take part of a buffer and be retried from a buffer that has moved.
 *
 * @param role BENCH_TLS_SERVER or BENCH_TLS_CLIENT
 * @param err where a reason is written on failure; `size` bytes
 * @return the context (SSL_CTX_free() it), or NULL with `err` filled
 */
SSL_CTX *bench_tls_ctx_new(enum bench_tls_role role, char *err, size_t size);

#endif

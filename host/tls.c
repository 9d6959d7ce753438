/* tls.c -- TLS 1.3 between hosts: one OpenSSL context for both roles, the
 * certificate made from the host key at start, the check that turns a
 * peer's key into its peer id, and the first-byte sniffing that lets TLS
 * and plaintext peers share a listener in mode "mixed".
 *
 * There are no certificate authorities. A certificate is only a carrier
 * for an Ed25519 public key: TLS 1.3's CertificateVerify proves the peer
 * holds the matching private key, and the peer id is the SHA-256 of that
 * key. So the check below ignores chains, names and dates entirely and asks
 * only: is the key Ed25519, and is its peer id one we accept? */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS 1.3 has only AEAD suites; these are the three every peer offers. */
#define TLS_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

static int check_index = -1;   /* SSL ex_data slot holding the struct tls_check */

/* A self-signed certificate for the host key. It is made at every start
 * and never stored: nothing in it but the key matters to our peers, and
 * the subject (the peer id) is there for people reading `openssl s_client`. */
static X509 *make_certificate(EVP_PKEY *key, const char *peer_id)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint64_t serial;

	if (x == NULL)
		return NULL;
	if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
		goto fail;
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) != 1)
		goto fail;
	/* Dates are ignored by our check; make them sensible for other tools. */
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL) == NULL)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)peer_id,
	                               -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
	    X509_sign(x, key, NULL) <= 0)   /* Ed25519 takes no separate digest */
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Replaces OpenSSL's whole chain verification (SSL_CTX_set_cert_verify_
 * callback): chains, names and dates mean nothing here, the key does. A
 * refusal is written into the connection's tls_check, so the log line says
 * which key was refused and why, not just "certificate verify failed". */
static int verify_key(X509_STORE_CTX *store, void *arg)
{
	struct host *h = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_check *check = ssl ? SSL_get_ex_data(ssl, check_index) : NULL;
	X509 *cert = X509_STORE_CTX_get0_cert(store);
	char id[MP2P_PEER_ID_LEN + 1];

	if (check == NULL || cert == NULL)
		return 0;
	if (peer_id_of_key(X509_get0_pubkey(cert), id) < 0) {
		snprintf(check->refusal, sizeof(check->refusal), "its certificate key is not Ed25519");
	} else if (check->expected[0] != '\0' && strcmp(id, check->expected) != 0) {
		snprintf(check->refusal, sizeof(check->refusal),
		         "it presented peer id %.16s..., not the expected %.16s...", id, check->expected);
	} else if (!config_allows(&h->cfg, id)) {
		snprintf(check->refusal, sizeof(check->refusal),
		         "peer id %s is not in host.security.allow", id);
	} else {
		memcpy(check->verified, id, sizeof(check->verified));
		return 1;
	}
	X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

int tls_init(struct host *h, struct diag *errs)
{
	SSL_CTX *ctx;
	X509 *cert;

	if (check_index < 0)
		check_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if ((cert = make_certificate(h->key, h->peer_id)) == NULL) {
		diag_add(errs, "cannot make the host's TLS certificate");
		return -1;
	}
	/* Every host key is Ed25519, so Ed25519 is the one signature scheme
	 * offered and accepted: a peer with another kind of key fails in the
	 * handshake, before its certificate is even parsed, and each connection
	 * keeps a list of one shared scheme instead of a score. */
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL || check_index < 0 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_SUITES) != 1 ||
	    SSL_CTX_set1_sigalgs_list(ctx, "ed25519") != 1 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, h->key) != 1) {
		diag_add(errs, "cannot set up TLS: %s", ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		X509_free(cert);
		return -1;
	}
	X509_free(cert);
	/* Both sides present a key and both check the other's. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_key, h);
	/* No resumption: every connection proves its key afresh, and no
	 * ticket keys or session cache need protecting. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
	                         SSL_OP_NO_RENEGOTIATION);
	/* An idle connection gives its read and write buffers back (about
	 * 34 KiB each way otherwise): most peer connections are idle. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	h->tls_ctx = ctx;
	return 0;
}

void tls_free(struct host *h)
{
	SSL_CTX_free(h->tls_ctx);
	h->tls_ctx = NULL;
	sniffs_free(h);
}

struct bufferevent *tls_bev_new(struct host *h, evutil_socket_t fd, int inbound,
                                struct tls_check *check)
{
	struct bufferevent *bev;
	SSL *ssl = SSL_new(h->tls_ctx);

	if (ssl == NULL || SSL_set_ex_data(ssl, check_index, check) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	/* Deferred callbacks: OpenSSL may read a frame and the peer's end of
	 * stream in one go, and the frame must reach the plugin first. */
	bev = bufferevent_openssl_socket_new(h->base, fd, ssl,
	                                     inbound ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* A peer that closes without close_notify has ended its stream, not
	 * attacked it: frames carry their own lengths, so a cut is seen. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Why a TLS connection failed, in words for the log. */
void tls_failure(struct bufferevent *bev, const struct tls_check *check, char *buf, size_t size)
{
	unsigned long err, first = 0;

	while ((err = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = err;
	if (check->refusal[0] != '\0') {
		snprintf(buf, size, "TLS handshake refused: %s", check->refusal);
		return;
	}
	if (first == 0) {
		int e = EVUTIL_SOCKET_ERROR();
		snprintf(buf, size, "TLS: %s", e ? strerror(e) : "connection lost");
		return;
	}
	switch (ERR_GET_REASON(first)) {
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		snprintf(buf, size, "not a TLS handshake (a plaintext peer?): host.security.mode "
		         "admits TLS only");
		return;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		/* A key of another type is not offered at all: Ed25519 is the
		 * only signature scheme a host asks for. */
		snprintf(buf, size, "TLS handshake refused: the peer presented no Ed25519 key");
		return;
	default:
		snprintf(buf, size, "TLS handshake failed: %s",
		         ERR_reason_error_string(first) ? ERR_reason_error_string(first) : "unknown error");
	}
}

/* --- mode "mixed": telling TLS from frames by the first bytes ---------- */

/* An accepted socket whose first bytes have not arrived yet. It holds its
 * place under max_connections and max_connections_per_ip meanwhile. */
struct sniff {
	struct sniff *next, *prev;
	struct host *h;
	struct event *ev;
	evutil_socket_t fd;
	struct sockaddr_storage sa;
	int salen;
};

static void sniff_unlink(struct sniff *s)
{
	struct host *h = s->h;

	if (s->prev)
		s->prev->next = s->next;
	else
		h->sniffs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsniffs--;
	conn_ip_hold(h, (struct sockaddr *)&s->sa, -1);
	if (s->ev)
		event_free(s->ev);
	free(s);
}

static void sniff_refuse(struct host *h, evutil_socket_t fd, const struct sockaddr *sa,
                         const char *why)
{
	static struct ratelog rl;
	char peer[64];

	h->stats.bad_frames++;
	addr_format(sa, peer, sizeof(peer));
	log_rated(&rl, HLOG_WARN, "%s: connection refused: %s (%llu bad frames so far)", peer, why,
	          (unsigned long long)h->stats.bad_frames);
	evutil_closesocket(fd);
}

/* Peeks at what has arrived; returns 1 once the socket has been handed on
 * (or closed), 0 to keep waiting. */
static int sniff_decide(struct host *h, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
	uint8_t buf[3];
	const char *why;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		evutil_closesocket(fd);   /* gone before saying anything */
		return 1;
	}
	rc = tls_sniff(buf, (size_t)n, &why);
	if (rc == SNIFF_NEED_MORE)
		return 0;
	if (rc == SNIFF_BAD)
		sniff_refuse(h, fd, sa, why);
	else
		conn_accept(h, fd, sa, salen, rc == SNIFF_TLS);
	return 1;
}

static void sniff_ready(evutil_socket_t fd, short what, void *arg)
{
	struct sniff *s = arg;
	struct host *h = s->h;
	struct sockaddr_storage sa = s->sa;
	int salen = s->salen;

	if (what & EV_TIMEOUT) {
		sniff_unlink(s);
		sniff_refuse(h, fd, (struct sockaddr *)&sa, "sent nothing within the first-frame timeout");
		return;
	}
	/* Unlinked first: conn_accept() counts the address again itself. */
	sniff_unlink(s);
	if (!sniff_decide(h, fd, (struct sockaddr *)&sa, salen))
		sniff_start(h, fd, (struct sockaddr *)&sa, salen);
}

void sniff_start(struct host *h, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
	struct sniff *s;

	/* A client usually speaks first at once: decide without a wait. */
	if (sniff_decide(h, fd, sa, salen))
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ev = event_new(h->base, fd, EV_READ, sniff_ready, s)) == NULL) {
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->h = h;
	s->fd = fd;
	memcpy(&s->sa, sa, (size_t)salen < sizeof(s->sa) ? (size_t)salen : sizeof(s->sa));
	s->salen = salen;
	s->next = h->sniffs;
	if (s->next)
		s->next->prev = s;
	h->sniffs = s;
	h->nsniffs++;
	conn_ip_hold(h, sa, 1);
	event_add(s->ev, h->tv_first);
}

void sniffs_free(struct host *h)
{
	while (h->sniffs != NULL) {
		evutil_socket_t fd = h->sniffs->fd;
		sniff_unlink(h->sniffs);
		evutil_closesocket(fd);
	}
}

/* transfer.c -- bulk file transfer between two hosts, checked by SHA-256.
 *
 * It shows the SDK's side for bulk protocols (ABI 1.1): a connection of
 * its own (MP2P_SEND_OWNED), so its queues and its mistakes touch no other
 * plugin; flow control (send_v2 with MP2P_SEND_NOWAIT, on_drain, a
 * low-water mark sized from limits()); file work cut into slices the size
 * of what the connection can take, so the loop never waits on a whole
 * file; a control command answered when the work is done (reply_defer).
 *
 * Control: `maybep2pctl NAME send ADDR:PORT FILE [AS]` sends FILE to the
 * host at ADDR:PORT, which keeps it as `dir`/AS (default: FILE's base
 * name); the reply comes once the receiver has checked the hash:
 * bytes, seconds, mb_per_s, sha256. `maybep2pctl NAME status` lists
 * transfers in progress.
 *
 * Settings (`config` group): dir (where received files go; without it
 * this host refuses offers), chunk (bytes per DATA frame, at most
 * max_frame; default 256 KiB).
 *
 * Protocol `transfer`, on one owned connection per transfer:
 *   OFFR  u64 size, u16 name length, name      sender -> receiver
 *   ACKD  empty: the offer is taken            receiver -> sender
 *   DATA  bytes of the file, in order          sender -> receiver
 *   DONE  32-byte SHA-256 of the whole file    sender -> receiver
 *   ACKD  u8 status (0 ok, 1 hash differs, 2 refused or failed),
 *         32-byte SHA-256 the receiver computed receiver -> sender
 * Every number is big-endian. A receiver writes NAME.part and renames it
 * to NAME only when the hashes agree.
 */
#include <maybep2p/plugin.h>
#include <maybep2p/util.h>

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XF_NAME_MAX 255
#define XF_HASH 32
#define XF_MAX 64                /* transfers in progress, both directions */

enum { XF_SEND = 1, XF_RECV = 2 };
enum { ACK_OK = 0, ACK_MISMATCH = 1, ACK_FAILED = 2 };

/* One transfer, on one connection. */
struct xf {
	int kind;
	mp2p_conn_id conn;
	int fd;
	uint64_t size, done;         /* bytes in the file; sent or received */
	EVP_MD_CTX *sha;
	uint8_t hash[XF_HASH];       /* the sender's, once known */
	char name[XF_NAME_MAX + 1];
	char *path;                  /* receiver: the .part file */
	mp2p_reply *reply;           /* sender: the control command waiting */
	double started;
	int finished;                /* sender: DONE sent */
};

struct transfer {
	const struct mp2p_host_api *api;
	mp2p_host *host;
	char *dir;
	size_t chunk;
	size_t low_water;
	uint8_t *buf;                /* one chunk, for reading the file */
	uint64_t *drains;            /* on_drain() calls, for `maybep2pctl stats` */
	struct xf xf[XF_MAX];
};

static const char *const transfer_settings[] = { "dir", "chunk", NULL };

/* ---- transfers -------------------------------------------------------------- */

static struct xf *xf_find(struct transfer *t, mp2p_conn_id conn)
{
	for (int i = 0; i < XF_MAX; i++)
		if (t->xf[i].kind != 0 && t->xf[i].conn == conn)
			return &t->xf[i];
	return NULL;
}

static struct xf *xf_new(struct transfer *t, int kind)
{
	for (int i = 0; i < XF_MAX; i++) {
		struct xf *x = &t->xf[i];
		if (x->kind != 0)
			continue;
		memset(x, 0, sizeof(*x));
		if ((x->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(x->sha, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(x->sha);
			x->sha = NULL;
			return NULL;
		}
		x->kind = kind;
		x->fd = -1;
		x->started = t->api->now(t->host);
		return x;
	}
	return NULL;
}

/* Ends a transfer: answers its control command with `error` or its
 * figures, removes a receiver's partial file, closes the connection. */
static void xf_end(struct transfer *t, struct xf *x, const char *error)
{
	const struct mp2p_host_api *api = t->api;
	mp2p_conn_id conn = x->conn;

	if (x->reply != NULL) {
		double secs = api->now(t->host) - x->started;
		char hex[2 * XF_HASH + 1];
		if (error != NULL) {
			api->reply_error(x->reply, "%s", error);
		} else {
			for (int i = 0; i < XF_HASH; i++)
				snprintf(hex + 2 * i, 3, "%02x", x->hash[i]);
			api->reply_int(x->reply, "bytes", (long long)x->done);
			api->reply_float(x->reply, "seconds", secs);
			api->reply_float(x->reply, "mb_per_s", secs > 0 ? (double)x->done / 1e6 / secs : 0);
			api->reply_str(x->reply, "sha256", hex);
		}
		api->reply_finish(x->reply);
	}
	if (x->fd >= 0)
		close(x->fd);
	if (x->path != NULL) {
		if (error != NULL)
			unlink(x->path);
		free(x->path);
	}
	EVP_MD_CTX_free(x->sha);
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	if (error != NULL)
		api->log(t->host, MP2P_LOG_INFO, "transfer on connection %llu ended: %s",
		         (unsigned long long)conn, error);
	/* Closing our own connection can only tell us (on_conn), and the
	 * transfer is gone by then. */
	api->conn_close(t->host, conn, error == NULL);
}

/* ---- sending ---------------------------------------------------------------- */

/* Sends as much of the file as the connection takes now, one chunk per
 * frame, and DONE after the last. Called when the transfer starts and
 * from on_drain: the host says when there is room again. */
static void xf_pump(struct transfer *t, struct xf *x)
{
	const struct mp2p_host_api *api = t->api;

	while (!x->finished) {
		size_t want = x->size - x->done < t->chunk ? (size_t)(x->size - x->done) : t->chunk;
		ssize_t got;
		int rc;

		if (want == 0) {
			unsigned int len = 0;
			EVP_DigestFinal_ex(x->sha, x->hash, &len);
			rc = api->send_v2(t->host, x->conn, NULL, "DONE", x->hash, XF_HASH, 0);
			if (rc != MP2P_OK) {
				xf_end(t, x, "cannot send DONE");
				return;
			}
			x->finished = 1;
			return;
		}
		/* Room first: a refused frame must not have been read and hashed. */
		if (api->conn_pending(t->host, x->conn) + MP2P_FRAME_HEADER + (int64_t)want >
		    (int64_t)t->low_water * 2)
			return;   /* on_drain() comes back */
		got = pread(x->fd, t->buf, want, (off_t)x->done);
		if (got <= 0) {
			xf_end(t, x, got < 0 ? strerror(errno) : "the file got shorter");
			return;
		}
		rc = api->send_v2(t->host, x->conn, NULL, "DATA", t->buf, (size_t)got, MP2P_SEND_NOWAIT);
		if (rc == MP2P_ERR_WOULD_BLOCK)
			return;   /* nothing was queued: the same bytes go again at on_drain() */
		if (rc != MP2P_OK) {
			xf_end(t, x, "the connection failed");
			return;
		}
		EVP_DigestUpdate(x->sha, t->buf, (size_t)got);
		x->done += (uint64_t)got;
	}
}

static void cmd_send(struct transfer *t, mp2p_reply *r, const char *addr, const char *file,
                     const char *as)
{
	const struct mp2p_host_api *api = t->api;
	uint8_t offer[8 + 2 + XF_NAME_MAX];
	const char *base = strrchr(file, '/');
	struct stat st;
	struct xf *x;
	size_t nlen;
	int rc;

	as = as != NULL ? as : base != NULL ? base + 1 : file;
	nlen = strlen(as);
	if (nlen == 0 || nlen > XF_NAME_MAX || strchr(as, '/') != NULL || as[0] == '.') {
		api->reply_usage(r, "'%s' cannot be a file name on the receiver", as);
		return;
	}
	if (mp2p_addr_check(addr, NULL, NULL) < 0) {
		api->reply_usage(r, "'%s' is not an ADDR:PORT to send to", addr);
		return;
	}
	if ((x = xf_new(t, XF_SEND)) == NULL) {
		api->reply_error(r, "too many transfers at once");
		return;
	}
	/* One stat and one open: the reading happens a chunk at a time. */
	if ((x->fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(x->fd, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		api->reply_error(r, "%s: %s", file, x->fd < 0 ? strerror(errno) : "not a regular file");
		xf_end(t, x, NULL);
		return;
	}
	x->size = (uint64_t)st.st_size;
	memcpy(x->name, as, nlen);
	mp2p_put_be64(offer, x->size);
	mp2p_put_be16(offer + 8, (uint16_t)nlen);
	memcpy(offer + 10, as, nlen);
	rc = api->send_to_v2(t->host, addr, NULL, "OFFR", offer, 10 + nlen, MP2P_SEND_OWNED, &x->conn);
	if (rc != MP2P_OK) {
		api->reply_error(r, "cannot dial %s (%d)", addr, rc);
		x->conn = 0;
		close(x->fd);
		x->fd = -1;
		EVP_MD_CTX_free(x->sha);
		x->kind = 0;
		return;
	}
	api->conn_set_low_water(t->host, x->conn, t->low_water);
	x->reply = r;
	api->reply_defer(r);
	xf_pump(t, x);
}

/* ---- receiving -------------------------------------------------------------- */

static void ack(struct transfer *t, struct xf *x, int status)
{
	uint8_t a[1 + XF_HASH] = { (uint8_t)status };
	unsigned int len = 0;

	if (x->sha != NULL && status != ACK_FAILED)
		EVP_DigestFinal_ex(x->sha, a + 1, &len);
	t->api->send_v2(t->host, x->conn, NULL, "ACKD", a, sizeof(a), MP2P_SEND_NOWAIT);
}

static void on_offer(struct transfer *t, mp2p_conn_id conn, const uint8_t *p, uint32_t n)
{
	const struct mp2p_host_api *api = t->api;
	struct xf *x;
	uint16_t nlen;

	if (n < 10 || (nlen = mp2p_get_be16(p + 8)) == 0 || nlen > XF_NAME_MAX || n != 10u + nlen ||
	    memchr(p + 10, '/', nlen) != NULL || memchr(p + 10, '\0', nlen) != NULL || p[10] == '.' ||
	    t->dir == NULL || xf_find(t, conn) != NULL || (x = xf_new(t, XF_RECV)) == NULL) {
		uint8_t refused[1 + XF_HASH] = { ACK_FAILED };
		api->send_v2(t->host, conn, NULL, "ACKD", refused, sizeof(refused), MP2P_SEND_NOWAIT);
		api->conn_close(t->host, conn, 1);
		return;
	}
	x->conn = conn;
	x->size = mp2p_get_be64(p);
	memcpy(x->name, p + 10, nlen);
	if ((x->path = malloc(strlen(t->dir) + nlen + 8)) == NULL) {
		xf_end(t, x, "out of memory");
		return;
	}
	sprintf(x->path, "%s/%s.part", t->dir, x->name);
	if ((x->fd = open(x->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		api->log(t->host, MP2P_LOG_WARN, "%s: %s", x->path, strerror(errno));
		ack(t, x, ACK_FAILED);
		xf_end(t, x, "cannot create the file");
		return;
	}
	/* Claim the connection: from now on it carries this transfer alone. */
	api->send_v2(t->host, conn, NULL, "ACKD", NULL, 0, MP2P_SEND_OWNED | MP2P_SEND_NOWAIT);
}

static void on_data(struct transfer *t, struct xf *x, const uint8_t *p, uint32_t n)
{
	if (x->done + n > x->size) {
		ack(t, x, ACK_FAILED);
		xf_end(t, x, "more data than offered");
		return;
	}
	if (write(x->fd, p, n) != (ssize_t)n) {
		ack(t, x, ACK_FAILED);
		xf_end(t, x, "cannot write the file");
		return;
	}
	EVP_DigestUpdate(x->sha, p, n);
	x->done += n;
}

static void on_done(struct transfer *t, struct xf *x, const uint8_t *p, uint32_t n)
{
	uint8_t mine[XF_HASH];
	unsigned int len = 0;
	char *final;
	int ok;

	if (n != XF_HASH || x->done != x->size) {
		ack(t, x, ACK_FAILED);
		xf_end(t, x, "DONE before all the data");
		return;
	}
	EVP_DigestFinal_ex(x->sha, mine, &len);
	ok = memcmp(mine, p, XF_HASH) == 0;
	if (ok && (final = strdup(x->path)) != NULL) {
		final[strlen(final) - 5] = '\0';   /* drop ".part" */
		ok = rename(x->path, final) == 0;
		free(final);
	}
	{
		uint8_t a[1 + XF_HASH];
		a[0] = ok ? ACK_OK : ACK_MISMATCH;
		memcpy(a + 1, mine, XF_HASH);
		t->api->send_v2(t->host, x->conn, NULL, "ACKD", a, sizeof(a), MP2P_SEND_NOWAIT);
	}
	t->api->log(t->host, MP2P_LOG_INFO, "received %s: %llu bytes, %s", x->name,
	            (unsigned long long)x->done, ok ? "SHA-256 verified" : "SHA-256 MISMATCH");
	if (ok) {
		free(x->path);
		x->path = NULL;
	}
	xf_end(t, x, ok ? NULL : "hash mismatch");
}

/* ---- the descriptor's callbacks --------------------------------------------- */

static void transfer_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct transfer *t = self;
	struct xf *x = xf_find(t, conn);

	if (mp2p_type_is(f->type, "OFFR")) {
		on_offer(t, conn, f->payload, f->length);
	} else if (x != NULL && x->kind == XF_RECV && mp2p_type_is(f->type, "DATA")) {
		on_data(t, x, f->payload, f->length);
	} else if (x != NULL && x->kind == XF_RECV && mp2p_type_is(f->type, "DONE")) {
		on_done(t, x, f->payload, f->length);
	} else if (x != NULL && x->kind == XF_SEND && mp2p_type_is(f->type, "ACKD")) {
		if (f->length == 0)
			return;   /* the receiver took the offer */
		if (f->length != 1 + XF_HASH || f->payload[0] != ACK_OK || !x->finished ||
		    memcmp(f->payload + 1, x->hash, XF_HASH) != 0)
			xf_end(t, x, f->length > 0 && f->payload[0] == ACK_MISMATCH ?
			             "the receiver's SHA-256 differs" : "the receiver refused or failed");
		else
			xf_end(t, x, NULL);
	} else {
		t->api->conn_close(t->host, conn, 0);
	}
}

static void transfer_drain(void *self, mp2p_conn_id conn, size_t pending)
{
	struct transfer *t = self;
	struct xf *x = xf_find(t, conn);

	(void)pending;
	if (t->drains != NULL)
		(*t->drains)++;
	if (x != NULL && x->kind == XF_SEND)
		xf_pump(t, x);
}

static void transfer_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	struct transfer *t = self;
	struct xf *x = xf_find(t, conn);

	if (x != NULL && ev->kind == MP2P_CONN_CLOSED)
		xf_end(t, x, ev->reason != NULL ? ev->reason : "connection closed");
}

static void transfer_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct transfer *t = self;
	const struct mp2p_host_api *api = t->api;

	if (strcmp(argv[0], "send") == 0 && (argc == 3 || argc == 4)) {
		cmd_send(t, r, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	} else if (strcmp(argv[0], "status") == 0 && argc == 1) {
		for (int i = 0; i < XF_MAX; i++) {
			struct xf *x = &t->xf[i];
			if (x->kind == 0)
				continue;
			api->reply_row(r);
			api->reply_str(r, "name", x->name);
			api->reply_str(r, "direction", x->kind == XF_SEND ? "out" : "in");
			api->reply_int(r, "bytes", (long long)x->done);
			api->reply_int(r, "size", (long long)x->size);
		}
	} else {
		api->reply_usage(r, "usage: send ADDR:PORT FILE [AS] | status");
	}
}

static int transfer_init(const struct mp2p_host_api *api, mp2p_host *host,
                         const mp2p_config *config, void **self_out, char **error_text)
{
	struct mp2p_limits lim = { .size = sizeof(lim) };
	struct transfer *t;
	long long chunk = 256 * 1024;
	const char *dir = NULL;

	if (api->abi_minor < 1)
		return mp2p_error_text(error_text, "needs a host of ABI 1.1 or later (flow control)");
	if (api->config_check_keys(config, transfer_settings, error_text) < 0 ||
	    mp2p_config_string(api, config, "dir", 4000, &dir, error_text) < 0)
		return -1;
	api->limits(host, &lim);
	if (mp2p_config_int(api, config, "chunk", 1024, (long long)lim.max_frame, &chunk,
	                    error_text) < 0)
		return -1;
	if ((uint64_t)chunk > lim.max_frame)
		chunk = (long long)lim.max_frame;
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->buf = malloc((size_t)chunk)) == NULL ||
	    (dir != NULL && (t->dir = strdup(dir)) == NULL)) {
		if (t != NULL)
			free(t->buf);
		free(t);
		return mp2p_error_text(error_text, "out of memory");
	}
	t->api = api;
	t->host = host;
	t->chunk = (size_t)chunk;
	t->drains = api->counter(host, "drains");
	/* Refill when half of what a connection may hold has gone out: the
	 * socket always has the other half to write meanwhile. */
	t->low_water = (size_t)lim.max_output / 2;
	for (int i = 0; i < XF_MAX; i++)
		t->xf[i].fd = -1;
	*self_out = t;
	return 0;
}

static void transfer_stop(void *self, enum mp2p_stop_reason reason)
{
	struct transfer *t = self;

	(void)reason;
	for (int i = 0; i < XF_MAX; i++)
		if (t->xf[i].kind != 0)
			xf_end(t, &t->xf[i], "the transfer plugin stopped");
}

static void transfer_destroy(void *self)
{
	struct transfer *t = self;

	free(t->buf);
	free(t->dir);
	free(t);
}

static const char *const transfer_protocols[] = { "transfer", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "transfer",
	.version = "1.0.0",
	.description = "bulk file transfer over an owned connection, SHA-256 checked",
	.protocols = transfer_protocols,
	.init = transfer_init,
	.on_frame = transfer_frame,
	.on_conn = transfer_conn,
	.stop = transfer_stop,
	.destroy = transfer_destroy,
	.control = transfer_control,
	.on_drain = transfer_drain,
};

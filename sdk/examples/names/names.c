/* names.c -- a name registry on the kademlia DHT: `register NAME ADDR`
 * stores ADDR under NAME, and any host of the DHT can look it up.
 *
 * It shows the asynchronous side of the SDK: requests to another plugin's
 * service (kademlia's put and get) that complete later through a callback,
 * control commands answered when that callback comes (reply_defer and
 * reply_finish), frames answered the same way, and what a consumer must
 * free when it is destroyed with requests still outstanding.
 *
 * Control: `maybep2pctl NAME register NAME ADDR`, `lookup NAME`, `pending`.
 * Protocol `names`, for clients on this host's listener: RSLV with a name
 * is answered ADDR with the address, or NONE with the name.
 */
#include <maybep2p/plugin.h>
#include <maybep2p/kademlia.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_WRITER_HEX 64     /* a writer id (peer id) in hex, before "/NAME" */
#define NAMES_NAME_MAX (NAMES_WRITER_HEX + 1 + 64)
#define NAMES_ADDR_MAX 64
#define NAMES_PENDING_MAX 256    /* requests in flight at once */

/* One request in flight. The DHT calls back with it as `arg`. */
struct names_req {
	struct names *owner;
	mp2p_reply *reply;           /* a deferred control reply, or NULL */
	mp2p_conn_id conn;           /* a client waiting for RSLV, or 0 */
	char name[NAMES_NAME_MAX + 1];
	struct names_req *prev, *next;
};

struct names {
	mp2p_host *host;
	uint32_t ttl;                /* seconds a registration lives */
	struct names_req *pending;   /* so destroy() can free what never completed */
	int npending;
	uint64_t *lookups;
};

static const struct mp2p_host_api *api;

/* ---- requests in flight --------------------------------------------------- */

static struct names_req *req_new(struct names *n, const char *name, size_t len)
{
	struct names_req *r;

	if (n->npending >= NAMES_PENDING_MAX || len == 0 || len > NAMES_NAME_MAX ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->owner = n;
	memcpy(r->name, name, len);
	r->next = n->pending;
	if (r->next)
		r->next->prev = r;
	n->pending = r;
	n->npending++;
	return r;
}

static void req_free(struct names_req *r)
{
	struct names *n = r->owner;

	if (r->prev)
		r->prev->next = r->next;
	else
		n->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	n->npending--;
	free(r);
}

/* The key in the DHT: a prefix keeps our keys apart from other plugins'. */
/* The DHT's values are signed by the host that put them (kademlia.h): a
 * name this host registered is "names/NAME" in its own namespace, and one
 * another host registered is looked up as "WRITER/NAME", WRITER being the
 * 64 hex digits of that host's key (`maybep2pctl dht routes` shows it). */
static size_t names_key(const char *name, char *key, size_t cap)
{
	const char *slash = strchr(name, '/');
	int k;

	if (slash != NULL && slash - name == NAMES_WRITER_HEX)
		k = snprintf(key, cap, "%.*s/names/%s", NAMES_WRITER_HEX, name, slash + 1);
	else
		k = snprintf(key, cap, "names/%s", name);
	return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

/* The service, looked up for this call only: a reload may swap kademlia. */
static const struct mp2p_kademlia_service *names_dht(struct names *n, void **provider)
{
	return api->service_find(n->host, MP2P_KADEMLIA_SERVICE, MP2P_KADEMLIA_MAJOR,
	                         MP2P_KADEMLIA_MINOR, provider);
}

/* ---- completions: always later, on the loop thread, exactly once ---------- */

static void names_put_done(void *arg, int status, int stored)
{
	struct names_req *r = arg;

	if (status == MP2P_KAD_OK) {
		api->reply_int(r->reply, "stored", stored);
	} else {
		api->reply_error(r->reply, "register %s: %s", r->name,
		                 status == MP2P_KAD_CANCELLED ? "kademlia stopped" : "no node stored it");
	}
	api->reply_finish(r->reply);   /* the handle is dead after this */
	req_free(r);
}

static void names_get_done(void *arg, int status, const void *value, size_t length)
{
	struct names_req *r = arg;
	char addr[NAMES_ADDR_MAX + 1] = "";
	int found = status == MP2P_KAD_OK && length > 0 && length <= NAMES_ADDR_MAX;

	/* The value came from the network: bound it before use. */
	if (found)
		memcpy(addr, value, length);
	if (r->reply != NULL) {
		if (found)
			api->reply_str(r->reply, "addr", addr);
		else
			api->reply_error(r->reply, "%s: %s", r->name,
			                 status == MP2P_KAD_NOT_FOUND ? "not registered" : "lookup failed");
		api->reply_finish(r->reply);
	} else if (found) {
		/* The client may have gone meanwhile: then send() fails, harmlessly. */
		api->send(r->owner->host, r->conn, NULL, "ADDR", addr, length);
	} else {
		api->send(r->owner->host, r->conn, NULL, "NONE", r->name, strlen(r->name));
	}
	req_free(r);
}

/* ---- starting requests ---------------------------------------------------- */

/* Starts a get for `name`; on success the completion owns `r`. */
static int names_lookup(struct names *n, struct names_req *r)
{
	const struct mp2p_kademlia_service *dht;
	void *provider;
	char key[NAMES_NAME_MAX + 8];
	size_t klen = names_key(r->name, key, sizeof(key));

	if ((dht = names_dht(n, &provider)) == NULL || klen == 0 ||
	    dht->get(provider, n->host, key, klen, names_get_done, r) < 0)
		return -1;
	if (n->lookups)
		(*n->lookups)++;
	return 0;
}

static void names_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct names *n = self;
	struct names_req *r;

	if (!mp2p_type_is(f->type, "RSLV")) {
		api->log(n->host, MP2P_LOG_DEBUG, "dropped %.4s frame", f->type);
		return;
	}
	if ((r = req_new(n, (const char *)f->payload, f->length)) == NULL ||
	    memchr(r->name, '\0', f->length) != NULL) {
		api->send(n->host, conn, NULL, "NONE", "", 0);
		if (r)
			req_free(r);
		return;
	}
	r->conn = conn;
	if (names_lookup(n, r) < 0) {
		api->send(n->host, conn, NULL, "NONE", r->name, strlen(r->name));
		req_free(r);
	}
}

static void names_control(void *self, mp2p_reply *reply, int argc, const char *const *argv)
{
	struct names *n = self;
	const struct mp2p_kademlia_service *dht;
	struct names_req *r;
	void *provider;
	char key[NAMES_NAME_MAX + 8];
	size_t klen;

	if (strcmp(argv[0], "pending") == 0 && argc == 1) {
		api->reply_int(reply, "pending", n->npending);
		return;
	}
	if (!((strcmp(argv[0], "register") == 0 && argc == 3) ||
	      (strcmp(argv[0], "lookup") == 0 && argc == 2))) {
		api->reply_usage(reply, "usage: register NAME ADDR | lookup NAME | pending");
		return;
	}
	if ((r = req_new(n, argv[1], strlen(argv[1]))) == NULL) {
		api->reply_error(reply, "name too long or too many requests in flight");
		return;
	}
	r->reply = reply;
	if (argv[0][0] == 'l') {
		if (names_lookup(n, r) == 0) {
			api->reply_defer(reply);   /* answered in names_get_done */
			return;
		}
	} else if (strlen(argv[2]) <= NAMES_ADDR_MAX && (dht = names_dht(n, &provider)) != NULL &&
	           (klen = names_key(r->name, key, sizeof(key))) > 0 &&
	           dht->put(provider, n->host, key, klen, argv[2], strlen(argv[2]), n->ttl,
	                    names_put_done, r) == 0) {
		api->reply_defer(reply);           /* answered in names_put_done */
		return;
	}
	api->reply_error(reply, "kademlia is not running here, or refused the request");
	req_free(r);
}

/* ---- lifecycle ------------------------------------------------------------ */

static int names_init(const struct mp2p_host_api *host_api, mp2p_host *host,
                      const mp2p_config *cfg, void **self_out, char **error_text)
{
	static const char *const known[] = { "ttl", NULL };
	long long ttl = 3600;
	struct names *n;

	api = host_api;
	if (api->config_check_keys(cfg, known, error_text) < 0 ||
	    api->config_get_int(cfg, "ttl", &ttl, error_text) < 0)
		return -1;
	if (ttl < 1 || ttl > 86400 * 365) {
		*error_text = api->config_error(cfg, "ttl", "must be between 1 and 31536000 seconds");
		return -1;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	n->host = host;
	n->ttl = (uint32_t)ttl;
	n->lookups = api->counter(host, "lookups");
	*self_out = n;
	return 0;
}

/* Requests still in flight will never be called back (kademlia checks
 * instance_alive first), so they are ours to free; the host answers their
 * deferred replies with an error. */
static void names_destroy(void *self)
{
	struct names *n = self;

	while (n->pending != NULL)
		req_free(n->pending);
	free(n);
}

static const char *const names_protocols[] = { "names", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "names",
	.version = "1.0.0",
	.description = "a name registry on the kademlia DHT",
	.protocols = names_protocols,
	.init = names_init,
	.on_frame = names_on_frame,      /* RSLV */
	.control = names_control,        /* register, lookup, pending */
	.destroy = names_destroy,
};

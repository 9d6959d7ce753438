/* kad_plugin.c -- the kademlia plugin's glue to the host ABI: descriptor,
 * settings, node id, lifecycle and saved state.
 *
 * The node id is chosen at random once and written to `node_id` in the
 * instance's state_dir, so it survives any restart, even one without saved
 * state. The routing table and the values travel in the save_state() blob
 * (hot swaps, clean restarts); the table alone is also written to the
 * `routes` file now and then, so a host that was killed rejoins through
 * the nodes it knew instead of its bootstrap list. */
#include "kad_glue.h"

#include <maybep2p/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>


/* The settings of the plugin's `config` group; anything else is an error.
 * Defaults are in kad_defaults, bounds in read_conf(). */
static const char *const kad_settings[] = {
	"k", "alpha", "bootstrap", "request_timeout", "value_ttl_max",
	"max_value_size", "max_values", "republish", "refresh", "table_per_ip",
	"table_per_prefix", "connection_idle", "connection_keep", "replicas", NULL
};

static const struct kad_conf kad_defaults = {
	.k = 20,
	.alpha = 3,
	.request_timeout = 2.0,
	.value_ttl_max = 86400,
	.max_value_size = 4096,
	.max_values = 10000,
	.republish = 3600,
	.refresh = 3600,
	.table_per_ip = 2,
	.table_per_prefix = 10,
	.connection_idle = 30.0,
	.connection_keep = 64,
	.replicas = 20,
};

/* A setting in [lo, hi] into a long (util.h reads it as long long). */
static int get_int(const struct mp2p_host_api *api, const mp2p_config *c, const char *key,
                   long lo, long hi, long *out, char **error_text)
{
	long long v;
	int r = mp2p_config_int(api, c, key, lo, hi, &v, error_text);

	if (r == 1)
		*out = (long)v;
	return r;
}

static int read_conf(const struct mp2p_host_api *api, const mp2p_config *c,
                     struct kad_conf *conf, char **error_text)
{
	long k = conf->k, alpha = conf->alpha, replicas = conf->replicas;
	int n;

	if (api->config_check_keys(c, kad_settings, error_text) < 0 ||
	    get_int(api, c, "k", 1, KAD_MAX_K, &k, error_text) < 0 ||
	    get_int(api, c, "alpha", 1, 16, &alpha, error_text) < 0 ||
	    get_int(api, c, "replicas", 1, KAD_MAX_K, &replicas, error_text) < 0 ||
	    get_int(api, c, "max_value_size", 0, (1 << 20) - 1024, &conf->max_value_size, error_text) < 0 ||
	    get_int(api, c, "max_values", 1, 10000000, &conf->max_values, error_text) < 0 ||
	    get_int(api, c, "table_per_ip", 0, KAD_MAX_K, &conf->table_per_ip, error_text) < 0 ||
	    get_int(api, c, "table_per_prefix", 0, 1000000, &conf->table_per_prefix, error_text) < 0 ||
	    get_int(api, c, "connection_keep", 0, 100000, &conf->connection_keep, error_text) < 0 ||
	    mp2p_config_float(api, c, "request_timeout", 0.01, 60, &conf->request_timeout, error_text) < 0 ||
	    mp2p_config_float(api, c, "value_ttl_max", 1, 4e9, &conf->value_ttl_max, error_text) < 0 ||
	    mp2p_config_float(api, c, "republish", 0.1, 1e7, &conf->republish, error_text) < 0 ||
	    mp2p_config_float(api, c, "refresh", 0.1, 1e7, &conf->refresh, error_text) < 0 ||
	    mp2p_config_float(api, c, "connection_idle", 0, 1e7, &conf->connection_idle, error_text) < 0)
		return -1;
	conf->k = (int)k;
	conf->alpha = (int)alpha;
	/* More copies than the k closest a lookup returns cannot be placed. */
	conf->replicas = replicas < k ? (int)replicas : (int)k;
	if ((n = api->config_list_length(c, "bootstrap", error_text)) < 0)
		return -1;
	if (n > 64) {
		*error_text = api->config_error(c, "bootstrap", "at most 64 addresses");
		return -1;
	}
	if (n > 0 && (conf->bootstrap = calloc((size_t)n, sizeof(char *))) == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *a = api->config_list_string(c, "bootstrap", i);
		const char *why = "missing";
		if (a == NULL || mp2p_addr_check(a, NULL, &why) < 0) {
			*error_text = api->config_error(c, "bootstrap", "'%s': %s", a ? a : "", why);
			return -1;
		}
		if ((conf->bootstrap[i] = strdup(a)) == NULL)
			return -1;
		conf->nbootstrap = i + 1;
	}
	return 0;
}

static void conf_release(struct kad_conf *conf)
{
	for (int i = 0; i < conf->nbootstrap; i++)
		free(conf->bootstrap[i]);
	free(conf->bootstrap);
	conf->bootstrap = NULL;
	conf->nbootstrap = 0;
}

static void path_in_state(struct kad *kd, const char *name, char *out, size_t cap)
{
	const char *dir = kd->api->state_dir(kd->host);

	snprintf(out, cap, "%s/%s", dir ? dir : ".", name);
}

static int write_node_id(struct kad *kd)
{
	const char *dir = kd->api->state_dir(kd->host);
	char line[2 * KAD_ID_LEN + 2];

	snprintf(line, sizeof(line), "%s\n", kd->self_hex);
	return kad_file_write(dir ? dir : ".", "node_id", line, strlen(line));
}

/* The node id from the state_dir, or a new random one. The host creates
 * the directory only before start(), so a new id is written there then. */
static void load_node_id(struct kad *kd)
{
	const char *dir = kd->api->state_dir(kd->host);
	uint8_t *text = NULL;
	size_t len;
	int rc;

	/* Over TLS the node id is the host's peer id: it cannot be chosen,
	 * only earned with a key, and every peer can check it. */
	if (kd->api->security(kd->host) != MP2P_SECURITY_PLAIN &&
	    kad_id_parse(kd->api->peer_id(kd->host), kd->self) == 0) {
		kad_id_hex(kd->self, kd->self_hex);
		return;
	}
	/* A host without files (the simulator): a new id each start, and
	 * nothing to write. */
	if (dir == NULL) {
		kd->api->random_bytes(kd->host, kd->self, KAD_ID_LEN);
		kad_id_hex(kd->self, kd->self_hex);
		kd->id_saved = 1;
		return;
	}
	rc = kad_file_read(dir, "node_id", 256, &text, &len);

	if (rc > 0) {
		char *line = (char *)text;
		line[strcspn(line, "\r\n")] = '\0';
		if (kad_id_parse(line, kd->self) == 0) {
			kad_id_hex(kd->self, kd->self_hex);
			kd->id_saved = 1;
			free(text);
			return;
		}
	}
	free(text);
	if (rc != 0)
		kd->api->log(kd->host, MP2P_LOG_WARN, "%s/node_id is damaged or not a plain file: "
		             "choosing a new node id", dir ? dir : ".");
	kd->api->random_bytes(kd->host, kd->self, KAD_ID_LEN);
	kad_id_hex(kd->self, kd->self_hex);
}

/* --- the writer key: signs this node's mutable values ------------------
 *
 * The host's key when the host has one (ABI 1.1 sign()): the writer id is
 * then the host's peer id, so `get PEERID/NAME` names another host's value
 * by what its `maybep2pctl status` prints. Otherwise an Ed25519 key of the
 * plugin's own, in state_dir/kad.key: 64 hex digits of the private seed
 * and a newline, mode 0600. It is created once (the host creates
 * state_dir only before start(), so a new key is written then) and read
 * back on every later start. A file that is not a regular file of ours,
 * is readable by others, or is damaged is not used: puts are refused and
 * the log says why, since a key anyone could read signs nothing. */

static void writer_from_pub(struct kad *kd)
{
	if (kad_writer_id(kd->signer.pub, kd->writer) == 0) {
		kad_id_hex(kd->writer, kd->writer_hex);
		kd->key_ok = 1;
	}
}

static int host_sign(void *arg, const uint8_t *msg, size_t len, uint8_t sig[KAD_SIG_LEN])
{
	struct kad *kd = arg;

	return kd->api->sign(kd->host, msg, len, sig, NULL) == MP2P_OK ? 0 : -1;
}

/* Signs with the host key if the host offers one; 0 if so. */
static int use_host_key(struct kad *kd)
{
	if (!MP2P_API_HAS(kd->api, sign) ||
	    kd->api->sign(kd->host, NULL, 0, NULL, kd->signer.pub) != MP2P_OK)
		return -1;
	kd->signer.sign = host_sign;
	kd->signer.arg = kd;
	kd->host_signs = 1;
	kd->key_saved = 1;           /* nothing of ours to write */
	writer_from_pub(kd);
	return 0;
}

static void key_from_hex(struct kad *kd, const char *hex)
{
	uint8_t seed[KAD_PUB_LEN];

	if (kad_id_parse(hex, seed) == 0 && kad_keypair_from_private(&kd->kp, seed) == 0) {
		memcpy(kd->signer.pub, kd->kp.pub, KAD_PUB_LEN);
		kd->signer.sign = kad_keypair_sign;
		kd->signer.arg = &kd->kp;
		writer_from_pub(kd);
	}
	memset(seed, 0, sizeof(seed));
}

static void load_key(struct kad *kd)
{
	char path[4096], line[2 * KAD_PUB_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd;

	path_in_state(kd, "kad.key", path, sizeof(path));
	/* O_NONBLOCK: a FIFO planted here must not hang init(). Without a
	 * state_dir (the simulator) the key is new and never written. */
	fd = -1;
	errno = ENOENT;
	if (kd->api->state_dir(kd->host) == NULL)
		kd->key_saved = 1;
	else
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		uint8_t seed[KAD_PUB_LEN];
		char hex[2 * KAD_PUB_LEN + 1];
		if (errno != ENOENT) {
			kd->api->log(kd->host, MP2P_LOG_ERROR, "%s: %s: signed puts are refused",
			             path, strerror(errno));
			return;
		}
		/* None yet: a new key, written in start(). */
		kd->api->random_bytes(kd->host, seed, sizeof(seed));
		kad_id_hex(seed, hex);
		key_from_hex(kd, hex);
		memset(seed, 0, sizeof(seed));
		memset(hex, 0, sizeof(hex));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		kd->api->log(kd->host, MP2P_LOG_ERROR, "%s is not a private file of ours (mode %o): "
		             "signed puts are refused", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return;
	}
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	key_from_hex(kd, line);
	memset(line, 0, sizeof(line));
	if (!kd->key_ok)
		kd->api->log(kd->host, MP2P_LOG_ERROR, "%s is damaged: signed puts are refused", path);
	else
		kd->key_saved = 1;
}

static int write_key(struct kad *kd)
{
	char path[4096], tmp[4200], hex[2 * KAD_PUB_LEN + 2];
	int fd, ok;

	path_in_state(kd, "kad.key", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	kad_id_hex(kd->kp.priv, hex);
	strcat(hex, "\n");
	ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0;
	memset(hex, 0, sizeof(hex));
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The routes file, if a previous run left one: small (a few hundred
 * nodes), so reading it in init() is cheap. */
static void load_routes(struct kad *kd)
{
	const char *dir = kd->api->state_dir(kd->host);
	uint8_t *blob = NULL, self[KAD_ID_LEN];
	size_t got;
	int nodes = 0;

	if (dir == NULL || kad_file_read(dir, "routes", 1 << 20, &blob, &got) <= 0)
		return;
	if (kad_state_peek_self(blob, got, self) == 0 &&
	    memcmp(self, kd->self, KAD_ID_LEN) == 0 &&
	    kad_state_load(blob, got, &kd->table, NULL, kd->api->now(kd->host),
	                   kad_wall_usec(kd) / 1000000u, kd->conf.republish, &nodes, NULL) == 0) {
		kd->restored_nodes = nodes;
		kad_table_mark_unverified(&kd->table);
	}
	free(blob);
}

static void kad_destroy(void *self);

static int kad_init(const struct mp2p_host_api *api, mp2p_host *host,
                    const mp2p_config *config, void **self_out, char **error_text)
{
	struct kad *kd;

	if ((kd = calloc(1, sizeof(*kd))) == NULL)
		return -1;
	kd->api = api;
	kd->host = host;
	kd->conf = kad_defaults;
	if (read_conf(api, config, &kd->conf, error_text) < 0)
		goto fail;
	load_node_id(kd);
	if (use_host_key(kd) < 0)
		load_key(kd);
	snprintf(kd->addr, sizeof(kd->addr), "%s", api->advertise(host) ? api->advertise(host) : "");
	kd->addr_ok = kad_addr_valid(kd->addr);
	if (!kd->addr_ok)
		api->log(host, MP2P_LOG_WARN, "advertised address '%s' cannot be dialled by peers: "
		         "this node will only look things up", kd->addr);
	if (kad_table_init(&kd->table, kd->self, kd->conf.k) < 0)
		goto fail;
	kad_table_set_limits(&kd->table, (int)kd->conf.table_per_ip,
	                     (int)kd->conf.table_per_prefix);
	kad_store_init(&kd->store, (int)kd->conf.max_values, (uint32_t)(kd->conf.max_value_size + KAD_REC_OVERHEAD));
	kad_rtt_init(&kd->rtt, KAD_RTT_FLOOR, kd->conf.request_timeout);
	kd->bufcap = kad_encoded_max((size_t)kd->conf.max_value_size);
	if ((kd->buf = malloc(kd->bufcap)) == NULL)
		goto fail;
#define KAD_GET(name) kd->c.name = api->counter(host, #name);
	KAD_COUNTERS(KAD_GET)
#undef KAD_GET
	kd->boot_backoff = KAD_BOOT_FIRST;
	load_routes(kd);
	*self_out = kd;
	return 0;
fail:
	kad_destroy(kd);
	return -1;
}

static int kad_restore(void *self, const void *data, size_t length, uint32_t format,
                       char **error_text)
{
	struct kad *kd = self;
	uint8_t id[KAD_ID_LEN];
	int nodes = 0, values = 0;

	if (format != KAD_STATE_FORMAT || kad_state_peek_self(data, length, id) < 0) {
		if (error_text)
			*error_text = strdup("kademlia: saved state of an unknown format");
		return -1;
	}
	/* Start from the blob alone: it is newer than the routes file. */
	kad_table_release(&kd->table);
	kad_store_release(&kd->store);
	/* Over TLS the id is the peer id whatever an older run saved. */
	if (memcmp(id, kd->self, KAD_ID_LEN) != 0 &&
	    kd->api->security(kd->host) == MP2P_SECURITY_PLAIN) {
		memcpy(kd->self, id, KAD_ID_LEN);
		kad_id_hex(kd->self, kd->self_hex);
		kd->id_saved = 0;
	}
	if (kad_table_init(&kd->table, kd->self, kd->conf.k) < 0)
		return -1;
	kad_table_set_limits(&kd->table, (int)kd->conf.table_per_ip,
	                     (int)kd->conf.table_per_prefix);
	kad_store_init(&kd->store, (int)kd->conf.max_values, (uint32_t)(kd->conf.max_value_size + KAD_REC_OVERHEAD));
	if (kad_state_load(data, length, &kd->table, &kd->store, kd->api->now(kd->host),
	                   kad_wall_usec(kd) / 1000000u, kd->conf.republish, &nodes, &values) < 0) {
		kad_table_release(&kd->table);
		kad_store_release(&kd->store);
		kad_table_init(&kd->table, kd->self, kd->conf.k);
		kad_table_set_limits(&kd->table, (int)kd->conf.table_per_ip,
		                     (int)kd->conf.table_per_prefix);
		kad_store_init(&kd->store, (int)kd->conf.max_values,
		               (uint32_t)(kd->conf.max_value_size + KAD_REC_OVERHEAD));
		if (error_text)
			*error_text = strdup("kademlia: saved state is damaged");
		return -1;
	}
	kd->restored_nodes = nodes;
	/* From disk the nodes are hearsay until they answer a ping; from the
	 * predecessor of a hot swap they are what it had verified a moment
	 * ago (ABI 1.1 origin()). */
	if (kd->api->size < offsetof(struct mp2p_host_api, origin) + sizeof(kd->api->origin) ||
	    kd->api->origin(kd->host) != MP2P_ORIGIN_SWAP)
		kad_table_mark_unverified(&kd->table);
	kd->api->log(kd->host, MP2P_LOG_INFO, "restored %d nodes and %d values", nodes, values);
	return 0;
}

static int kad_start(void *self, char **error_text)
{
	struct kad *kd = self;
	double now = kd->api->now(kd->host);
	double every = (kd->conf.refresh < kd->conf.republish ? kd->conf.refresh
	                                                      : kd->conf.republish) / 4;

	kd->wake = kd->api->timer_new(kd->host, kad_wake, kd);
	kd->maint = kd->api->timer_new(kd->host, kad_maintain, kd);
	kd->report = kd->api->timer_new(kd->host, kad_report, kd);
	if (kd->wake == NULL || kd->maint == NULL || kd->report == NULL) {
		*error_text = strdup("kademlia: out of memory");
		return -1;
	}
	if (!kd->id_saved && write_node_id(kd) == 0)
		kd->id_saved = 1;
	if (kd->key_ok && !kd->key_saved) {      /* a new kad.key (no host key) */
		if (write_key(kd) == 0)
			kd->key_saved = 1;
		else
			kd->api->log(kd->host, MP2P_LOG_WARN, "cannot write kad.key in %s: this "
			             "node's signed values get a new writer at the next start",
			             kd->api->state_dir(kd->host));
	}
	if (!kd->id_saved)
		kd->api->log(kd->host, MP2P_LOG_WARN, "cannot write node_id in %s: the node id "
		             "will change at the next cold start", kd->api->state_dir(kd->host));
	for (int bi = 0; bi < kd->table.nbuckets; bi++)
		kd->table.b[bi].touched = now;
	kd->running = 1;
	kd->last_routes_write = now;
	if (kd->api->service_offer(kd->host, MP2P_KADEMLIA_SERVICE,
	                           (uint32_t)MP2P_KADEMLIA_MAJOR << 16 | MP2P_KADEMLIA_MINOR,
	                           &kad_service, kd) < 0)
		kd->api->log(kd->host, MP2P_LOG_WARN, "another instance offers the kademlia service");
	/* Idle cost stays tiny: one timer, at most every 30 seconds, sooner
	 * only when a bootstrap retry or a republication is due (and
	 * kad_maintain() below sets it going). */
	kd->maint_every = every < 0.2 ? 0.2 : every > 30 ? 30 : every;
	kd->api->log(kd->host, MP2P_LOG_INFO, "node %s at %s, %d known nodes", kd->self_hex,
	             kd->addr, kad_table_size(&kd->table));
	/* A table from saved state means we rejoin through it; the bootstrap
	 * list is only for a node that knows nobody. */
	kad_verify_restored(kd);
	kad_maintain(kd);
	return 0;
}

static void kad_on_frame_cb(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	kad_on_frame(self, conn, f);
}

static void kad_on_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	if (ev->kind == MP2P_CONN_CLOSED) {
		kad_conn_gone(self, conn);
		kad_on_closed(self, conn);
	}
}

static void kad_stop(void *self, enum mp2p_stop_reason reason)
{
	struct kad *kd = self;

	kad_ops_cancel_all(kd);
	if (reason != MP2P_STOP_RELOAD)
		kad_write_routes(kd);
	kd->running = 0;
	kd->api->timer_stop(kd->host, kd->wake);
	kd->api->timer_stop(kd->host, kd->maint);
	kd->api->timer_stop(kd->host, kd->report);
}

static void kad_destroy(void *self)
{
	struct kad *kd = self;

	if (kd == NULL)
		return;
	kad_pend_free_all(kd);
	kad_link_free_all(kd);
	kad_ops_free_all(kd);
	kad_table_release(&kd->table);
	kad_store_release(&kd->store);
	kad_conns_free(kd);
	conf_release(&kd->conf);
	free(kd->buf);
	free(kd);
}

static int kad_save(void *self, void **data_out, size_t *length_out, uint32_t *format_out)
{
	struct kad *kd = self;
	struct kad_state_view v;
	uint8_t *blob;

	memset(&v, 0, sizeof(v));
	memcpy(v.self, kd->self, KAD_ID_LEN);
	v.table = &kd->table;
	v.store = &kd->store;
	v.now = kd->api->now(kd->host);
	v.wall = kad_wall_usec(kd) / 1000000u;
	if (kad_state_save(&v, 1, &blob, length_out) < 0)
		return -1;
	*data_out = blob;
	*format_out = KAD_STATE_FORMAT;
	return 0;
}

static const char *const kad_protocols[] = { "Kademlia", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "kademlia",
	.version = "1.0.0",
	.description = "Kademlia DHT: a key-value store and node directory over XOR routing",
	.protocols = kad_protocols,
	.init = kad_init,                /* settings, node id, routes file */
	.start = kad_start,              /* timers, service, join or bootstrap */
	.on_frame = kad_on_frame_cb,     /* requests and answers */
	.on_conn = kad_on_conn,          /* a closed connection fails its requests */
	.stop = kad_stop,                /* cancels ops, writes the routes file */
	.destroy = kad_destroy,
	.save_state = kad_save,          /* table and values */
	.restore_state = kad_restore,
	.control = kad_control,
};

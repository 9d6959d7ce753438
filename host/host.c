/* host.c -- the host as a whole: start-up in the right order, the signals,
 * the graceful stop, and tearing everything down. */
#include "config.h"
#include "host.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

static void timeval_of(double seconds, struct timeval *tv)
{
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)((seconds - (double)tv->tv_sec) * 1e6);
}

/* Limits and timeouts apply at once, also on a reload. The idle and frame
 * timeouts are the same for every connection, so libevent's common-timeout
 * queues make re-arming them O(1). */
void host_apply_settings(struct host *h)
{
	struct timeval tv;

	log_level = h->cfg.log_level;
	timeval_of(h->cfg.t_idle, &tv);
	h->tv_idle = event_base_init_common_timeout(h->base, &tv);
	timeval_of(h->cfg.t_frame, &tv);
	h->tv_frame = event_base_init_common_timeout(h->base, &tv);
	timeval_of(h->cfg.t_first_frame, &tv);
	h->tv_first = event_base_init_common_timeout(h->base, &tv);
	timeval_of(h->cfg.t_write, &h->tv_write);
	timeval_of(h->cfg.t_connect, &h->tv_connect);
}

/* host.id if set; else the id this host generated on its first start,
 * read and written only as a plain file of state_dir (see safefile.c). */
static int host_identity(struct host *h, int check_only, struct diag *errs)
{
	char *path, *error_text = NULL, *text = NULL;
	unsigned char rnd[8];
	size_t len;

	if (h->cfg.id != NULL) {
		h->id = strdup(h->cfg.id);
		return 0;
	}
	path = str_printf("%s/host-id", h->cfg.state_dir);
	if (path != NULL && safefile_read(path, 256, (void **)&text, &len, &error_text) > 0) {
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] != '\0' && strpbrk(text, " \t,|") == NULL)
			h->id = strdup(text);
	} else if (error_text != NULL) {
		log_msg(HLOG_WARN, "%s: choosing a new host id", error_text);
	}
	free(text);
	free(error_text);
	error_text = NULL;
	if (h->id == NULL) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		h->id = str_printf("node-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		                   rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		if (!check_only && path != NULL && h->id != NULL) {
			char *line = str_printf("%s\n", h->id);
			if (line == NULL || safefile_write(h->cfg.state_dir, "host-id", line, strlen(line),
			                                   &error_text) < 0) {
				diag_add(errs, "%s: cannot keep the host id in %s: %s", h->cfg.path, path,
				         error_text ? error_text : "out of memory");
				free(error_text);
				free(line);
				free(path);
				return -1;
			}
			free(line);
		}
	}
	free(path);
	return 0;
}

/* The host key from state_dir/host.key, made at the first start. A check
 * (-t) creates nothing: without a key file it checks with a throwaway key. */
static int host_key(struct host *h, int check_only, struct diag *errs)
{
	char *error_text = NULL;

	h->key = hostkey_load(h->cfg.state_dir, !check_only, &error_text);
	if (h->key == NULL && error_text == NULL && check_only)
		h->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (h->key == NULL || peer_id_of_key(h->key, h->peer_id) < 0) {
		diag_add(errs, "%s: host key: %s", h->cfg.path, error_text ? error_text : "unusable");
		free(error_text);
		return -1;
	}
	return tls_init(h, errs);
}

/* Loads, checks and initialises every plugin of `cfg` into out[] (indexed
 * like cfg->plugins), under the policy reloads share (generation.c): -1 if
 * a required plugin failed. */
int host_load_instances(struct host *h, struct host_config *cfg, struct mp2p_host **out,
                        int check_only, struct diag *errs)
{
	int before = errs->count;

	for (int i = 0; i < cfg->nplugins; i++) {
		out[i] = gen_load(h, cfg, &cfg->plugins[i], 0, errs);
		if (out[i] != NULL && !check_only)
			log_msg(HLOG_INFO, "loaded plugin '%s': %s %s (ABI %u.%u) from %s", out[i]->name,
			        out[i]->mod->desc.name, out[i]->mod->desc.version,
			        out[i]->mod->desc.abi_major, out[i]->mod->desc.abi_minor, out[i]->mod->path);
	}
	return errs->count > before ? -1 : 0;
}

/* Writes one instance's state to state_dir, atomically (state.c). -1 if
 * save_state() failed or the file could not be written; the old file is
 * then intact. */
int host_save_one(struct host *h, struct mp2p_host *in)
{
	char *error_text = NULL;
	uint32_t format;
	void *data;
	size_t len;
	int rc = 0;

	if (in->mod->desc.save_state == NULL)
		return 0;
	if (instance_save(in, &data, &len, &format) < 0) {
		log_msg(HLOG_WARN, "%s: save_state() saved nothing; the last saved state stays", in->name);
		return -1;
	}
	if (state_write(h->cfg.state_dir, in->name, format, data ? data : "", len, &error_text) < 0) {
		log_msg(HLOG_ERR, "%s: cannot save state: %s", in->name, error_text ? error_text : "?");
		free(error_text);
		rc = -1;
	}
	free(data);
	return rc;
}

/* host.checkpoint_interval: every running instance's state to disk, so a
 * SIGKILL loses at most one interval. */
static void on_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;

	(void)fd;
	(void)what;
	if (!h->stopping)
		host_save_states(h);
}

void host_arm_checkpoints(struct host *h)
{
	struct timeval tv;

	if (h->checkpoint_timer == NULL)
		h->checkpoint_timer = event_new(h->base, -1, EV_PERSIST, on_checkpoint, h);
	if (h->checkpoint_timer == NULL)
		return;
	event_del(h->checkpoint_timer);
	if (h->cfg.checkpoint_interval > 0) {
		timeval_of(h->cfg.checkpoint_interval, &tv);
		event_add(h->checkpoint_timer, &tv);
	}
}

/* Instances in config order (ORDER in plugin.h): `set` gets the running
 * ones, first listed first. Returns how many. */
static int in_config_order(struct host *h, struct mp2p_host **set)
{
	int n = 0;

	for (int i = 0; i < h->cfg.nplugins; i++) {
		struct mp2p_host *in = instance_by_name(&h->core, h->cfg.plugins[i].name);
		if (in != NULL)
			set[n++] = in;
	}
	return n;
}

/* Every stop() in reverse config order, then everything is withdrawn, so
 * each stop() still finds every service. */
void host_stop_instances(struct host *h, struct mp2p_host **set, int n,
                         enum mp2p_stop_reason why)
{
	(void)h;
	for (int i = n - 1; i >= 0; i--)
		instance_stop_begin(set[i], why);
	for (int i = n - 1; i >= 0; i--)
		instance_stop_end(set[i]);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_msg(HLOG_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	host_request_stop(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	char *error_text = NULL;
	int done;

	(void)sig;
	(void)what;
	log_msg(HLOG_INFO, "SIGHUP: reloading %s", ((struct host *)arg)->config_path);
	done = host_reload(arg, &error_text);
	if (done == RELOAD_PARTIAL)
		log_msg(HLOG_ERR, "reload applied, but not every plugin started: %s",
		        error_text ? error_text : "?");
	else if (done < 0)
		log_msg(HLOG_ERR, "reload failed; the running plugins are unchanged: %s",
		        error_text ? error_text : "?");
	free(error_text);
}

/* Where each load's private copy of a plugin file lives while it is
 * loaded. A running host uses state_dir/.plugins, which is its own: copies
 * a killed run left there are removed now, so kills never pile up files. A
 * check (-t) touches no state and uses a directory of its own in TMPDIR. */
static int scratch_open(struct host *h, int check_only, const char *tmpdir, struct diag *errs)
{
	char *error_text = NULL;
	struct dirent *e;
	DIR *d;

	if (check_only) {
		h->scratch_dir = str_printf("%s/maybep2pd.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
		if (h->scratch_dir == NULL || mkdtemp(h->scratch_dir) == NULL) {
			diag_add(errs, "cannot create a private directory for plugin copies: %s",
			         strerror(errno));
			free(h->scratch_dir);
			h->scratch_dir = NULL;
			return -1;
		}
		return 0;
	}
	h->scratch_dir = str_printf("%s/.plugins", h->cfg.state_dir);
	if (h->scratch_dir == NULL || state_mkdirs(h->scratch_dir, &error_text) < 0) {
		diag_add(errs, "%s: %s", h->cfg.path, error_text ? error_text : "out of memory");
		free(error_text);
		return -1;
	}
	if ((d = opendir(h->scratch_dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char *stale;
			if (e->d_name[0] == '.')
				continue;
			if ((stale = str_printf("%s/%s", h->scratch_dir, e->d_name)) != NULL)
				unlink(stale);
			free(stale);
		}
		closedir(d);
	}
	return 0;
}

int host_init(struct host *h, const char *config_path, int check_only, struct diag *errs)
{
	const char *tmpdir = getenv("TMPDIR");
	struct mp2p_host *loaded[MAX_INSTANCES] = { 0 };
	int n;

	memset(h, 0, sizeof(*h));
	h->core.io = &daemon_io;
	h->core.cfg = &h->cfg;
	h->state_lock = -1;
	h->config_path = strdup(config_path);
	if (config_load(&h->cfg, config_path, errs) < 0)
		return -1;
	log_level = h->cfg.log_level;
	/* From here on lines go where host.log says; a check (-t) and a
	 * config that cannot be read stay on the terminal that asked. */
	if (!check_only)
		log_set_target(h->cfg.log_target);
	if ((h->base = event_base_new()) == NULL) {
		diag_add(errs, "cannot create the event loop");
		return -1;
	}
	h->started = host_now(h);
	host_apply_settings(h);
	/* A second daemon must be refused before it touches anything: the
	 * state_dir lock comes first, then the control socket. */
	if (!check_only && state_dir_claim(h, errs) < 0)
		return -1;
	if (host_identity(h, check_only, errs) < 0 || host_key(h, check_only, errs) < 0)
		return -1;
	h->advertise = strdup(h->cfg.advertise ? h->cfg.advertise : h->cfg.listen[0]);
	h->core.id = h->id;
	h->core.peer_id = h->peer_id;
	h->core.advertise = h->advertise;

	if (!check_only && control_open(h, errs) < 0)
		return -1;
	if (scratch_open(h, check_only, tmpdir, errs) < 0)
		return -1;
	if (host_load_instances(h, &h->cfg, loaded, check_only, errs) < 0)
		goto fail_instances;
	n = 0;
	for (int i = 0; i < h->cfg.nplugins; i++) {
		if (loaded[i] != NULL) {
			loaded[i]->slot = n;
			h->core.slots[n++] = loaded[i];
		}
	}
	if (routes_build(&h->core, h->core.slots, MAX_INSTANCES, errs) < 0)
		return -1;
	if (check_only)
		return 0;

	if (listeners_open(h, errs) < 0 || metrics_open(h, errs) < 0)
		return -1;
	/* A listen port of 0 was chosen by the kernel: advertise the real one. */
	if (h->cfg.advertise == NULL && h->nlisteners > 0) {
		free(h->advertise);
		h->advertise = strdup(h->listen_names[0]);
		h->core.advertise = h->advertise;
	}
	/* Slots were filled in config order: this starts in config order.
	 * Nothing runs yet, so every instance's state comes from disk. */
	for (int i = 0; i < MAX_INSTANCES; i++) {
		struct mp2p_host *in = h->core.slots[i];
		int rc;
		if (in == NULL)
			continue;
		gen_restore(h, in, NULL);
		rc = gen_start(h, in, gen_conf_of(&h->cfg, in->name), 0, errs);
		if (rc < 0)
			return -1;
		if (rc > 0)
			gen_drop(h, in);
	}
	routes_build(&h->core, h->core.slots, MAX_INSTANCES, errs);

	h->sig_int = evsignal_new(h->base, SIGINT, on_stop_signal, h);
	h->sig_term = evsignal_new(h->base, SIGTERM, on_stop_signal, h);
	h->sig_hup = evsignal_new(h->base, SIGHUP, on_hup, h);
	event_add(h->sig_int, NULL);
	event_add(h->sig_term, NULL);
	event_add(h->sig_hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	host_arm_checkpoints(h);
	log_msg(HLOG_INFO, "host %s (maybep2pd %s, ABI %d.%d) running; advertising %s; peer id %s; "
	        "security %s", h->id, HOST_VERSION, MP2P_ABI_MAJOR, MP2P_ABI_MINOR, h->advertise,
	        h->peer_id, security_mode_name(h->cfg.security_mode));
	return 0;

fail_instances:
	for (int i = 0; i < MAX_INSTANCES; i++)
		instance_destroy(loaded[i]);
	return -1;
}

int host_run(struct host *h)
{
	event_base_dispatch(h->base);
	return h->exit_status;
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;

	(void)fd;
	(void)what;
	if (h->nconns == 0 || host_now(h) - h->stop_began > h->cfg.t_write) {
		if (h->nconns > 0)
			log_msg(HLOG_WARN, "%ld connections still had output after %g s; closing them",
			        h->nconns, h->cfg.t_write);
		event_base_loopbreak(h->base);
	}
}

/* Stop accepting; every plugin saves its state and says goodbye; the
 * goodbyes and other queued output get up to the write timeout to leave. */
void host_request_stop(struct host *h)
{
	struct timeval tick = { 0, 20000 };
	struct mp2p_host *order[MAX_INSTANCES];
	int n;

	if (h->stopping)
		return;
	h->stopping = 1;
	h->stop_began = host_now(h);
	listeners_close(h);
	sniffs_free(h);
	if (h->checkpoint_timer != NULL)
		event_del(h->checkpoint_timer);
	host_save_states(h);
	n = in_config_order(h, order);
	host_stop_instances(h, order, n, MP2P_STOP_SHUTDOWN);
	/* Replies still deferred will never be answered: say so while the
	 * loop still runs to deliver it. */
	for (int i = 0; i < n; i++)
		reply_abandon_owner(order[i]);
	/* Anything the config no longer names (cannot happen today) last. */
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (h->core.slots[i] != NULL)
			instance_stop(h->core.slots[i], MP2P_STOP_SHUTDOWN);
	conns_close_all(h, "host stopping");
	h->stop_timer = event_new(h->base, -1, EV_PERSIST, stop_check, h);
	event_add(h->stop_timer, &tick);
}

void host_save_states(struct host *h)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (h->core.slots[i] != NULL && h->core.slots[i]->state == INST_RUNNING)
			host_save_one(h, h->core.slots[i]);
}

void host_free(struct host *h)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (h->core.slots[i] != NULL)
			instance_destroy(h->core.slots[i]);
	reply_abandon_handed(&h->core, NULL);
	if (h->base != NULL)
		conns_drop_all(h);
	tls_free(h);           /* after the connections: they hold SSL objects */
	hostkey_free(h->key);
	control_close(h);
	metrics_close(h);
	listeners_close(h);
	services_free(&h->core);
	counters_free(&h->core);
	free(h->core.routes);
	idmap_free(&h->conn_by_id);
	idmap_free(&h->conn_by_dial);
	idmap_free(&h->ip_counts);
	idmap_free(&h->dial_pending);
	if (h->state_lock >= 0)
		close(h->state_lock);   /* the lock goes with it */
	if (h->trim_timer)
		event_free(h->trim_timer);
	if (h->sig_int) event_free(h->sig_int);
	if (h->sig_term) event_free(h->sig_term);
	if (h->sig_hup) event_free(h->sig_hup);
	if (h->stop_timer) event_free(h->stop_timer);
	if (h->checkpoint_timer) event_free(h->checkpoint_timer);
	if (h->base != NULL)
		event_base_free(h->base);
	if (h->scratch_dir != NULL)
		rmdir(h->scratch_dir);
	free(h->scratch_dir);
	free(h->config_path);
	free(h->id);
	free(h->advertise);
	config_release(&h->cfg);
	memset(h, 0, sizeof(*h));
}

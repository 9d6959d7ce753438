/* reload.c -- a new generation of plugins under a running host. Everything
 * that can fail (reading the config, loading, checking, init) happens
 * beside the running generation; only then, within this one callback and
 * so between two turns of the event loop, are the instances swapped. The
 * listener and the connections are never touched. */
#include "config.h"
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A running instance carries on untouched when its file on disk and its
 * config are exactly what it was started with. */
static int unchanged(const struct host_config *nc, const struct plugin_conf *pc,
                     const struct mp2p_host *old)
{
	char *path = plugin_path(nc, pc->file);
	struct stat st;
	int same;

	same = path != NULL && strcmp(path, old->mod->path) == 0 && stat(path, &st) == 0 &&
	       st.st_dev == old->mod->st.st_dev && st.st_ino == old->mod->st.st_ino &&
	       st.st_size == old->mod->st.st_size &&
	       st.st_mtim.tv_sec == old->mod->st.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == old->mod->st.st_mtim.tv_nsec &&
	       strcmp(pc->config_text ? pc->config_text : "{}", old->config_text) == 0;
	free(path);
	return same;
}

static int free_slot(struct host *h, struct mp2p_host **next)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (h->core.slots[i] == NULL && next[i] == NULL)
			return i;
	return -1;
}

/* What cannot change under a running host keeps its old value, and says so. */
static void keep_fixed(struct host *h, struct host_config *nc)
{
	int same_listen = nc->nlisten == h->cfg.nlisten;
	char **tl;
	int tn;
	char *t;

	for (int i = 0; same_listen && i < nc->nlisten; i++)
		same_listen = strcmp(nc->listen[i], h->cfg.listen[i]) == 0;
	if (!same_listen)
		log_msg(HLOG_WARN, "reload: host.listen changed; it takes effect at the next restart");
	tl = nc->listen, nc->listen = h->cfg.listen, h->cfg.listen = tl;
	tn = nc->nlisten, nc->nlisten = h->cfg.nlisten, h->cfg.nlisten = tn;
#define KEEP(field, what)                                                                  \
	if ((nc->field == NULL) != (h->cfg.field == NULL) ||                                   \
	    (nc->field != NULL && strcmp(nc->field, h->cfg.field) != 0))                       \
		log_msg(HLOG_WARN, "reload: %s changed; it takes effect at the next restart", what); \
	t = nc->field, nc->field = h->cfg.field, h->cfg.field = t;
	KEEP(control, "host.control")
	KEEP(state_dir, "host.state_dir")
	KEEP(id, "host.id")
	KEEP(advertise, "host.advertise")
	KEEP(metrics_listen, "host.metrics_listen")
#undef KEEP
}

/* A replacement's start() failed: the running build comes back, as a new
 * instance of the module that is still loaded, with the state it saved,
 * so nothing is lost. Only if that fails too is the slot left empty, and
 * the saved state then goes to disk for the next start. */
static struct mp2p_host *resume(struct host *h, struct mp2p_host *cur, const void *blob,
                                size_t len, uint32_t format, struct diag *swap_errs)
{
	const struct plugin_conf *pc = NULL;
	struct mp2p_host *back = NULL, *failed = h->core.slots[cur->slot];
	struct diag one = { 0 };
	int s = cur->slot;

	diag_add(swap_errs, "plugin '%s': the replacement %s did not start, so %s %s resumed with "
	         "its state", cur->name, failed->mod->path, cur->mod->desc.name, cur->mod->desc.version);
	h->core.slots[s] = NULL;
	failed->slot = -1;
	instance_destroy(failed);
	for (int i = 0; i < h->cfg.nplugins; i++)
		if (strcmp(h->cfg.plugins[i].name, cur->name) == 0)
			pc = &h->cfg.plugins[i];
	if (pc != NULL)
		back = instance_create_from(&h->core, &h->cfg, pc, cur->mod, NULL, 0, &one);
	if (back != NULL) {
		back->slot = s;
		h->core.slots[s] = back;
		back->origin = MP2P_ORIGIN_SWAP;
		if (blob != NULL)
			instance_restore(back, len ? blob : "", len, format);
		if (instance_start(back, &one) == 0) {
			log_msg(HLOG_WARN, "reload: '%s' resumed its running build with %zu bytes of state",
			        cur->name, len);
			diag_clear(&one);
			return back;
		}
		h->core.slots[s] = NULL;
		back->slot = -1;
		instance_destroy(back);
	}
	for (int k = 0; k < one.count; k++)
		diag_add(swap_errs, "%s", one.lines[k]);
	diag_clear(&one);
	if (blob != NULL) {
		char *e = NULL;
		if (state_write(h->cfg.state_dir, cur->name, format, len ? blob : "", len, &e) < 0)
			log_msg(HLOG_ERR, "%s: cannot save state: %s", cur->name, e ? e : "?");
		free(e);
	}
	return NULL;
}

int host_reload(struct host *h, char **error_text)
{
	struct host_config nc;
	struct diag errs = { 0 };
	struct mp2p_host *loaded[MAX_INSTANCES] = { 0 };
	struct mp2p_host *next[MAX_INSTANCES] = { 0 };
	struct mp2p_host *old[MAX_INSTANCES] = { 0 };  /* old instance each new one replaces */
	int fresh[MAX_INSTANCES] = { 0 };
	struct diag swap_errs = { 0 };  /* replacements that did not start */

	if (h->stopping) {
		*error_text = strdup("the host is stopping");
		return -1;
	}
	if (config_load(&nc, h->config_path, &errs) < 0)
		goto fail;
	/* Build the new generation beside the old: kept instances as they
	 * are, changed and added ones loaded and initialised now. */
	for (int i = 0; i < nc.nplugins; i++) {
		struct plugin_conf *pc = &nc.plugins[i];
		struct mp2p_host *was = instance_by_name(&h->core, pc->name);
		struct diag one = { 0 };

		if (was != NULL && unchanged(&nc, pc, was)) {
			next[was->slot] = was;
			continue;
		}
		loaded[i] = instance_create(h, &nc, pc, &one);
		/* A replacement that fails fails the reload, required or not:
		 * the running instance is better than none. */
		if (loaded[i] == NULL && (pc->required || was != NULL)) {
			for (int k = 0; k < one.count; k++)
				diag_add(&errs, "%s", one.lines[k]);
		} else if (loaded[i] == NULL) {
			for (int k = 0; k < one.count; k++)
				log_msg(HLOG_WARN, "%s (not required: skipped)", one.lines[k]);
		}
		diag_clear(&one);
	}
	/* Each new instance takes its predecessor's slot, so connections it
	 * used are known to the successor; added ones take a free slot. */
	for (int i = 0; i < nc.nplugins; i++) {
		struct mp2p_host *was;
		int slot;
		if (loaded[i] == NULL)
			continue;
		was = instance_by_name(&h->core, loaded[i]->name);
		slot = was != NULL ? was->slot : free_slot(h, next);
		if (slot < 0) {
			diag_add(&errs, "no free plugin slot (at most %d)", MAX_INSTANCES);
			goto fail;
		}
		loaded[i]->slot = slot;
		next[slot] = loaded[i];
		old[slot] = was;
		fresh[slot] = 1;
	}
	if (errs.count > 0)
		goto fail;
	{
		/* Protocol names must stay unique in the new generation. */
		struct route *saved = h->core.routes;
		int nsaved = h->core.nroutes;
		h->core.routes = NULL;
		h->core.nroutes = 0;
		if (routes_build(&h->core, next, MAX_INSTANCES, &errs) < 0) {
			h->core.routes = saved;
			h->core.nroutes = nsaved;
			goto fail;
		}
		free(saved);
	}

	/* The swap. Nothing below can refuse the reload any more. */
	for (int s = 0; s < MAX_INSTANCES; s++) {
		struct mp2p_host *cur = h->core.slots[s];
		void *blob = NULL;
		size_t len = 0;
		uint32_t format = 0;

		if (cur == NULL || next[s] == cur)
			continue;
		if (old[s] == cur) {
			/* Replaced: hand its state (and deferred replies, if it
			 * hands them) to the successor in memory, and start the
			 * successor now, while the old instance still exists: if
			 * start() fails, the old build resumes with that state. */
			int saved;
			cur->swapping = 1;
			saved = instance_save(cur, &blob, &len, &format) == 0;
			instance_stop(cur, MP2P_STOP_RELOAD);
			cur->swapping = 0;
			h->core.slots[s] = next[s];
			next[s]->origin = MP2P_ORIGIN_SWAP;
			if (saved)
				instance_restore(next[s], blob ? blob : "", len, format);
			if (instance_start(next[s], &swap_errs) == 0) {
				log_msg(HLOG_INFO, "reload: '%s' replaced by %s %s, %zu bytes of state handed over",
				        cur->name, next[s]->mod->desc.name, next[s]->mod->desc.version, len);
			} else {
				next[s] = resume(h, cur, saved ? blob : NULL, len, format, &swap_errs);
				if (next[s] == NULL)
					conn_forget_slot(h, s);
			}
			fresh[s] = 0;   /* started (or resumed) here */
			free(blob);
		} else {
			/* Removed: keep its state on disk in case it comes back. */
			host_save_one(h, cur);
			instance_stop(cur, MP2P_STOP_REMOVED);
			h->core.slots[s] = NULL;
			conn_forget_slot(h, s);
			log_msg(HLOG_INFO, "reload: '%s' removed", cur->name);
		}
		cur->slot = -1;
		instance_destroy(cur);
	}
	for (int s = 0; s < MAX_INSTANCES; s++) {
		if (!fresh[s])
			continue;
		if (old[s] == NULL) {
			h->core.slots[s] = next[s];
			log_msg(HLOG_INFO, "reload: '%s' added", next[s]->name);
		}
	}
	keep_fixed(h, &nc);
	config_release(&h->cfg);
	h->cfg = nc;
	host_apply_settings(h);
	log_set_target(h->cfg.log_target);
	host_arm_checkpoints(h);
	/* Restore added instances from disk with the new config's state_dir
	 * (kept the same), then start every fresh instance, in config order. */
	for (int i = 0; i < h->cfg.nplugins; i++) {
		struct mp2p_host *in = instance_by_name(&h->core, h->cfg.plugins[i].name);
		struct diag one = { 0 };
		int s = in != NULL ? in->slot : -1;
		if (s < 0 || !fresh[s] || next[s] != in)
			continue;
		if (old[s] == NULL) {
			char *e = NULL;
			uint32_t format = 0;
			void *data = NULL;
			size_t len = 0;
			if (state_read(h->cfg.state_dir, next[s]->name, &format, &data, &len, &e) > 0) {
				next[s]->origin = MP2P_ORIGIN_RESTART;
				instance_restore(next[s], data, len, format);
			}
			else if (e != NULL)
				log_msg(HLOG_WARN, "%s: %s", next[s]->name, e);
			free(e);
			free(data);
		}
		if (instance_start(next[s], &one) < 0) {
			diag_print(&one, HLOG_ERR);
			h->core.slots[s] = NULL;
			conn_forget_slot(h, s);
			instance_destroy(next[s]);
		}
		diag_clear(&one);
	}
	/* Replies handed over that no successor took get their error now. */
	reply_abandon_handed(&h->core, NULL);
	routes_build(&h->core, h->core.slots, MAX_INSTANCES, &errs);
	diag_clear(&errs);
	h->stats.reloads++;
	if (swap_errs.count > 0) {
		/* Applied, but not all of it: the operator must hear so. */
		*error_text = diag_join(&swap_errs);
		diag_clear(&swap_errs);
		h->stats.reload_failures++;
		log_msg(HLOG_ERR, "reload done, but not every replacement started");
		return -1;
	}
	log_msg(HLOG_INFO, "reload done");
	return 0;

fail:
	for (int i = 0; i < MAX_INSTANCES; i++)
		instance_destroy(loaded[i]);
	*error_text = diag_join(&errs);
	diag_print(&errs, HLOG_ERR);
	diag_clear(&errs);
	config_release(&nc);
	h->stats.reload_failures++;
	return -1;
}

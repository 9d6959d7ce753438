/* reload.c -- a new generation of plugins under a running host. Everything
 * that can fail (reading the config, probing, loading, checking, init)
 * happens beside the running generation; only then, within this one
 * callback and so between two turns of the event loop, are the instances
 * swapped. The listener and the connections are never touched.
 *
 * host_reload() is its steps in order, each a function below: read the
 * config; build the new generation (probe, load, init); place it in slots
 * and check its routes; then, past the point of no refusal, hand each
 * replaced instance's state to its successor and start it; commit the
 * config; restore and start the added instances; report. A failure before
 * the hand-over rolls back and nothing changes. What a plugin's failure
 * means and where an instance's state comes from are decided in
 * generation.c, by the same functions start-up calls. */
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

/* One reload in progress: the new generation beside the running one. */
struct reload {
	struct host_config nc;       /* the new config; the host's once committed */
	int have_nc;
	struct mp2p_host *loaded[MAX_INSTANCES]; /* by nc.plugins index: built by this reload */
	struct mp2p_host *next[MAX_INSTANCES];   /* by slot: the new generation */
	struct mp2p_host *old[MAX_INSTANCES];    /* by slot: what each new instance replaces */
	int fresh[MAX_INSTANCES];    /* by slot: built by this reload and not started yet */
	struct diag errs;            /* why it is refused: nothing has changed */
	struct diag late;            /* applied, but these did not start */
};

/* A replacement's start() failed: the running build comes back, as a new
 * instance of the module that is still loaded, with the state it saved,
 * so nothing is lost. Only if that fails too is the slot left empty, and
 * the saved state then goes to disk for the next start. */
static struct mp2p_host *resume(struct host *h, struct mp2p_host *cur, const struct handover *ho,
                                struct diag *late)
{
	const struct plugin_conf *pc = gen_conf_of(&h->cfg, cur->name);
	struct mp2p_host *back = NULL, *failed = h->core.slots[cur->slot];
	struct diag one = { 0 };
	int s = cur->slot;

	diag_add(late, "plugin '%s': the replacement %s did not start, so %s %s resumed with "
	         "its state", cur->name, failed->mod->path, cur->mod->desc.name, cur->mod->desc.version);
	h->core.slots[s] = NULL;
	failed->slot = -1;
	instance_destroy(failed);
	if (pc != NULL)
		back = instance_create_from(&h->core, &h->cfg, pc, cur->mod, NULL, 0, &one);
	if (back != NULL) {
		back->slot = s;
		h->core.slots[s] = back;
		gen_restore(h, back, ho);
		if (instance_start(back, &one) == 0) {
			log_msg(HLOG_WARN, "reload: '%s' resumed its running build with %zu bytes of state",
			        cur->name, ho->len);
			diag_clear(&one);
			return back;
		}
		h->core.slots[s] = NULL;
		back->slot = -1;
		instance_destroy(back);
	}
	for (int k = 0; k < one.count; k++)
		diag_add(late, "%s", one.lines[k]);
	diag_clear(&one);
	if (ho->saved) {
		char *e = NULL;
		if (state_write(h->cfg.state_dir, cur->name, ho->format, ho->data ? ho->data : "",
		                ho->len, &e) < 0)
			log_msg(HLOG_ERR, "%s: cannot save state: %s", cur->name, e ? e : "?");
		free(e);
	}
	return NULL;
}

/* Step 1: the new config, read and checked as at start-up. Even a config
 * that fails holds memory until released. */
static int read_config(struct host *h, struct reload *r)
{
	r->have_nc = 1;
	return config_load(&r->nc, h->config_path, &r->errs);
}

/* Step 2: the new generation, built beside the old: kept instances as they
 * are; changed and added ones probed in a forked child, loaded and
 * initialised now (gen_load: the start-up policy, with a replacement
 * counting as required). */
static void build(struct host *h, struct reload *r)
{
	for (int i = 0; i < r->nc.nplugins; i++) {
		struct plugin_conf *pc = &r->nc.plugins[i];
		struct mp2p_host *was = instance_by_name(&h->core, pc->name);

		if (was != NULL && unchanged(&r->nc, pc, was))
			r->next[was->slot] = was;
		else
			r->loaded[i] = gen_load(h, &r->nc, pc, was != NULL, &r->errs);
	}
}

/* Step 3: each new instance takes its predecessor's slot, so connections
 * it used are known to the successor; added ones take a free slot. */
static int place(struct host *h, struct reload *r)
{
	for (int i = 0; i < r->nc.nplugins; i++) {
		struct mp2p_host *was;
		int slot;
		if (r->loaded[i] == NULL)
			continue;
		was = instance_by_name(&h->core, r->loaded[i]->name);
		slot = was != NULL ? was->slot : free_slot(h, r->next);
		if (slot < 0) {
			diag_add(&r->errs, "no free plugin slot (at most %d)", MAX_INSTANCES);
			return -1;
		}
		r->loaded[i]->slot = slot;
		r->next[slot] = r->loaded[i];
		r->old[slot] = was;
		r->fresh[slot] = 1;
	}
	return 0;
}

/* Step 4: protocol names must stay unique in the new generation. On
 * success the host routes by the new generation's table from now on. */
static int check_routes(struct host *h, struct reload *r)
{
	struct route *saved = h->core.routes;
	int nsaved = h->core.nroutes;

	h->core.routes = NULL;
	h->core.nroutes = 0;
	if (routes_build(&h->core, r->next, MAX_INSTANCES, &r->errs) < 0) {
		h->core.routes = saved;
		h->core.nroutes = nsaved;
		return -1;
	}
	free(saved);
	return 0;
}

/* Refused before anything was swapped: what this reload built goes, the
 * running generation never noticed. */
static int roll_back(struct host *h, struct reload *r, char **error_text)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		instance_destroy(r->loaded[i]);
	*error_text = diag_join(&r->errs);
	diag_print(&r->errs, HLOG_ERR);
	diag_clear(&r->errs);
	if (r->have_nc)
		config_release(&r->nc);
	h->stats.reload_failures++;
	return -1;
}

/* Step 5, for a replaced instance: its state (and deferred replies, if it
 * hands them) goes to the successor in memory, and the successor starts
 * now, while the old instance still exists: if start() fails, the old
 * build resumes with that state. */
static void hand_over(struct host *h, struct reload *r, int s)
{
	struct mp2p_host *cur = h->core.slots[s], *in = r->next[s];
	struct handover ho = { 0 };

	cur->swapping = 1;
	ho.saved = instance_save(cur, &ho.data, &ho.len, &ho.format) == 0;
	instance_stop(cur, MP2P_STOP_RELOAD);
	cur->swapping = 0;
	h->core.slots[s] = in;
	gen_restore(h, in, &ho);
	if (gen_start(h, in, gen_conf_of(&r->nc, in->name), 1, &r->late) == 0) {
		log_msg(HLOG_INFO, "reload: '%s' replaced by %s %s, %zu bytes of state handed over",
		        cur->name, in->mod->desc.name, in->mod->desc.version, ho.len);
	} else {
		r->next[s] = resume(h, cur, &ho, &r->late);
		if (r->next[s] == NULL)
			conn_forget_slot(h, s);
	}
	r->fresh[s] = 0;   /* started (or resumed) here */
	free(ho.data);
}

/* Step 5, for a removed instance: its state stays on disk in case it
 * comes back, and its peers hear it go. */
static void remove_one(struct host *h, int s)
{
	struct mp2p_host *cur = h->core.slots[s];

	host_save_one(h, cur);
	instance_stop(cur, MP2P_STOP_REMOVED);
	h->core.slots[s] = NULL;
	conn_forget_slot(h, s);
	log_msg(HLOG_INFO, "reload: '%s' removed", cur->name);
}

/* Step 5: the swap. Nothing from here on can refuse the reload. */
static void swap(struct host *h, struct reload *r)
{
	for (int s = 0; s < MAX_INSTANCES; s++) {
		struct mp2p_host *cur = h->core.slots[s];

		if (cur == NULL || r->next[s] == cur)
			continue;
		if (r->old[s] == cur)
			hand_over(h, r, s);
		else
			remove_one(h, s);
		cur->slot = -1;
		instance_destroy(cur);
	}
}

/* Step 6: the added instances join, and the new config becomes the host's,
 * with what cannot change under a running host kept as it was. */
static void commit(struct host *h, struct reload *r)
{
	for (int s = 0; s < MAX_INSTANCES; s++) {
		if (r->fresh[s] && r->old[s] == NULL) {
			h->core.slots[s] = r->next[s];
			log_msg(HLOG_INFO, "reload: '%s' added", r->next[s]->name);
		}
	}
	keep_fixed(h, &r->nc);
	config_release(&h->cfg);
	h->cfg = r->nc;
	r->have_nc = 0;
	host_apply_settings(h);
	log_set_target(h->cfg.log_target);
	host_arm_checkpoints(h);
}

/* Step 7: added instances restore from disk (the config's state_dir, kept
 * the same) and start, in config order, under the start-up policy. */
static void start_added(struct host *h, struct reload *r)
{
	for (int i = 0; i < h->cfg.nplugins; i++) {
		const struct plugin_conf *pc = &h->cfg.plugins[i];
		struct mp2p_host *in = instance_by_name(&h->core, pc->name);
		int s = in != NULL ? in->slot : -1;

		if (s < 0 || !r->fresh[s] || r->next[s] != in)
			continue;
		gen_restore(h, in, NULL);
		if (gen_start(h, in, pc, 0, &r->late) != 0)
			gen_drop(h, in);
	}
}

/* Step 8: replies handed over that no successor took get their error now;
 * the operator hears whether everything started. */
static int report(struct host *h, struct reload *r, char **error_text)
{
	reply_abandon_handed(&h->core, NULL);
	routes_build(&h->core, h->core.slots, MAX_INSTANCES, &r->errs);
	diag_clear(&r->errs);
	h->stats.reloads++;
	if (r->late.count > 0) {
		/* The same lines start-up would have stopped on. */
		diag_print(&r->late, HLOG_ERR);
		*error_text = diag_join(&r->late);
		diag_clear(&r->late);
		h->stats.reload_failures++;
		log_msg(HLOG_ERR, "reload done, but not every plugin started");
		return RELOAD_PARTIAL;
	}
	log_msg(HLOG_INFO, "reload done");
	return 0;
}

int host_reload(struct host *h, char **error_text)
{
	struct reload r;

	if (h->stopping) {
		*error_text = strdup("the host is stopping");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	if (read_config(h, &r) < 0)
		return roll_back(h, &r, error_text);
	build(h, &r);
	if (place(h, &r) < 0 || r.errs.count > 0 || check_routes(h, &r) < 0)
		return roll_back(h, &r, error_text);
	swap(h, &r);
	commit(h, &r);
	start_added(h, &r);
	return report(h, &r, error_text);
}

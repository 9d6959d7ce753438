/* generation.c -- one plugin instance brought into a generation: loaded,
 * given its state, started. Start-up and reload both call these, so a
 * plugin's failure means the same thing, and an instance finds its state in
 * the same place, however the host came to load it.
 *
 * The policy, in one place:
 * - A plugin that cannot be loaded, does not survive its init() in the
 *   probe process, or fails init() or start(), fails the whole load if it is
 *   `required`, or if it would replace a running instance (at a reload the
 *   running one is better than none). Otherwise it is left out, and one
 *   warning names the file and the reason, ending "(not required: skipped)".
 *   Failing the whole load means: at start-up the daemon exits 1; at a
 *   reload that has not swapped anything yet, the reload fails and nothing
 *   changes; once a reload has swapped, it reports failure (exit 1, with
 *   the reason) for the instances that did not start.
 * - An instance that replaces a running one takes its state in memory from
 *   its predecessor (origin MP2P_ORIGIN_SWAP). Every other new instance,
 *   at start-up or added by a reload, reads its file in state_dir, if there
 *   is one (origin MP2P_ORIGIN_RESTART). */
#include "config.h"
#include "host.h"

#include <stdlib.h>
#include <string.h>

const struct plugin_conf *gen_conf_of(const struct host_config *c, const char *name)
{
	for (int i = 0; i < c->nplugins; i++)
		if (strcmp(c->plugins[i].name, name) == 0)
			return &c->plugins[i];
	return NULL;
}

/* A failure that fails the load goes to errs, to be reported by whoever
 * decides what failing means; any other is logged here and forgotten. */
static int failed(const struct plugin_conf *pc, int replaces, struct diag *one,
                  struct diag *errs)
{
	int fatal = pc == NULL || pc->required || replaces;

	for (int k = 0; k < one->count; k++) {
		if (fatal)
			diag_add(errs, "%s", one->lines[k]);
		else
			log_msg(HLOG_WARN, "%s (not required: skipped)", one->lines[k]);
	}
	diag_clear(one);
	return fatal ? -1 : 1;
}

/* The file probed in a forked child, then loaded and init()ed here
 * (instance_create()). NULL on failure, with the reason in errs only if
 * the failure fails the load (see the policy above). */
struct mp2p_host *gen_load(struct host *h, const struct host_config *c,
                           const struct plugin_conf *pc, int replaces, struct diag *errs)
{
	struct diag one = { 0 };
	struct mp2p_host *in = instance_create(h, c, pc, &one);

	if (in == NULL)
		failed(pc, replaces, &one, errs);
	diag_clear(&one);
	return in;
}

/* From state_dir, as the last run (or the last removal) left it. A file
 * that cannot be read is reported and the instance starts empty. */
static void restore_from_disk(struct host *h, struct mp2p_host *in)
{
	char *error_text = NULL;
	uint32_t format = 0;
	void *data = NULL;
	size_t len = 0;
	int rc = state_read(h->cfg.state_dir, in->name, &format, &data, &len, &error_text);

	if (rc < 0) {
		log_msg(HLOG_WARN, "%s: saved state unusable, starting empty: %s", in->name,
		        error_text ? error_text : "?");
	} else if (rc > 0) {
		in->origin = MP2P_ORIGIN_RESTART;
		if (instance_restore(in, data, len, format) == 0)
			log_msg(HLOG_INFO, "%s: restored %zu bytes of saved state", in->name, len);
	}
	free(error_text);
	free(data);
}

/* `from` is the predecessor's state when `in` replaces a running
 * instance, NULL when nothing runs under its name. */
void gen_restore(struct host *h, struct mp2p_host *in, const struct handover *from)
{
	if (from == NULL) {
		restore_from_disk(h, in);
		return;
	}
	in->origin = MP2P_ORIGIN_SWAP;
	if (from->saved)
		instance_restore(in, from->data ? from->data : "", from->len, from->format);
}

/* 0: running. -1: start() failed and that fails the load (the reason is
 * in errs). 1: start() failed and the instance is left out (logged). The
 * instance stays where it is either way: the caller removes it (gen_drop)
 * or, for a replacement, resumes the one it replaced. */
int gen_start(struct host *h, struct mp2p_host *in, const struct plugin_conf *pc, int replaces,
              struct diag *errs)
{
	struct diag one = { 0 };

	(void)h;
	if (instance_start(in, &one) == 0)
		return 0;
	return failed(pc, replaces, &one, errs);
}

/* An instance that did not make it into the generation: out of its slot,
 * its connections told it is gone, destroyed. */
void gen_drop(struct host *h, struct mp2p_host *in)
{
	int s = in->slot;

	if (s >= 0 && h->core.slots[s] == in) {
		h->core.slots[s] = NULL;
		conn_forget_slot(h, s);
	}
	in->slot = -1;
	instance_destroy(in);
}

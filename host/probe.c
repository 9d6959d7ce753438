/* probe.c -- a plugin's init() tried first in a child process. A plugin
 * that crashes or hangs in init() would otherwise take the serving daemon
 * with it; in a child it only fails the load, with the reason. The child
 * is a fork of the host: it loads its own copy of the file, runs init()
 * and exits without touching anything the daemon owns. */
#include "config.h"
#include "host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_SECONDS 10
#define PROBE_OK 0
#define PROBE_INIT_FAILED 3      /* init() returned an error: the daemon reports it */

int probe_child;                 /* set in the child: no probe of a probe */
extern const char *loader_tag;

static void child(struct host *h, const struct host_config *c, const struct plugin_conf *pc)
{
	static char tag[48];
	struct diag errs = { 0 };
	struct mp2p_host *in;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	probe_child = 1;
	snprintf(tag, sizeof(tag), "probe-%ld-", (long)getpid());
	loader_tag = tag;
	/* The daemon says what happened; the child's own lines would only
	 * repeat it. */
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	in = instance_create(h, c, pc, &errs);
	instance_destroy(in);
	diag_clear(&errs);
	_exit(in != NULL ? PROBE_OK : PROBE_INIT_FAILED);
}

/* A probe killed mid-init leaves its copy of the file behind. */
static void remove_copies(const char *dir, pid_t pid)
{
	char prefix[48], *path;
	struct dirent *e;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "probe-%ld-", (long)pid);
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if ((path = str_printf("%s/%s", dir, e->d_name)) != NULL)
			unlink(path);
		free(path);
	}
	closedir(d);
}

/* 0 if init() returned (well or not: the daemon's own init tells which),
 * -1 with the reason in errs if it crashed or did not return in time. The
 * wait blocks the loop, as loading does, for at most PROBE_SECONDS. */
int probe_plugin(struct host *h, const struct host_config *c, const struct plugin_conf *pc,
                 struct diag *errs)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status = 0, waited = 0, hung = 0;
	pid_t pid, r;

	if (probe_child)
		return 0;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		log_msg(HLOG_WARN, "plugin '%s': cannot fork to probe its init(): %s; loading it "
		        "unprobed", pc->name, strerror(errno));
		return 0;
	}
	if (pid == 0)
		child(h, c, pc);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (waited++ >= PROBE_SECONDS * 100) {
			hung = 1;
			kill(pid, SIGKILL);
			r = waitpid(pid, &status, 0);
			break;
		}
		nanosleep(&tick, NULL);
	}
	remove_copies(h->scratch_dir, pid);
	if (r < 0)
		return 0;
	if (!hung && WIFEXITED(status) &&
	    (WEXITSTATUS(status) == PROBE_OK || WEXITSTATUS(status) == PROBE_INIT_FAILED))
		return 0;
	if (hung)
		diag_add(errs, "%s:%d: plugin '%s': init() did not return within %d s (tried in a "
		         "probe process): not loaded", c->path, pc->line, pc->name, PROBE_SECONDS);
	else if (WIFSIGNALED(status))
		diag_add(errs, "%s:%d: plugin '%s': %s crashed in init() (signal %d, %s; tried in a "
		         "probe process): not loaded", c->path, pc->line, pc->name, pc->file,
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		diag_add(errs, "%s:%d: plugin '%s': %s crashed in init() (the probe process exited "
		         "%d): not loaded", c->path, pc->line, pc->name, pc->file, WEXITSTATUS(status));
	return -1;
}

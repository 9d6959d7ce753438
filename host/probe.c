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

int probe_child;                 /* set in the child: no probe of a probe */
extern const char *loader_tag;

/* The child says "init() returned" with one byte on `report` rather than
 * with its exit status, which valgrind or a sanitizer may change. */
static void child(struct host *h, const struct host_config *c, const struct plugin_conf *pc,
                  int report)
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
	if (write(report, in != NULL ? "r" : "f", 1) != 1)
		_exit(2);
	instance_destroy(in);
	diag_clear(&errs);
	_exit(0);
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
	int status = 0, waited = 0, hung = 0, report[2];
	char said = 0;
	pid_t pid, r;

	if (probe_child)
		return 0;
	fflush(NULL);
	if (pipe(report) < 0 || (pid = fork()) < 0) {
		log_msg(HLOG_WARN, "plugin '%s': cannot fork to probe its init(): %s; loading it "
		        "unprobed", pc->name, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		close(report[0]);
		child(h, c, pc, report[1]);
	}
	close(report[1]);
	fcntl(report[0], F_SETFD, FD_CLOEXEC);
	fcntl(report[0], F_SETFL, O_NONBLOCK);
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
	if (read(report[0], &said, 1) != 1)
		said = 0;
	close(report[0]);
	if (r < 0 || said != 0)
		return 0;   /* init() returned; the daemon's own init says how */
	if (hung)
		diag_add(errs, "%s:%d: plugin '%s': init() did not return within %d s (tried in a "
		         "probe process): not loaded", c->path, pc->line, pc->name, PROBE_SECONDS);
	else if (WIFSIGNALED(status))
		diag_add(errs, "%s:%d: plugin '%s': %s crashed in init() (signal %d, %s; tried in a "
		         "probe process): not loaded", c->path, pc->line, pc->name, pc->file,
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		diag_add(errs, "%s:%d: plugin '%s': %s crashed in init() (the probe process exited "
		         "%d before init() returned): not loaded", c->path, pc->line, pc->name, pc->file,
		         WEXITSTATUS(status));
	return -1;
}

/* The daemon's way to a new instance: the file loaded anew into its own
 * private copy, its init() first tried in a probe process. (A reload that
 * resumes the running build shares the loaded module instead: see
 * instance_create_from().) */
struct mp2p_host *instance_create(struct host *h, const struct host_config *c,
                                  const struct plugin_conf *pc, struct diag *errs)
{
	struct mp2p_host *in;
	struct module *mod;
	char *path, *error_text = NULL;

	if (probe_plugin(h, c, pc, errs) < 0)
		return NULL;
	if ((path = plugin_path(c, pc->file)) == NULL) {
		diag_add(errs, "out of memory");
		return NULL;
	}
	mod = loader_open(path, h->scratch_dir, &error_text);
	free(path);
	if (mod == NULL) {
		diag_add(errs, "%s:%d: plugin '%s': %s", c->path, pc->line, pc->name,
		         error_text ? error_text : "cannot load");
		free(error_text);
		return NULL;
	}
	/* The instance takes its own reference; ours goes either way. */
	in = instance_create_from(&h->core, c, pc, mod, NULL, 0, errs);
	loader_close(mod);
	return in;
}

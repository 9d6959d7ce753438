/* loader.c -- opens a plugin file and checks its descriptor before any of
 * the plugin's functions is called. Each load gets its own copy of the
 * file, because dlopen() hands back the object it already has for a path,
 * and a reload must run the build that is on disk now. */
#include "config.h"
#include "host.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long load_counter;
/* Prefixes the names of private copies: a probe process (probe.c) uses its
 * own, so its copies never collide with the daemon's. */
const char *loader_tag = "";

/* The most a plugin file may weigh: anything larger is a mistake (or
 * /dev/zero), and copying it would fill the disk. */
#define PLUGIN_FILE_MAX (64u << 20)

/* Opens the operator's file as a regular file of sane size, or says what
 * it is instead. O_NONBLOCK: opening a FIFO must not wait for a writer. */
static int open_plugin_file(const char *path, struct stat *st, char **error_text)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		*error_text = str_printf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		*error_text = str_printf("%s: cannot open: %s", path, strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		*error_text = str_printf("%s: is %s, not a plugin file: refused", path,
		                         file_kind(st->st_mode));
	} else if ((uint64_t)st->st_size > PLUGIN_FILE_MAX) {
		*error_text = str_printf("%s: is %lld bytes, more than the %u MiB a plugin file may be: "
		                         "refused", path, (long long)st->st_size, PLUGIN_FILE_MAX >> 20);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* Copies what was opened (not the path again: it may have been swapped
 * meanwhile), never more than the limit even if the file grows. */
static int copy_fd(int in, const char *from, const char *to, char **error_text)
{
	char buf[65536];
	uint64_t total = 0;
	int out;
	ssize_t n;

	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700)) < 0) {
		*error_text = str_printf("%s: cannot copy to %s: %s", from, to, strerror(errno));
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > PLUGIN_FILE_MAX || write(out, buf, (size_t)n) != n) {
			*error_text = total > PLUGIN_FILE_MAX ?
			              str_printf("%s: grew past %u MiB while being read: refused", from,
			                         PLUGIN_FILE_MAX >> 20) :
			              str_printf("%s: cannot copy: %s", from, strerror(errno));
			close(out);
			unlink(to);
			return -1;
		}
	}
	if (n < 0 || close(out) < 0) {
		*error_text = str_printf("%s: cannot read: %s", from, strerror(errno));
		unlink(to);
		return -1;
	}
	return 0;
}

/* The rule: same major; the plugin's minor no newer than ours; a
 * descriptor at least as large as ABI 1.0's; names that fit the frame. */
int loader_check(const struct mp2p_plugin *d, const char *file, char **error_text)
{
	if (d->magic != MP2P_PLUGIN_MAGIC) {
		*error_text = str_printf("%s: %s is not a MaybeP2P plugin descriptor (bad magic 0x%08x)",
		                         file, MP2P_PLUGIN_SYMBOL, d->magic);
		return -1;
	}
	if (d->abi_major != MP2P_ABI_MAJOR || d->abi_minor > MP2P_ABI_MINOR) {
		*error_text = str_printf("%s: built for ABI %u.%u, this host speaks %d.%d", file,
		                         d->abi_major, d->abi_minor, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
		return -1;
	}
	if (d->size < offsetof(struct mp2p_plugin, control) + sizeof(d->control)) {
		*error_text = str_printf("%s: descriptor of %u bytes is smaller than ABI 1.0's", file, d->size);
		return -1;
	}
	/* Reserved for later minors: a bit set now would mean something to a
	 * later host, and this one cannot honour it. */
	if (d->flags != 0) {
		*error_text = str_printf("%s: descriptor flags 0x%x are reserved and must be 0 "
		                         "(ABI %d.%d)", file, d->flags, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
		return -1;
	}
	if (d->name == NULL || d->name[0] == '\0' || d->version == NULL) {
		*error_text = str_printf("%s: descriptor has no name or version", file);
		return -1;
	}
	if (d->init == NULL || d->destroy == NULL) {
		*error_text = str_printf("%s: plugin '%s' has no init or destroy", file, d->name);
		return -1;
	}
	if (d->protocols == NULL || d->protocols[0] == NULL) {
		*error_text = str_printf("%s: plugin '%s' names no protocol", file, d->name);
		return -1;
	}
	for (int i = 0; d->protocols[i] != NULL; i++) {
		if (i >= 32 || !frame_protocol_valid(d->protocols[i])) {
			*error_text = str_printf("%s: plugin '%s': protocol name #%d is not 1-12 printable "
			                         "ASCII characters", file, d->name, i + 1);
			return -1;
		}
	}
	return 0;
}

/* A plugin of another major exports another symbol: find it, to say which. */
static void name_other_major(void *dl, const char *file, char **error_text)
{
	char sym[32];

	for (int major = 0; major < 10; major++) {
		const struct mp2p_plugin *d;
		snprintf(sym, sizeof(sym), "mp2p_plugin_v%d", major);
		if (major == MP2P_ABI_MAJOR || (d = dlsym(dl, sym)) == NULL)
			continue;
		if (d->magic == MP2P_PLUGIN_MAGIC) {
			*error_text = str_printf("%s: built for ABI %u.%u, this host speaks %d.%d", file,
			                         d->abi_major, d->abi_minor, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
			return;
		}
	}
	*error_text = str_printf("%s: no symbol %s: not a MaybeP2P ABI %d plugin", file,
	                         MP2P_PLUGIN_SYMBOL, MP2P_ABI_MAJOR);
}

struct module *loader_open(const char *path, const char *scratch_dir, char **error_text)
{
	const struct mp2p_plugin *d;
	struct module *m = calloc(1, sizeof(*m));
	const char *base = strrchr(path, '/');
	int fd, rc;

	if (m == NULL)
		return NULL;
	m->path = strdup(path);
	if ((fd = open_plugin_file(path, &m->st, error_text)) < 0)
		goto fail;
	m->private_path = str_printf("%s/%s%lu-%s", scratch_dir, loader_tag, ++load_counter,
	                             base ? base + 1 : path);
	rc = copy_fd(fd, path, m->private_path, error_text);
	close(fd);
	if (rc < 0) {
		free(m->private_path);   /* not ours: loader_close must not unlink it */
		m->private_path = NULL;
		goto fail;
	}
	if ((m->dl = dlopen(m->private_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		/* dlerror() names our private copy; name the operator's file. */
		const char *e = dlerror();
		const char *tail = e ? strstr(e, ": ") : NULL;
		*error_text = str_printf("%s: cannot load: %s", path, tail ? tail + 2 : e ? e : "?");
		goto fail;
	}
	if ((d = dlsym(m->dl, MP2P_PLUGIN_SYMBOL)) == NULL) {
		name_other_major(m->dl, path, error_text);
		goto fail;
	}
	/* Read the fixed leading members first: only a checked descriptor's
	 * size says how much of it there is to copy. */
	if (d->magic != MP2P_PLUGIN_MAGIC || d->abi_major != MP2P_ABI_MAJOR ||
	    d->abi_minor > MP2P_ABI_MINOR) {
		struct mp2p_plugin head;
		memset(&head, 0, sizeof(head));
		memcpy(&head, d, offsetof(struct mp2p_plugin, name));
		loader_check(&head, path, error_text);
		goto fail;
	}
	memset(&m->desc, 0, sizeof(m->desc));
	memcpy(&m->desc, d, d->size < sizeof(m->desc) ? d->size : sizeof(m->desc));
	if (loader_check(&m->desc, path, error_text) < 0)
		goto fail;
	m->refs = 1;
	return m;
fail:
	loader_close(m);
	return NULL;
}

void loader_close(struct module *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	if (m->dl != NULL)
		dlclose(m->dl);
	if (m->private_path != NULL)
		unlink(m->private_path);
	free(m->private_path);
	free(m->path);
	free(m);
}

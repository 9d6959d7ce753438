/* safefile.c -- files in state_dir, written so that nothing planted there
 * can redirect a write: every temporary is a new file made with O_EXCL
 * under a random name (a symlink in its place makes the create fail, it is
 * never followed), synced, then renamed over the real name, which replaces
 * whatever entry was there without following it. Reads refuse symlinks
 * and anything but a regular file. And one daemon per state_dir. */
#include "config.h"
#include "host.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int safefile_write(const char *dir, const char *name, const void *data, size_t len,
                   char **error_text)
{
	return safefile_write2(dir, name, data, len, NULL, 0, error_text);
}

/* The file's contents in two parts (a header and a body, say), so the
 * caller need not join them. */
int safefile_write2(const char *dir, const char *name, const void *head, size_t head_len,
                    const void *data, size_t len, char **error_text)
{
	char *path = str_printf("%s/%s", dir, name);
	char *tmp = str_printf("%s/.%s.XXXXXX", dir, name);
	int fd = -1, rc = -1;

	if (path == NULL || tmp == NULL) {
		*error_text = str_printf("out of memory writing %s/%s", dir, name);
		goto out;
	}
	/* mkstemp opens with O_CREAT | O_EXCL and mode 0600. */
	if ((fd = mkstemp(tmp)) < 0) {
		*error_text = str_printf("cannot create a temporary file in %s: %s", dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fd_write_all(fd, head, head_len) < 0 || fd_write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		*error_text = str_printf("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0 || (fd = -1, rename(tmp, path) < 0)) {
		*error_text = str_printf("cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* The rename is durable only once the directory is synced too. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		fsync(fd);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

/* Returns 1 and the contents (malloc'd, NUL-terminated beyond len), 0 if
 * there is no such file, -1 with error_text if it is not a regular file of
 * at most `max` bytes or cannot be read. */
int safefile_read(const char *path, size_t max, void **data, size_t *len, char **error_text)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_text = str_printf("%s: cannot open: %s%s", path, strerror(errno),
		                         errno == ELOOP ? " (a symlink: refused)" : "");
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		*error_text = S_ISREG(st.st_mode) ?
		              str_printf("%s: %lld bytes, more than the %zu it may have", path,
		                         (long long)st.st_size, max) :
		              str_printf("%s: %s, not a regular file: refused", path, file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 1;
}

/* What a file is, for a message: "a FIFO", "a directory", ... */
const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symlink";
	return "not a regular file";
}

/* state_dir is created if need be, must belong to this user and be
 * writable by nobody else (anyone who can write there can plant files the
 * host would trust), and is locked for this daemon alone: a second one on
 * the same directory would delete the first one's plugin copies. The lock
 * lives as long as the process (h->state_lock), so a killed daemon's lock
 * is gone with it. */
int state_dir_claim(struct host *h, struct diag *errs)
{
	const char *dir = h->cfg.state_dir;
	char *error_text = NULL, *lock = NULL, pid[32];
	struct stat st;
	int dfd = -1, fd = -1;

	h->state_lock = -1;
	if (state_mkdirs(dir, &error_text) < 0) {
		diag_add(errs, "%s: host.state_dir: %s", h->cfg.path, error_text ? error_text : "?");
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(dfd, &st) < 0) {
		diag_add(errs, "%s: host.state_dir %s: %s", h->cfg.path, dir, strerror(errno));
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		diag_add(errs, "%s: host.state_dir %s belongs to uid %u, not to this daemon's uid %u: "
		         "refused (chown it, or choose another)", h->cfg.path, dir,
		         (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_add(errs, "%s: host.state_dir %s is writable by %s (mode %04o): refused, since "
		         "anyone who can write there can plant files (chmod go-w it)", h->cfg.path, dir,
		         (st.st_mode & S_IWOTH) ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	lock = str_printf("%s/.lock", dir);
	if (lock == NULL ||
	    (fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		diag_add(errs, "%s: cannot open the lock %s: %s", h->cfg.path, lock ? lock : dir,
		         strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = errno == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\r\n")] = '\0';
		diag_add(errs, "%s: host.state_dir %s is in use by another maybep2pd (pid %s): one "
		         "daemon per state_dir", h->cfg.path, dir, pid[0] ? pid : "unknown");
		goto fail;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_msg(HLOG_WARN, "%s: cannot write this daemon's pid: %s", lock, strerror(errno));
	h->state_lock = fd;
	close(dfd);
	free(lock);
	return 0;
fail:
	free(error_text);
	free(lock);
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	return -1;
}

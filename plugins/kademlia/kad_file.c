/* kad_file.c -- the node_id and routes files in the instance's state
 * directory, written so that nothing planted there redirects a write: a
 * new temporary made with O_EXCL under a random name (a symlink in its
 * place fails the create instead of being followed), synced, renamed over
 * the real name. Reads refuse symlinks and anything but a regular file. */
#include "kad_glue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kad_file_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096], tmp[4096];
	const char *p = data;
	size_t left = len;
	int fd, dfd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(tmp))
		return -1;
	if ((fd = mkstemp(tmp)) < 0)      /* O_CREAT | O_EXCL, mode 0600 */
		return -1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	if (left != 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		if (left != 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int kad_file_read(const char *dir, const char *name, size_t max, uint8_t **data, size_t *len)
{
	char path[4096];
	struct stat st;
	size_t got = 0;
	uint8_t *buf;
	int fd;

	*data = NULL;
	*len = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > max || (buf = malloc((size_t)st.st_size + 1)) == NULL) {
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
	buf[got] = 0;
	*data = buf;
	*len = got;
	return 1;
}

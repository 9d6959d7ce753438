/* state.c -- plugin state on disk: written whole to a temporary file,
 * synced and renamed, so a kill at any moment leaves the old file or the
 * new one, never a torn one; checked on reading, and moved aside if bad. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC "MP2PSTAT"
#define STATE_FILE_VERSION 1
#define STATE_HEADER 32
#define STATE_MAX (256u << 20)

uint32_t crc32_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int state_mkdirs(const char *path, char **error_text)
{
	char *p = strdup(path), *s;

	if (p == NULL)
		return -1;
	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				*error_text = str_printf("cannot create directory %s: %s", p, strerror(errno));
				free(p);
				return -1;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return 0;
}

int state_write(const char *dir, const char *name, uint32_t format,
                const void *data, size_t len, char **error_text)
{
	unsigned char hdr[STATE_HEADER];
	char *file = str_printf("%s.state", name);
	int rc;

	if (file == NULL || state_mkdirs(dir, error_text) < 0) {
		free(file);
		return -1;
	}
	memcpy(hdr, STATE_MAGIC, 8);
	put32(hdr + 8, STATE_FILE_VERSION);
	put32(hdr + 12, format);
	put32(hdr + 16, (uint32_t)((uint64_t)len >> 32));
	put32(hdr + 20, (uint32_t)len);
	put32(hdr + 24, crc32_bytes(data, len));
	put32(hdr + 28, 0);
	/* A fresh temporary, synced and renamed: see safefile.c. */
	rc = safefile_write2(dir, file, hdr, sizeof(hdr), data, len, error_text);
	free(file);
	return rc;
}

static void move_aside(const char *path, char **error_text, const char *why)
{
	char *aside = str_printf("%s.corrupt-%ld", path, (long)time(NULL));

	if (aside != NULL && rename(path, aside) == 0)
		*error_text = str_printf("%s: %s; moved aside to %s", path, why, aside);
	else
		*error_text = str_printf("%s: %s", path, why);
	free(aside);
}

/* 1 with the data, 0 when there is no state, -1 when there was a file
 * that cannot be trusted (moved aside, and error_text says why). */
int state_read(const char *dir, const char *name, uint32_t *format,
               void **data, size_t *len, char **error_text)
{
	char *path = str_printf("%s/%s.state", dir, name);
	unsigned char hdr[STATE_HEADER];
	unsigned char *buf = NULL;
	uint64_t length;
	struct stat st;
	FILE *f;
	int fd, rc = -1;

	*data = NULL;
	*len = 0;
	if (path == NULL)
		return -1;
	/* Not through a symlink, and never a FIFO that would hang the read. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || (f = fdopen(fd, "rb")) == NULL) {
		rc = errno == ENOENT ? 0 : -1;
		if (rc < 0)
			*error_text = str_printf("%s: cannot read: %s%s", path, strerror(errno),
			                         errno == ELOOP ? " (a symlink: refused)" : "");
		if (fd >= 0)
			close(fd);
		free(path);
		return rc;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_text = str_printf("%s: %s, not a state file: refused", path, file_kind(st.st_mode));
		goto out;
	}
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    memcmp(hdr, STATE_MAGIC, 8) != 0 || get32(hdr + 8) != STATE_FILE_VERSION) {
		move_aside(path, error_text, "not a state file of this host");
		goto out;
	}
	length = (uint64_t)get32(hdr + 16) << 32 | get32(hdr + 20);
	if (length > STATE_MAX || (uint64_t)st.st_size != STATE_HEADER + length) {
		move_aside(path, error_text, "truncated or oversized");
		goto out;
	}
	if ((buf = malloc(length ? length : 1)) == NULL || fread(buf, 1, length, f) != length) {
		move_aside(path, error_text, "cannot read its contents");
		goto out;
	}
	if (crc32_bytes(buf, length) != get32(hdr + 24)) {
		move_aside(path, error_text, "checksum mismatch");
		goto out;
	}
	*format = get32(hdr + 12);
	*data = buf;
	*len = (size_t)length;
	buf = NULL;
	rc = 1;
out:
	fclose(f);
	free(buf);
	free(path);
	return rc;
}

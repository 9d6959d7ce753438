/* fdio.h -- a whole buffer written to a file descriptor. Its own file
 * because two programs use it: the host library (safefile.c) and
 * maybep2pctl, which links nothing else of the host. */
#ifndef MP2P_FDIO_H
#define MP2P_FDIO_H

#include <stddef.h>

/* Writes all `len` bytes of `data` to `fd`, retrying short writes and
 * EINTR. 0 on success; -1 with errno set by write(), or 0 when write()
 * wrote nothing, once nothing more can be written. */
int fd_write_all(int fd, const void *data, size_t len);

#endif

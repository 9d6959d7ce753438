/* rawxfer.c -- the baseline of the transfer benchmark: one file over one
 * plain TCP connection on loopback, between two processes, with the same
 * work the transfer plugin does and nothing else: the sender reads the
 * file a chunk at a time and hashes it with SHA-256, the receiver hashes
 * what arrives and writes it to a file, then checks the sender's hash.
 *
 *   rawxfer FILE OUT [CHUNK]
 *
 * prints "bytes SECONDS MB_PER_S" on success, from the first byte sent to
 * the receiver's verdict, and exits 1 on a mismatch or an error.
 */
#include <openssl/evp.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Receives size, the bytes, the sender's hash; answers one status byte. */
static int receive(int lfd, const char *out, size_t chunk)
{
	uint8_t *buf = malloc(chunk), mine[32], theirs[32], status;
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	unsigned int hl = 0;
	uint64_t size, left;
	int s, fd;

	if ((s = accept(lfd, NULL, NULL)) < 0 || buf == NULL || sha == NULL ||
	    (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    read_all(s, &size, sizeof(size)) < 0)
		return 1;
	EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	for (left = size; left > 0;) {
		ssize_t r = read(s, buf, left < chunk ? (size_t)left : chunk);
		if (r <= 0 || write_all(fd, buf, (size_t)r) < 0)
			return 1;
		EVP_DigestUpdate(sha, buf, (size_t)r);
		left -= (uint64_t)r;
	}
	EVP_DigestFinal_ex(sha, mine, &hl);
	if (read_all(s, theirs, sizeof(theirs)) < 0)
		return 1;
	status = memcmp(mine, theirs, 32) == 0 ? 0 : 1;
	write_all(s, &status, 1);
	close(fd);
	close(s);
	EVP_MD_CTX_free(sha);
	free(buf);
	return status;
}

static int send_file(int port, const char *file, size_t chunk, uint64_t *bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t *buf = malloc(chunk), hash[32], status = 1;
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	unsigned int hl = 0;
	struct stat st;
	uint64_t size;
	int s, fd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (buf == NULL || sha == NULL || (fd = open(file, O_RDONLY)) < 0 || fstat(fd, &st) < 0 ||
	    (s = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	/* The host sets TCP_NODELAY on every connection: so does the baseline. */
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	size = (uint64_t)st.st_size;
	EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	if (write_all(s, &size, sizeof(size)) < 0)
		return -1;
	for (uint64_t off = 0; off < size;) {
		ssize_t r = pread(fd, buf, chunk, (off_t)off);
		if (r <= 0)
			return -1;
		EVP_DigestUpdate(sha, buf, (size_t)r);
		if (write_all(s, buf, (size_t)r) < 0)
			return -1;
		off += (uint64_t)r;
	}
	EVP_DigestFinal_ex(sha, hash, &hl);
	if (write_all(s, hash, sizeof(hash)) < 0 || read_all(s, &status, 1) < 0)
		return -1;
	*bytes = size;
	close(s);
	close(fd);
	EVP_MD_CTX_free(sha);
	free(buf);
	return status == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	size_t chunk = argc > 3 ? (size_t)atol(argv[3]) : 256 * 1024;
	uint64_t bytes = 0;
	double t0, t1;
	int lfd, status;
	pid_t pid;

	if (argc < 3 || chunk == 0) {
		fprintf(stderr, "usage: rawxfer FILE OUT [CHUNK]\n");
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("listen");
		return 1;
	}
	if ((pid = fork()) == 0)
		_exit(receive(lfd, argv[2], chunk));
	close(lfd);
	t0 = now();
	if (send_file(ntohs(sa.sin_port), argv[1], chunk, &bytes) < 0) {
		fprintf(stderr, "rawxfer: transfer failed\n");
		waitpid(pid, NULL, 0);
		return 1;
	}
	t1 = now();
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "rawxfer: the receiver failed\n");
		return 1;
	}
	printf("%llu %.6f %.1f\n", (unsigned long long)bytes, t1 - t0, (double)bytes / 1e6 / (t1 - t0));
	return 0;
}

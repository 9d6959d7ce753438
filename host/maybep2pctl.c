/* maybep2pctl.c -- drives a running maybep2pd over its control socket. */
#include "config.h"
#include "fdio.h"

#include <errno.h>
#include <libconfig.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONFIG SYSCONFDIR "/maybep2p/maybep2p.conf"
#define DEFAULT_SOCKET RUNSTATEDIR "/maybep2p/control.sock"
#define DEFAULT_TIMEOUT 30.0
/* RuntimeDirectory=maybep2p of etc/maybep2p.service: always under /run. */
#define UNIT_SOCKET "/run/maybep2p/control.sock"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: maybep2pctl [-c CONFIG | -s SOCKET] [-T SECONDS] [--json] COMMAND [ARG...]\n"
	        "  -T SECONDS  give up on an answer that takes longer (default 30)\n"
	        "host commands: status, plugins, connections, stats, reload, stop\n"
	        "plugin commands: maybep2pctl NAME COMMAND [ARG...] (NAME: a plugin instance)\n");
}

/* The socket of a config that names none, found as the daemon chose it:
 * in systemd's RuntimeDirectory= when run by the unit (ExecReload), else
 * configure's default; an operator's shell has no RUNTIME_DIRECTORY, so
 * the shipped unit's directory is tried when the default is absent. */
static char *default_socket(void)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	struct stat st;
	char *out;
	size_t n;

	if (rd != NULL && rd[0] == '/' && (n = strcspn(rd, ":")) > 0) {
		if ((out = malloc(n + sizeof("/control.sock"))) != NULL) {
			memcpy(out, rd, n);
			memcpy(out + n, "/control.sock", sizeof("/control.sock"));
		}
		return out;
	}
	if (stat(DEFAULT_SOCKET, &st) < 0 && stat(UNIT_SOCKET, &st) == 0)
		return strdup(UNIT_SOCKET);
	return strdup(DEFAULT_SOCKET);
}

/* The socket the config names, as the daemon would read it. */
static char *socket_from_config(const char *path)
{
	config_t c;
	const char *s = NULL;
	char *out = NULL;

	config_init(&c);
	if (config_read_file(&c, path) != CONFIG_TRUE) {
		fprintf(stderr, "maybep2pctl: %s:%d: %s\n",
		        config_error_file(&c) ? config_error_file(&c) : path, config_error_line(&c),
		        config_error_text(&c));
		config_destroy(&c);
		return NULL;
	}
	if (config_lookup_string(&c, "host.control", &s) == CONFIG_TRUE)
		out = strdup(s);
	else
		out = default_socket();
	config_destroy(&c);
	return out;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A plugin may defer its answer (a DHT lookup, say) and never send it:
 * waits for readable data until the deadline. 1 ready, 0 timed out, -1 error. */
static int wait_readable(int fd, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		double left = deadline - monotonic_now();
		int rc;
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 3600.0 ? 3600000 : (int)(left * 1000.0) + 1);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int parse_seconds(const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v > 0.0) || v > 86400.0 * 365)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *sock = NULL;
	char *sock_path = NULL, *req = NULL, buf[65536], status = 0;
	struct sockaddr_un sun;
	size_t reqlen = 0, off;
	int json = 0, i, fd, first = 1, ready;
	double timeout = DEFAULT_TIMEOUT, deadline;
	ssize_t n;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			sock = argv[++i];
		} else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc) {
			if (parse_seconds(argv[++i], &timeout) < 0) {
				fprintf(stderr, "maybep2pctl: -T wants a number of seconds above 0, "
				        "at most a year (got '%s')\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc || (config && sock)) {
		usage(stderr);
		return 2;
	}
	if (sock != NULL)
		sock_path = strdup(sock);
	else if ((sock_path = socket_from_config(config ? config : DEFAULT_CONFIG)) == NULL)
		return 1;
	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "maybep2pctl: socket path too long: %s\n", sock_path);
		free(sock_path);
		return 2;
	}

	/* The request: a big-endian length, then NUL-terminated strings. */
	reqlen = strlen(json ? "json" : "text") + 1;
	for (int k = i; k < argc; k++)
		reqlen += strlen(argv[k]) + 1;
	if (reqlen > 65536 || (req = malloc(4 + reqlen)) == NULL) {
		fprintf(stderr, "maybep2pctl: command too long\n");
		free(sock_path);
		return 2;
	}
	req[0] = (char)(reqlen >> 24);
	req[1] = (char)(reqlen >> 16);
	req[2] = (char)(reqlen >> 8);
	req[3] = (char)reqlen;
	off = 4;
	memcpy(req + off, json ? "json" : "text", strlen(json ? "json" : "text") + 1);
	off += strlen(req + off) + 1;
	for (int k = i; k < argc; k++) {
		memcpy(req + off, argv[k], strlen(argv[k]) + 1);
		off += strlen(argv[k]) + 1;
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "maybep2pctl: no maybep2pd is listening on %s (%s)\n", sock_path,
		        strerror(errno));
		free(req);
		free(sock_path);
		return 1;
	}
	if (fd_write_all(fd, req, off) < 0) {
		fprintf(stderr, "maybep2pctl: cannot send to %s: %s\n", sock_path, strerror(errno));
		free(req);
		free(sock_path);
		close(fd);
		return 1;
	}
	free(req);
	deadline = monotonic_now() + timeout;
	while ((ready = wait_readable(fd, deadline)) > 0) {
		char *p = buf;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (first) {
			status = buf[0];
			p++;
			n--;
			first = 0;
		}
		fwrite(p, 1, (size_t)n, status == '0' ? stdout : stderr);
	}
	close(fd);
	if (ready == 0) {
		fprintf(stderr, "maybep2pctl: '");
		for (int k = i; k < argc; k++)
			fprintf(stderr, "%s%s", k > i ? " " : "", argv[k]);
		fprintf(stderr, "': no %sanswer from maybep2pd on %s within %g s (-T sets the "
		        "limit); the command may still complete there\n", first ? "" : "complete ",
		        sock_path, timeout);
		free(sock_path);
		return 1;
	}
	if (ready < 0) {
		fprintf(stderr, "maybep2pctl: waiting for the answer on %s: %s\n", sock_path,
		        strerror(errno));
		free(sock_path);
		return 1;
	}
	free(sock_path);
	if (first) {
		fprintf(stderr, "maybep2pctl: the daemon closed the connection without answering\n");
		return 1;
	}
	return status == '0' ? 0 : status == '2' ? 2 : 1;
}

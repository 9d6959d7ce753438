/* listener.c -- the listening sockets: bound from the config, or handed
 * over by systemd's socket activation so a restart refuses nobody. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct host *h = arg;

	(void)l;
	if (!conn_admit(h, sa)) {
		evutil_closesocket(fd);
		return;
	}
	/* In mode "mixed" the first bytes tell a TLS peer from a plaintext one. */
	switch (h->cfg.security_mode) {
	case SEC_PLAIN: conn_accept(h, fd, sa, salen, 0); break;
	case SEC_TLS: conn_accept(h, fd, sa, salen, 1); break;
	default: sniff_start(h, fd, sa, salen); break;
	}
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	(void)arg;
	/* Out of descriptors, most likely: say so and keep listening; the
	 * next accept succeeds once a connection closes. */
	log_msg(HLOG_WARN, "accept failed: %s", strerror(err));
}

static int add_listener(struct host *h, struct evconnlistener *l, const char *name)
{
	struct evconnlistener **ls = realloc(h->listeners, sizeof(*ls) * (size_t)(h->nlisteners + 1));
	char **names = realloc(h->listen_names, sizeof(*names) * (size_t)(h->nlisteners + 1));

	if (ls != NULL)
		h->listeners = ls;
	if (names != NULL)
		h->listen_names = names;
	if (ls == NULL || names == NULL)
		return -1;
	evconnlistener_set_error_cb(l, on_accept_error);
	h->listeners[h->nlisteners] = l;
	h->listen_names[h->nlisteners++] = strdup(name);
	return 0;
}

/* systemd passes listening sockets as descriptors 3, 4, ... when
 * LISTEN_PID names this process. */
static int from_systemd(struct host *h, struct diag *errs)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int n;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(fds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char name[64];
		int fd = 3 + i;
		struct evconnlistener *l;

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
			diag_add(errs, "LISTEN_FDS: descriptor %d is not a socket: %s", fd, strerror(errno));
			return -1;
		}
		addr_format((struct sockaddr *)&ss, name, sizeof(name));
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		l = evconnlistener_new(h->base, on_accept, h, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (l == NULL || add_listener(h, l, name) < 0) {
			diag_add(errs, "LISTEN_FDS: cannot listen on descriptor %d", fd);
			return -1;
		}
		log_msg(HLOG_INFO, "listening on %s (from systemd)", name);
	}
	return n;
}

int listeners_open(struct host *h, struct diag *errs)
{
	int n = from_systemd(h, errs);

	if (n < 0)
		return -1;
	if (n > 0)
		return 0;
	for (int i = 0; i < h->cfg.nlisten; i++) {
		struct sockaddr_storage ss;
		struct evconnlistener *l;
		char name[64];
		int len;

		addr_parse_listen(h->cfg.listen[i], &ss, &len);
		l = evconnlistener_new_bind(h->base, on_accept, h,
		                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		                            1024, (struct sockaddr *)&ss, len);
		if (l == NULL) {
			diag_add(errs, "%s: cannot listen on %s: %s", h->cfg.path, h->cfg.listen[i],
			         strerror(errno));
			return -1;
		}
		/* Port 0 asks the kernel for one: name the port we got. */
		len = sizeof(ss);
		getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, (socklen_t *)&len);
		addr_format((struct sockaddr *)&ss, name, sizeof(name));
		if (add_listener(h, l, name) < 0) {
			evconnlistener_free(l);
			diag_add(errs, "out of memory");
			return -1;
		}
		log_msg(HLOG_INFO, "listening on %s", name);
	}
	return 0;
}

void listeners_close(struct host *h)
{
	for (int i = 0; i < h->nlisteners; i++) {
		evconnlistener_free(h->listeners[i]);
		free(h->listen_names[i]);
	}
	free(h->listeners);
	free(h->listen_names);
	h->listeners = NULL;
	h->listen_names = NULL;
	h->nlisteners = 0;
}

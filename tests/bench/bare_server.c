/* bare_server.c -- the benchmark's baseline: a plain libevent server that
 * answers echo PING frames with PONG and has no plugin layer at all.
 *
 * It speaks the host's frame format (12-byte protocol name, 4-byte type,
 * 4-byte big-endian length, payload) and does the least a correct server
 * must: check the length against a maximum before buffering, drop a peer
 * whose unsent output grows past a bound, and close on a bad frame. What
 * it leaves out (plugin dispatch, per-connection ids, timeouts, counters)
 * is what the host adds, so the ratio of the two is the cost of the host.
 *
 * With -T it speaks TLS 1.3 through bufferevent_openssl, with an Ed25519
 * key made at start and the host's suites and settings (bench_tls.c):
 * the ceiling for the host's TLS figures. Like the host it asks every
 * client for its key and admits any Ed25519 one; unlike the host it keeps
 * OpenSSL's and libevent's buffering defaults, which is the fastest a
 * plain libevent + OpenSSL server runs.
 *
 * Usage: bare_server [-a ADDR] [-p PORT] [-T]
 * Prints "port N" on stdout once it listens; SIGTERM or SIGINT stop it.
 */
#include "bench_tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BARE_HEADER 20
#define BARE_MAX_FRAME (1024u * 1024u)       /* same as the host's default */
#define BARE_MAX_OUTPUT (4u * 1024u * 1024u)

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void conn_close(struct bufferevent *bev)
{
	bufferevent_free(bev);
}

/* Answers every complete frame in the input. Returns -1 if the peer sent
 * something no correct peer sends, or stopped reading our answers. */
static int answer_frames(struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	unsigned char head[BARE_HEADER];

	while (evbuffer_get_length(in) >= BARE_HEADER) {
		uint32_t length;

		if (evbuffer_copyout(in, head, BARE_HEADER) != BARE_HEADER)
			return -1;
		length = get_be32(head + 16);
		if (length > BARE_MAX_FRAME)
			return -1;
		if (evbuffer_get_length(in) < BARE_HEADER + (size_t)length)
			break;
		evbuffer_drain(in, BARE_HEADER);
		/* Only echo/PING gets an answer; anything else is skipped, as a
		 * host with only the echo plugin would. */
		if (memcmp(head, "echo\0\0\0\0\0\0\0\0", 12) == 0 &&
		    memcmp(head + 12, "PING", 4) == 0) {
			memcpy(head + 12, "PONG", 4);
			if (evbuffer_add(out, head, BARE_HEADER) < 0 ||
			    evbuffer_remove_buffer(in, out, length) != (int)length)
				return -1;
		} else {
			evbuffer_drain(in, length);
		}
		if (evbuffer_get_length(out) > BARE_MAX_OUTPUT)
			return -1;
	}
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (answer_frames(bev) < 0)
		conn_close(bev);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(bev);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd,
                      struct sockaddr *addr, int addrlen, void *arg)
{
	struct event_base *base = evconnlistener_get_base(listener);
	SSL_CTX *tls = arg;                /* NULL: plaintext */
	struct bufferevent *bev;
	SSL *ssl = NULL;
	int one = 1;

	(void)addr;
	(void)addrlen;
	/* Frames are small and answered at once: Nagle would only add delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls != NULL && (ssl = SSL_new(tls)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	/* With CLOSE_ON_FREE the bufferevent frees the SSL as well. */
	bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                           BEV_OPT_CLOSE_ON_FREE)
	          : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	if (bufferevent_enable(bev, EV_READ) < 0)
		bufferevent_free(bev);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int listen_port(struct evconnlistener *listener)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len) < 0)
		return -1;
	return ntohs(sin.sin_port);
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	int port = 0, opt, status = 1;
	struct sockaddr_in sin;
	SSL_CTX *tls = NULL;
	char err[256];
	struct event_base *base;
	struct evconnlistener *listener = NULL;
	struct event *sigterm = NULL, *sigint = NULL;

	while ((opt = getopt(argc, argv, "a:p:T")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'T':
			if (tls == NULL && (tls = bench_tls_ctx_new(BENCH_TLS_SERVER, err, sizeof(err))) == NULL) {
				fprintf(stderr, "bare_server: TLS: %s\n", err);
				return 1;
			}
			break;
		default:
			fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-T]\n", argv[0]);
			return 2;
		}
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (port < 0 || port > 65535 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "bare_server: bad address %s:%d\n", addr, port);
		SSL_CTX_free(tls);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (base == NULL) {
		SSL_CTX_free(tls);
		return 1;
	}
	listener = evconnlistener_new_bind(base, on_accept, tls,
	                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
	                                   (struct sockaddr *)&sin, sizeof(sin));
	if (listener == NULL) {
		perror("bare_server: listen");
		goto out;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0)
		goto out;
	printf("port %d\n", listen_port(listener));
	fflush(stdout);
	if (event_base_dispatch(base) < 0)
		goto out;
	status = 0;
out:
	/* Connections still open at exit are left to the process's exit: the
	 * benchmark stops us with its clients still connected. */
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (listener)
		evconnlistener_free(listener);
	event_base_free(base);
	SSL_CTX_free(tls);
	return status;
}

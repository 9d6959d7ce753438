/* loadgen.c -- drives an echo server over persistent TCP connections and
 * measures frames per second and per-frame round trips.
 *
 * Each of N connections keeps D PING frames in flight: every PONG that
 * comes back is answered at once with a new PING, so the server always has
 * work queued and the figure is its throughput, not our pacing. Each PING
 * carries the time it was sent, the connection's number, a sequence number
 * and a filler pattern; the PONG must bring all of them back unchanged and
 * in order, so a server that loses, reorders or corrupts frames fails the
 * run instead of producing a figure.
 *
 * One thread, level-triggered epoll: the load generator shares the machine
 * with the server it measures, so it spends as little as it can per frame.
 *
 * With -T every connection is TLS 1.3 with a key of its own, as a host
 * dialling another host (bench_tls.c). With -H (which implies -T) it
 * measures handshakes instead: each of the N connections is opened, goes
 * through a full handshake with mutual authentication, has one PING
 * answered and is closed, and a new one takes its place at once; the
 * figure is completed connections per second, and a round trip is the
 * whole of one, from connect() to its PONG. The PONG is what proves the
 * server finished its side: in TLS 1.3 the client is done before the
 * server has checked the client's key.
 *
 * Usage: loadgen -p PORT [-a ADDR] [-c CONNS] [-d DEPTH] [-s PAYLOAD]
 *                [-t SECONDS] [-w WARMUP] [-P PROTOCOL] [-T] [-H]
 * Prints one JSON line on stdout; exits 1 if any frame came back wrong.
 */
#include "bench_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#define LG_HEADER 20
#define LG_PROTO_LEN 12
#define LG_STAMP 16                 /* time, connection, sequence */
#define LG_READ_SIZE (64 * 1024)

struct lg_opts {
	const char *addr;
	int port;
	int conns;
	int depth;
	uint32_t payload;
	double seconds;
	double warmup;
	char protocol[LG_PROTO_LEN];
	int tls;                        /* -T: every connection is TLS 1.3 */
	int handshakes;                 /* -H: a new connection per PING */
};

/* Where a connection is in its life; throughput mode uses LG_OPEN alone. */
enum lg_state { LG_OPEN = 0, LG_CONNECTING, LG_HANDSHAKING };

struct lg_conn {
	int fd;
	SSL *ssl;                       /* NULL in plaintext */
	enum lg_state state;
	uint32_t events;                /* what epoll waits for now */
	uint64_t started;               /* -H: when connect() was called */
	uint32_t index;
	uint32_t tx_seq;                /* next PING to send */
	uint32_t rx_seq;                /* next PONG expected */
	unsigned char *in;              /* unparsed input, LG_READ_SIZE + one frame */
	size_t in_len;
	unsigned char *out;             /* unsent output, at most `depth` frames */
	size_t out_len;
	size_t out_cap;
};

struct lg_stats {
	uint64_t all_frames;            /* every correct PONG, warm-up included */
	uint64_t frames;                /* PONGs inside the measured window */
	uint64_t errors;
	uint32_t *rtt_ns;               /* one sample per measured frame */
	size_t n_rtt;
	size_t cap_rtt;
};

static struct lg_opts opts;
static struct lg_stats stats;
static int epfd = -1;
static SSL_CTX *tls_ctx;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A TLS call failed: OpenSSL's reason if it has one (a server that
 * refused our key says so in an alert), errno's otherwise. */
static void tls_die(const struct lg_conn *c, const char *what)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		die(what);
	fprintf(stderr, "loadgen: connection %u: %s: %s\n", c->index, what,
	        ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error");
	exit(1);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The filler of frame `seq` is the pattern read from offset seq % 256: it
 * differs from frame to frame, so a frame answered with another frame's
 * bytes is caught, and it is copied and compared with memcpy and memcmp,
 * so large payloads do not make the load generator the bottleneck. */
static unsigned char *pattern;

static void pattern_init(void)
{
	size_t i, n = 256 + opts.payload;

	pattern = malloc(n);
	if (pattern == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	for (i = 0; i < n; i++)
		pattern[i] = (unsigned char)(i * 31u + (i >> 8));
}

static const unsigned char *filler(uint32_t seq)
{
	return pattern + (seq & 255u) + LG_STAMP;
}

static void record_rtt(uint64_t ns)
{
	if (stats.n_rtt == stats.cap_rtt) {
		size_t cap = stats.cap_rtt ? stats.cap_rtt * 2 : 1u << 20;
		uint32_t *p = realloc(stats.rtt_ns, cap * sizeof(*p));

		if (p == NULL)
			die("realloc");
		stats.rtt_ns = p;
		stats.cap_rtt = cap;
	}
	stats.rtt_ns[stats.n_rtt++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Appends one PING to the connection's output. */
static void queue_ping(struct lg_conn *c, uint64_t now)
{
	unsigned char *f = c->out + c->out_len;
	unsigned char *p = f + LG_HEADER;

	/* One PING per PONG keeps `depth` in flight; more frames back than
	 * were sent would overflow the buffer, and means a broken server. */
	if (c->out_len + LG_HEADER + opts.payload > c->out_cap) {
		fprintf(stderr, "loadgen: connection %u: more answers than requests\n", c->index);
		exit(1);
	}
	memcpy(f, opts.protocol, LG_PROTO_LEN);
	memcpy(f + 12, "PING", 4);
	put_be32(f + 16, opts.payload);
	memcpy(p, &now, 8);
	memcpy(p + 8, &c->index, 4);
	memcpy(p + 12, &c->tx_seq, 4);
	memcpy(p + LG_STAMP, filler(c->tx_seq), opts.payload - LG_STAMP);
	c->tx_seq++;
	c->out_len += LG_HEADER + opts.payload;
}

/* Waits for `events` on the connection from now on. */
static void watch(struct lg_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl");
	c->events = events;
}

/* What a TLS call that returned `rc` waits for: EPOLLIN or EPOLLOUT, or 0
 * when the peer closed cleanly. Any other failure ends the run. */
static uint32_t tls_wants(struct lg_conn *c, int rc, const char *what)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ: return EPOLLIN;
	case SSL_ERROR_WANT_WRITE: return EPOLLOUT;
	case SSL_ERROR_ZERO_RETURN: return 0;
	default: tls_die(c, what);
	}
	return 0;
}

/* Sends what the connection takes now: the count, or -1 with `*wait` set
 * to what must happen first. */
static ssize_t conn_send(struct lg_conn *c, uint32_t *wait)
{
	ssize_t n;
	int rc;

	if (c->ssl == NULL) {
		do
			n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			die("send");
		*wait = EPOLLOUT;
		return n;
	}
	/* Partial writes are on and the buffer may move between retries
	 * (bench_tls.c), and a retry is never shorter than the first try. */
	rc = SSL_write(c->ssl, c->out, c->out_len > INT_MAX ? INT_MAX : (int)c->out_len);
	if (rc > 0)
		return rc;
	if ((*wait = tls_wants(c, rc, "SSL_write")) == 0) {
		fprintf(stderr, "loadgen: server closed connection %u\n", c->index);
		exit(1);
	}
	return -1;
}

/* Receives into the input buffer: the count, 0 if the server closed, -1
 * if nothing is there yet. */
static ssize_t conn_recv(struct lg_conn *c)
{
	ssize_t n;
	int rc;

	if (c->ssl == NULL) {
		n = recv(c->fd, c->in + c->in_len, LG_READ_SIZE, 0);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			die("recv");
		return n;
	}
	rc = SSL_read(c->ssl, c->in + c->in_len, LG_READ_SIZE);
	if (rc > 0)
		return rc;
	return tls_wants(c, rc, "SSL_read") == 0 ? 0 : -1;
}

/* Writes what the socket takes; waits for room for the rest. */
static void flush_out(struct lg_conn *c)
{
	uint32_t wait = EPOLLOUT;

	while (c->out_len > 0) {
		ssize_t n = conn_send(c, &wait);

		if (n < 0)
			break;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	watch(c, EPOLLIN | (c->out_len > 0 ? wait : 0));
}

/* Checks one PONG and, if inside the measured window, records it. */
static void check_pong(struct lg_conn *c, const unsigned char *f, uint64_t now,
                       uint64_t window_start)
{
	const unsigned char *p = f + LG_HEADER;
	uint64_t sent;
	uint32_t index, seq;

	if (memcmp(f, opts.protocol, LG_PROTO_LEN) != 0 || memcmp(f + 12, "PONG", 4) != 0) {
		stats.errors++;
		return;
	}
	memcpy(&sent, p, 8);
	memcpy(&index, p + 8, 4);
	memcpy(&seq, p + 12, 4);
	if (index != c->index || seq != c->rx_seq) {
		stats.errors++;
		c->rx_seq = seq + 1;    /* count each bad frame once, not all after it */
		return;
	}
	c->rx_seq++;
	if (memcmp(p + LG_STAMP, filler(seq), opts.payload - LG_STAMP) != 0) {
		stats.errors++;
		return;
	}
	stats.all_frames++;
	if (now >= window_start && sent >= window_start) {
		stats.frames++;
		record_rtt(now - sent);
	}
}

static void hs_finish(struct lg_conn *c, uint64_t now, uint64_t end);

/* Reads and answers every complete PONG with a new PING; with -H the
 * first PONG ends the connection instead. In plaintext one read takes all
 * that has arrived. Over TLS one read is one record, and the server's
 * records are as small as its answers: reading every record there is
 * before writing sends one record of PINGs back, not one per PING, as a
 * peer batching its writes would. */
static void on_readable(struct lg_conn *c, uint64_t window_start, uint64_t end)
{
	size_t frame = LG_HEADER + opts.payload;

	for (;;) {
		size_t off = 0;
		uint64_t now;
		ssize_t n = conn_recv(c);

		if (n == 0) {
			fprintf(stderr, "loadgen: server closed connection %u\n", c->index);
			exit(1);
		}
		if (n < 0)
			break;
		now = now_ns();
		c->in_len += (size_t)n;
		while (c->in_len - off >= LG_HEADER) {
			const unsigned char *f = c->in + off;

			/* Every answer we expect is exactly as long as what we sent;
			 * any other length means the stream is no longer ours to parse. */
			if (get_be32(f + 16) != opts.payload) {
				fprintf(stderr, "loadgen: connection %u: frame of %" PRIu32
				        " bytes, expected %" PRIu32 "\n", c->index, get_be32(f + 16),
				        opts.payload);
				exit(1);
			}
			if (c->in_len - off < frame)
				break;
			check_pong(c, f, now, window_start);
			if (opts.handshakes) {
				hs_finish(c, now, end);
				return;
			}
			queue_ping(c, now);
			off += frame;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
		if (c->ssl == NULL)
			break;
	}
	flush_out(c);
}

static struct sockaddr_in server_addr(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opts.port) };

	if (inet_pton(AF_INET, opts.addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad address %s\n", opts.addr);
		exit(2);
	}
	return sin;
}

static SSL *tls_new(struct lg_conn *c)
{
	SSL *ssl = SSL_new(tls_ctx);

	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1)
		tls_die(c, "SSL_new");
	return ssl;
}

/* A persistent connection for throughput: connected, and with -T through
 * its handshake, before the clock starts. */
static void conn_open(struct lg_conn *c, uint32_t index)
{
	struct sockaddr_in sin = server_addr();
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->index = index;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opts.tls) {
		c->ssl = tls_new(c);
		if (SSL_connect(c->ssl) != 1)
			tls_die(c, "TLS handshake");
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl");
	c->in = malloc(LG_READ_SIZE + LG_HEADER + opts.payload);
	c->out_cap = (size_t)opts.depth * (LG_HEADER + opts.payload);
	c->out = malloc(c->out_cap);
	if (c->in == NULL || c->out == NULL)
		die("malloc");
	c->events = EPOLLIN;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
}

/* --- -H: a new connection and a full handshake per PING --------------- */

/* Starts the connection in slot c: a non-blocking connect(), awaited. */
static void hs_start(struct lg_conn *c)
{
	struct sockaddr_in sin = server_addr();
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->started = now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
		die("connect");
	c->state = LG_CONNECTING;
	c->tx_seq = c->rx_seq = 0;
	c->in_len = c->out_len = 0;
	c->events = EPOLLOUT;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl");
}

/* Drives the handshake on; once it is done the one PING goes out. */
static void hs_step(struct lg_conn *c)
{
	int rc, err = 0;
	socklen_t len = sizeof(err);

	if (c->state == LG_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			errno = err;
			die("connect");
		}
		c->ssl = tls_new(c);
		c->state = LG_HANDSHAKING;
	}
	if ((rc = SSL_connect(c->ssl)) != 1) {
		uint32_t wait = tls_wants(c, rc, "TLS handshake");

		if (wait == 0) {
			fprintf(stderr, "loadgen: server closed connection %u in the handshake\n", c->index);
			exit(1);
		}
		watch(c, wait);
		return;
	}
	c->state = LG_OPEN;
	/* The PING carries the connection's start: its round trip is the
	 * whole connection's, and only those begun in the window count. */
	queue_ping(c, c->started);
	flush_out(c);
}

/* The PONG came back: close, and open the next unless time is up. */
static void hs_finish(struct lg_conn *c, uint64_t now, uint64_t end)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	if (now < end)
		hs_start(c);
}

static void hs_open(struct lg_conn *c, uint32_t index)
{
	memset(c, 0, sizeof(*c));
	c->index = index;
	c->in = malloc(LG_READ_SIZE + LG_HEADER + opts.payload);
	c->out_cap = LG_HEADER + opts.payload;
	c->out = malloc(c->out_cap);
	if (c->in == NULL || c->out == NULL)
		die("malloc");
	hs_start(c);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of the sorted samples, in microseconds. */
static double quantile_us(double q)
{
	size_t i;

	if (stats.n_rtt == 0)
		return 0;
	i = (size_t)(q * (double)(stats.n_rtt - 1) + 0.5);
	return stats.rtt_ns[i] / 1000.0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s -p PORT [-a ADDR] [-c CONNS] [-d DEPTH] [-s PAYLOAD]\n"
	        "          [-t SECONDS] [-w WARMUP] [-P PROTOCOL] [-T] [-H]\n", prog);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int opt;

	opts.addr = "127.0.0.1";
	opts.conns = 8;
	opts.depth = 16;
	opts.payload = 64;
	opts.seconds = 5;
	opts.warmup = 1;
	memcpy(opts.protocol, "echo", 4);
	while ((opt = getopt(argc, argv, "a:p:c:d:s:t:w:P:TH")) != -1) {
		switch (opt) {
		case 'a': opts.addr = optarg; break;
		case 'p': opts.port = atoi(optarg); break;
		case 'c': opts.conns = atoi(optarg); break;
		case 'd': opts.depth = atoi(optarg); break;
		case 's': opts.payload = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': opts.seconds = atof(optarg); break;
		case 'w': opts.warmup = atof(optarg); break;
		case 'P':
			if (strlen(optarg) < 1 || strlen(optarg) > LG_PROTO_LEN)
				usage(argv[0]);
			memset(opts.protocol, 0, LG_PROTO_LEN);
			memcpy(opts.protocol, optarg, strlen(optarg));
			break;
		case 'T': opts.tls = 1; break;
		case 'H': opts.handshakes = opts.tls = 1; break;
		default: usage(argv[0]);
		}
	}
	/* The payload must hold the stamp; 1 MiB is the host's frame limit. */
	if (opts.port <= 0 || opts.port > 65535 || opts.conns < 1 || opts.depth < 1 ||
	    opts.payload < LG_STAMP || opts.payload > 1024 * 1024 || opts.seconds <= 0 ||
	    opts.warmup < 0)
		usage(argv[0]);
}

int main(int argc, char **argv)
{
	struct epoll_event events[256];
	struct lg_conn *conns;
	uint64_t start, window_start, end, now;
	double elapsed;
	char err[256];
	int i, j;

	parse_args(argc, argv);
	pattern_init();
	signal(SIGPIPE, SIG_IGN);
	if (opts.tls && (tls_ctx = bench_tls_ctx_new(BENCH_TLS_CLIENT, err, sizeof(err))) == NULL) {
		fprintf(stderr, "loadgen: TLS: %s\n", err);
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	conns = calloc((size_t)opts.conns, sizeof(*conns));
	if (conns == NULL)
		die("calloc");
	if (!opts.handshakes)
		for (i = 0; i < opts.conns; i++)
			conn_open(&conns[i], (uint32_t)i);

	start = now_ns();
	window_start = start + (uint64_t)(opts.warmup * 1e9);
	end = window_start + (uint64_t)(opts.seconds * 1e9);
	for (i = 0; i < opts.conns; i++) {
		if (opts.handshakes) {
			hs_open(&conns[i], (uint32_t)i);
			continue;
		}
		for (j = 0; j < opts.depth; j++)
			queue_ping(&conns[i], start);
		flush_out(&conns[i]);
	}
	for (now = start; now < end; now = now_ns()) {
		int n = epoll_wait(epfd, events, 256, 100);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct lg_conn *c = events[i].data.ptr;

			if (c->state != LG_OPEN) {
				hs_step(c);
				continue;
			}
			if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c, window_start, end);
			/* A connection -H just closed and reopened waits on connect. */
			if ((events[i].events & EPOLLOUT) && c->state == LG_OPEN && c->fd >= 0)
				flush_out(c);
		}
	}
	elapsed = (double)(now - window_start) / 1e9;

	qsort(stats.rtt_ns, stats.n_rtt, sizeof(*stats.rtt_ns), cmp_u32);
	/* With -H a frame is a whole connection: frames/s is handshakes/s. */
	printf("{\"frames_per_sec\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"frames\": %" PRIu64 ", \"seconds\": %.3f, \"conns\": %d, \"depth\": %d, "
	       "\"payload\": %" PRIu32 ", \"errors\": %" PRIu64 ", "
	       "\"all_frames\": %" PRIu64 ", \"all_seconds\": %.3f, \"tls\": %d, "
	       "\"handshakes\": %d}\n",
	       (double)stats.frames / elapsed, quantile_us(0.50), quantile_us(0.99),
	       stats.frames, elapsed, opts.conns, opts.handshakes ? 1 : opts.depth, opts.payload,
	       stats.errors, stats.all_frames, (double)(now - start) / 1e9, opts.tls,
	       opts.handshakes);
	for (i = 0; i < opts.conns; i++) {
		SSL_free(conns[i].ssl);
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		free(conns[i].in);
		free(conns[i].out);
	}
	free(conns);
	SSL_CTX_free(tls_ctx);
	free(stats.rtt_ns);
	free(pattern);
	close(epfd);
	return stats.errors ? 1 : 0;
}

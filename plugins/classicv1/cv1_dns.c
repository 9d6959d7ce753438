/* cv1_dns.c -- bootstrap addresses from DNS TXT records, resolved with
 * c-ares on the host's loop.
 *
 * c-ares tells us which sockets it wants watched (the socket state
 * callback); each becomes a host watch, and its own timeouts become one host
 * timer. Nothing here waits: a query is sent, and its answer arrives later
 * through ares_process_fd() when the loop sees the socket readable.
 */
#include "cv1_node.h"

#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CV1_DNS_SOCKETS 16

struct dns_sock {
	ares_socket_t fd;
	mp2p_watch *watch;
};

struct cv1_dns {
	struct cv1 *c;
	ares_channel channel;
	int channel_ok;
	mp2p_timer *timer;
	struct dns_sock socks[CV1_DNS_SOCKETS];
	int closing;
	char *name;                  /* the seed being asked for */
};

static void rearm(struct cv1_dns *d)
{
	struct timeval tv, *t;

	if (d->closing || !d->channel_ok)
		return;
	t = ares_timeout(d->channel, NULL, &tv);
	if (t == NULL)
		d->c->api->timer_stop(d->c->host, d->timer);
	else
		d->c->api->timer_start(d->c->host, d->timer,
		                     (double)t->tv_sec + (double)t->tv_usec / 1e6, MP2P_TIMER_ONCE);
}

static void on_ready(void *arg, int fd, unsigned events)
{
	struct cv1_dns *d = arg;

	ares_process_fd(d->channel,
	                (events & MP2P_WATCH_READ) ? fd : ARES_SOCKET_BAD,
	                (events & MP2P_WATCH_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(d);
}

static void on_timer(void *arg)
{
	struct cv1_dns *d = arg;

	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(d);
}

/* c-ares opened, changed or closed one of its sockets. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct cv1_dns *d = data;
	struct dns_sock *s = NULL, *free_slot = NULL;
	unsigned events = (readable ? MP2P_WATCH_READ : 0) | (writable ? MP2P_WATCH_WRITE : 0);

	for (int i = 0; i < CV1_DNS_SOCKETS; i++) {
		if (d->socks[i].watch != NULL && d->socks[i].fd == fd)
			s = &d->socks[i];
		else if (d->socks[i].watch == NULL && free_slot == NULL)
			free_slot = &d->socks[i];
	}
	if (events == 0 || d->closing) {
		if (s != NULL) {
			d->c->api->watch_free(d->c->host, s->watch);
			s->watch = NULL;
		}
		return;
	}
	if (s != NULL) {
		d->c->api->watch_set(d->c->host, s->watch, events);
		return;
	}
	if (free_slot == NULL) {
		d->c->api->log(d->c->host, MP2P_LOG_WARN, "dns: too many resolver sockets");
		return;
	}
	free_slot->fd = fd;
	free_slot->watch = d->c->api->watch_new(d->c->host, fd, events, on_ready, d);
}

struct cv1_dns *cv1_dns_new(struct cv1 *c, const char *server, char **error_text)
{
	struct cv1_dns *d = calloc(1, sizeof(*d));
	struct ares_options opt;
	int rc;

	if (d == NULL)
		return NULL;
	d->c = c;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		free(d);
		return NULL;
	}
	memset(&opt, 0, sizeof(opt));
	opt.sock_state_cb = sock_state;
	opt.sock_state_cb_data = d;
	opt.timeout = 1000;          /* milliseconds per try */
	opt.tries = 3;
	rc = ares_init_options(&d->channel, &opt,
	                       ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS)
		goto fail;
	d->channel_ok = 1;
	if (server != NULL && (rc = ares_set_servers_ports_csv(d->channel, server)) != ARES_SUCCESS)
		goto fail;
	d->timer = c->api->timer_new(c->host, on_timer, d);
	return d;
fail:
	if (error_text) {
		size_t len = 64 + strlen(ares_strerror(rc));
		if ((*error_text = malloc(len)) != NULL)
			snprintf(*error_text, len, "dns resolver: %s", ares_strerror(rc));
	}
	cv1_dns_free(d);
	return NULL;
}

static void on_txt(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct cv1_dns *d = arg;
	struct ares_txt_reply *txt = NULL;
	int found = 0;

	if (status == ARES_EDESTRUCTION || d->closing)
		return;
	if (status != ARES_SUCCESS) {
		d->c->api->log(d->c->host, MP2P_LOG_WARN, "dns seed %s: %s", d->name,
		             ares_strerror(status));
		return;
	}
	if (ares_parse_txt_reply(abuf, alen, &txt) != ARES_SUCCESS) {
		d->c->api->log(d->c->host, MP2P_LOG_WARN, "dns seed %s: unreadable answer", d->name);
		return;
	}
	for (struct ares_txt_reply *r = txt; r != NULL; r = r->next) {
		char hp[CV1_HOSTPORT_MAX + 2];
		size_t len = r->length;
		const unsigned char *s = r->txt;

		/* Accept "ADDR:PORT" with or without the quotes of zone syntax. */
		if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
			s++;
			len -= 2;
		}
		if (len == 0 || len >= sizeof(hp) || !cv1_text_ok((const char *)s, len))
			continue;
		memcpy(hp, s, len);
		hp[len] = '\0';
		if (cv1_seed_found(d->c, hp) == 0)
			found++;
	}
	ares_free_data(txt);
	d->c->api->log(d->c->host, MP2P_LOG_INFO, "dns seed %s: %d address%s", d->name, found,
	             found == 1 ? "" : "es");
}

int cv1_dns_seed(struct cv1_dns *d, const char *name)
{
	char *copy = strdup(name);

	if (copy == NULL)
		return -1;
	free(d->name);
	d->name = copy;
	ares_query(d->channel, d->name, 1 /* C_IN */, 16 /* T_TXT */, on_txt, d);
	rearm(d);
	return 0;
}

void cv1_dns_free(struct cv1_dns *d)
{
	if (d == NULL)
		return;
	d->closing = 1;
	if (d->channel_ok)
		ares_destroy(d->channel);
	for (int i = 0; i < CV1_DNS_SOCKETS; i++)
		d->c->api->watch_free(d->c->host, d->socks[i].watch);
	d->c->api->timer_free(d->c->host, d->timer);
	free(d->name);
	ares_library_cleanup();
	free(d);
}

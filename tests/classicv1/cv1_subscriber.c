/* cv1_subscriber.c -- a test plugin that uses classicv1 the way another
 * plugin would: it subscribes to "classicv1.message" and calls the
 * classicv1 service.
 *
 * Control commands: `seen` answers how many messages it was given and the
 * last one's kind, sender, id, text and length; `broadcast TEXT` and
 * `send PID TEXT` go through the service table; `self` answers the pid the
 * service reports; `relay on` makes it broadcast "relay:TEXT" from inside
 * deliver() for every message it is given. Service 1.1: `quiet N SEED`
 * broadcasts N bytes (byte i is (i * SEED) & 0xff, so zeros included)
 * quietly, `quietseen` answers what "classicv1.quiet" brought (count, last
 * length, sender, FNV-1a of the bytes), `addr PID` asks peer_addr.
 */
#include <maybep2p/classicv1.h>
#include <maybep2p/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sub {
	mp2p_host *host;
	long long seen;
	uint32_t kind;
	char sender[128];
	char id[MP2P_CLASSICV1_ID_SIZE];
	char text[256];
	long long length;
	int relay;
	long long quiet_seen, quiet_length;
	char quiet_sender[128];
	unsigned long long quiet_fnv;
};

static unsigned long long fnv1a(const unsigned char *p, size_t n)
{
	unsigned long long h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void sub_quiet(void *arg, const char *topic, const void *data, size_t length)
{
	struct sub *s = arg;
	const struct mp2p_classicv1_message *m = data;

	(void)topic;
	if (length < sizeof(*m) || m->size < sizeof(*m))
		return;
	s->quiet_seen++;
	s->quiet_length = (long long)m->text_length;
	s->quiet_fnv = fnv1a((const unsigned char *)m->text, m->text_length);
	snprintf(s->quiet_sender, sizeof(s->quiet_sender), "%s", m->sender);
}

static const struct mp2p_host_api *api;

static int sub_init(const struct mp2p_host_api *a, mp2p_host *host, const mp2p_config *config,
                    void **self_out, char **error_text)
{
	static const char *const known[] = { NULL };
	struct sub *s;

	api = a;
	if (api->config_check_keys(config, known, error_text) < 0)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->host = host;
	*self_out = s;
	return 0;
}

static void sub_deliver(void *arg, const char *topic, const void *data, size_t length)
{
	struct sub *s = arg;
	const struct mp2p_classicv1_message *m = data;

	if (length < sizeof(*m) || m->size < sizeof(*m))
		return;
	s->seen++;
	s->kind = m->kind;
	snprintf(s->sender, sizeof(s->sender), "%s", m->sender);
	snprintf(s->id, sizeof(s->id), "%s", m->id);
	snprintf(s->text, sizeof(s->text), "%s", m->text);
	s->length = (long long)m->text_length;
	if (s->relay) {
		void *cv1 = NULL;
		const struct mp2p_classicv1_service *svc =
			api->service_find(s->host, MP2P_CLASSICV1_SERVICE, MP2P_CLASSICV1_MAJOR, 0, &cv1);
		char text[300];
		int n = snprintf(text, sizeof(text), "relay:%s", m->text);

		if (svc != NULL && n > 0)
			svc->broadcast(cv1, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1,
			               NULL);
	}
}

static int sub_start(void *self, char **error_text)
{
	struct sub *s = self;

	(void)error_text;
	if (api->subscribe(s->host, MP2P_CLASSICV1_QUIET_TOPIC, sub_quiet, s) < 0)
		return -1;
	return api->subscribe(s->host, MP2P_CLASSICV1_TOPIC, sub_deliver, s);
}

static const struct mp2p_classicv1_service *find(struct sub *s, void **provider)
{
	return api->service_find(s->host, MP2P_CLASSICV1_SERVICE, MP2P_CLASSICV1_MAJOR, 0, provider);
}

static void sub_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct sub *s = self;
	const struct mp2p_classicv1_service *svc;
	void *cv1 = NULL;
	char id[MP2P_CLASSICV1_ID_SIZE];

	if (argc == 1 && strcmp(argv[0], "seen") == 0) {
		api->reply_int(r, "seen", s->seen);
		api->reply_str(r, "kind", s->kind == MP2P_CLASSICV1_BROADCAST ? "broadcast" :
		                          s->kind == MP2P_CLASSICV1_DIRECT ? "direct" : "");
		api->reply_str(r, "sender", s->sender);
		api->reply_str(r, "id", s->id);
		api->reply_str(r, "text", s->text);
		api->reply_int(r, "length", s->length);
		return;
	}
	if (argc == 1 && strcmp(argv[0], "quietseen") == 0) {
		char fnv[32];
		snprintf(fnv, sizeof(fnv), "%016llx", s->quiet_fnv);
		api->reply_int(r, "seen", s->quiet_seen);
		api->reply_int(r, "length", s->quiet_length);
		api->reply_str(r, "sender", s->quiet_sender);
		api->reply_str(r, "fnv", fnv);
		return;
	}
	if (argc == 2 && strcmp(argv[0], "relay") == 0) {
		s->relay = strcmp(argv[1], "on") == 0;
		return;
	}
	if ((svc = find(s, &cv1)) == NULL) {
		api->reply_error(r, "no classicv1 service");
		return;
	}
	if (argc == 1 && strcmp(argv[0], "self") == 0) {
		api->reply_str(r, "pid", svc->self_pid(cv1));
		api->reply_int(r, "peers", svc->peer_count(cv1));
	} else if (argc == 2 && strcmp(argv[0], "broadcast") == 0) {
		if (svc->broadcast(cv1, argv[1], strlen(argv[1]), id) < 0)
			api->reply_error(r, "broadcast refused");
		else
			api->reply_str(r, "id", id);
	} else if (argc == 3 && strcmp(argv[0], "quiet") == 0) {
		size_t n = (size_t)strtoul(argv[1], NULL, 10);
		unsigned seed = (unsigned)strtoul(argv[2], NULL, 10);
		unsigned char *buf = malloc(n + 1);
		if (buf == NULL)
			return;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)(i * seed);
		if (svc->size < offsetof(struct mp2p_classicv1_service, broadcast_quiet) + sizeof(void *))
			api->reply_error(r, "classicv1 service older than 1.1");
		else if (svc->broadcast_quiet(cv1, buf, n, id) < 0)
			api->reply_error(r, "quiet broadcast refused");
		else
			api->reply_str(r, "id", id);
		free(buf);
	} else if (argc == 2 && strcmp(argv[0], "addr") == 0) {
		char addr[MP2P_CLASSICV1_ADDR_SIZE];
		if (svc->peer_addr(cv1, argv[1], addr, sizeof(addr)) < 0)
			api->reply_error(r, "no address for %s", argv[1]);
		else
			api->reply_str(r, "addr", addr);
	} else if (argc == 3 && strcmp(argv[0], "send") == 0) {
		if (svc->send(cv1, argv[1], argv[2], strlen(argv[2])) < 0)
			api->reply_error(r, "send refused");
	} else {
		api->reply_usage(r, "seen | self | broadcast TEXT | send PID TEXT | relay on|off");
	}
}

static void sub_destroy(void *self)
{
	free(self);
}

static const char *const sub_protocols[] = { "cv1sub", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "cv1_subscriber",
	.version = "1.0.0",
	.description = "test plugin: subscribes to classicv1.message, calls the classicv1 service",
	.protocols = sub_protocols,
	.init = sub_init,
	.start = sub_start,
	.control = sub_control,
	.destroy = sub_destroy,
};

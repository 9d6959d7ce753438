/* chat.c -- a chat room that rides on another plugin: lines said here are
 * broadcast over the classicv1 network, and every classicv1 message that
 * arrives is kept and pushed to local chat clients.
 *
 * It shows the parts of the SDK the minimal example leaves out: using a
 * service another plugin offers (classicv1's broadcast), subscribing to
 * its events (the classicv1.message topic), keeping connection ids across
 * callbacks and dropping them on MP2P_CONN_CLOSED, tables in control
 * replies, and a settings table with defaults.
 *
 * Protocol `chat`, for clients on this host's listener:
 *   SAYS TEXT   broadcast "NICK: TEXT"; answered OKAY with the broadcast id,
 *               or FAIL with the reason
 *   LSTN        from now on, every line that arrives is pushed to this
 *               connection as LINE "SENDER\tTEXT"; answered OKAY
 * Control: `maybep2pctl NAME say TEXT...`, `history`, `listeners`.
 */
#include <maybep2p/plugin.h>
#include <maybep2p/classicv1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_NICK_MAX 32
#define CHAT_TEXT_MAX 400        /* longest line we say or keep */
#define CHAT_SAY_MAX 366         /* longest TEXT: "NICK: TEXT" must fit */
#define CHAT_LISTENERS_MAX 64    /* clients that may LSTN at once */
_Static_assert(CHAT_NICK_MAX + 2 + CHAT_SAY_MAX <= CHAT_TEXT_MAX, "a said line must fit");

struct chat_line {
	char from[72];               /* classicv1's sender: a pid or ADDR:PORT */
	char text[CHAT_TEXT_MAX + 1];
	double at;                   /* api->now() when it arrived */
};

struct chat {
	mp2p_host *host;
	char nick[CHAT_NICK_MAX + 1];
	struct chat_line *lines;     /* a ring of `keep` lines */
	size_t keep, count, next;
	mp2p_conn_id listeners[CHAT_LISTENERS_MAX];   /* 0 = free slot */
	uint64_t *dropped;           /* malformed frames and events */
};

static const struct mp2p_host_api *api;

/* ---- settings ----------------------------------------------------------- */

static const char *const chat_settings[] = { "nick", "history", NULL };

static int chat_read_settings(struct chat *c, const mp2p_config *cfg, char **error_text)
{
	const char *nick = api->host_id(c->host);   /* default: the host's id */
	long long keep = 100;

	if (api->config_check_keys(cfg, chat_settings, error_text) < 0 ||
	    api->config_get_string(cfg, "nick", &nick, error_text) < 0 ||
	    api->config_get_int(cfg, "history", &keep, error_text) < 0)
		return -1;
	if (nick[0] == '\0' || strlen(nick) > CHAT_NICK_MAX || strchr(nick, '\t')) {
		*error_text = api->config_error(cfg, "nick", "must be 1 to %d characters, no tabs",
		                                CHAT_NICK_MAX);
		return -1;
	}
	if (keep < 1 || keep > 10000) {
		*error_text = api->config_error(cfg, "history", "must be between 1 and 10000");
		return -1;
	}
	snprintf(c->nick, sizeof(c->nick), "%s", nick);   /* copied: cfg dies with init */
	c->keep = (size_t)keep;
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void chat_on_message(void *arg, const char *topic, const void *data, size_t length);

static int chat_init(const struct mp2p_host_api *host_api, mp2p_host *host,
                     const mp2p_config *cfg, void **self_out, char **error_text)
{
	struct chat *c;

	api = host_api;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->host = host;
	if (chat_read_settings(c, cfg, error_text) < 0 ||
	    (c->lines = calloc(c->keep, sizeof(*c->lines))) == NULL) {
		free(c);
		return -1;
	}
	c->dropped = api->counter(host, "dropped");
	*self_out = c;
	return 0;
}

static int chat_start(void *self, char **error_text)
{
	struct chat *c = self;

	/* The subscription lasts until we are destroyed; classicv1 may start
	 * after us or be swapped: topics do not care who publishes. */
	if (api->subscribe(c->host, MP2P_CLASSICV1_TOPIC, chat_on_message, c) < 0) {
		*error_text = strdup("cannot subscribe to " MP2P_CLASSICV1_TOPIC);
		return -1;
	}
	return 0;
}

static void chat_destroy(void *self)
{
	struct chat *c = self;

	free(c->lines);
	free(c);
}

/* ---- lines in ----------------------------------------------------------- */

static void chat_push(struct chat *c, const struct chat_line *l)
{
	char payload[sizeof(l->from) + 1 + sizeof(l->text)];
	int n = snprintf(payload, sizeof(payload), "%s\t%s", l->from, l->text);

	for (size_t i = 0; i < CHAT_LISTENERS_MAX; i++)
		if (c->listeners[i] != 0 &&
		    api->send(c->host, c->listeners[i], NULL, "LINE", payload, (size_t)n) < 0)
			c->listeners[i] = 0;   /* gone or not reading: forget it */
}

/* Runs inside classicv1's publish(): everything in `data` is borrowed
 * until we return, so the line is copied into the ring. */
static void chat_on_message(void *arg, const char *topic, const void *data, size_t length)
{
	struct chat *c = arg;
	const struct mp2p_classicv1_message *m = data;
	struct chat_line *l;
	size_t need = offsetof(struct mp2p_classicv1_message, at) + sizeof(m->at);

	(void)topic;   /* one subscription, one topic */
	/* Read only what both the publisher's struct and ours hold. */
	if (length < need || m->size < need || m->text == NULL || m->sender == NULL) {
		if (c->dropped)
			(*c->dropped)++;
		return;
	}
	l = &c->lines[c->next];
	c->next = (c->next + 1) % c->keep;
	if (c->count < c->keep)
		c->count++;
	snprintf(l->from, sizeof(l->from), "%s", m->sender);
	snprintf(l->text, sizeof(l->text), "%.*s",
	         (int)(m->text_length < CHAT_TEXT_MAX ? m->text_length : CHAT_TEXT_MAX), m->text);
	l->at = api->now(c->host);
	chat_push(c, l);
}

/* ---- lines out ---------------------------------------------------------- */

/* Broadcasts "NICK: TEXT" through classicv1; fills id_out or error_out. */
static int chat_say(struct chat *c, const char *text, size_t length,
                    char id_out[MP2P_CLASSICV1_ID_SIZE], const char **error_out)
{
	const struct mp2p_classicv1_service *cv1;
	void *provider;
	char line[CHAT_NICK_MAX + 2 + CHAT_TEXT_MAX];
	int n;

	if (length == 0 || length > CHAT_SAY_MAX) {
		*error_out = "a line is 1 to 366 characters";
		return -1;
	}
	for (size_t i = 0; i < length; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e) {
			*error_out = "a line is printable ASCII";
			return -1;
		}
	/* Looked up now, kept for this call only: a reload may replace
	 * classicv1 before our next callback. */
	cv1 = api->service_find(c->host, MP2P_CLASSICV1_SERVICE, MP2P_CLASSICV1_MAJOR, 0, &provider);
	if (cv1 == NULL) {
		*error_out = "classicv1 is not running on this host";
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s: %.*s", c->nick, (int)length, text);
	if (cv1->broadcast(provider, line, (size_t)n, id_out) < 0) {
		*error_out = "classicv1 refused the line";
		return -1;
	}
	return 0;
}

/* ---- frames and connections --------------------------------------------- */

static void chat_listen(struct chat *c, mp2p_conn_id conn)
{
	size_t free_slot = CHAT_LISTENERS_MAX;

	for (size_t i = 0; i < CHAT_LISTENERS_MAX; i++) {
		if (c->listeners[i] == conn) {
			free_slot = i;
			break;
		}
		if (c->listeners[i] == 0 && free_slot == CHAT_LISTENERS_MAX)
			free_slot = i;
	}
	if (free_slot == CHAT_LISTENERS_MAX) {
		api->send(c->host, conn, NULL, "FAIL", "too many listeners", 18);
		return;
	}
	c->listeners[free_slot] = conn;
	api->send(c->host, conn, NULL, "OKAY", "", 0);
}

static void chat_on_frame(void *self, mp2p_conn_id conn, const struct mp2p_frame *f)
{
	struct chat *c = self;
	char id[MP2P_CLASSICV1_ID_SIZE];
	const char *error;

	if (mp2p_type_is(f->type, "SAYS")) {
		if (chat_say(c, (const char *)f->payload, f->length, id, &error) == 0)
			api->send(c->host, conn, NULL, "OKAY", id, strlen(id));
		else
			api->send(c->host, conn, NULL, "FAIL", error, strlen(error));
	} else if (mp2p_type_is(f->type, "LSTN") && f->length == 0) {
		chat_listen(c, conn);
	} else {
		api->log(c->host, MP2P_LOG_DEBUG, "dropped %.4s frame of %u bytes", f->type, f->length);
		if (c->dropped)
			(*c->dropped)++;
	}
}

/* Inbound connections are never announced as opened, but every one we
 * sent on is announced as closed: the moment to drop its id. */
static void chat_on_conn(void *self, mp2p_conn_id conn, const struct mp2p_conn_event *ev)
{
	struct chat *c = self;

	if (ev->kind != MP2P_CONN_CLOSED)
		return;
	for (size_t i = 0; i < CHAT_LISTENERS_MAX; i++)
		if (c->listeners[i] == conn)
			c->listeners[i] = 0;
}

/* ---- control ------------------------------------------------------------ */

static void chat_control_say(struct chat *c, mp2p_reply *r, int argc, const char *const *argv)
{
	char text[CHAT_TEXT_MAX + 1] = "", id[MP2P_CLASSICV1_ID_SIZE];
	size_t len = 0;
	const char *error;

	for (int i = 1; i < argc; i++) {   /* the words, joined by single spaces */
		int n = snprintf(text + len, sizeof(text) - len, "%s%s", i > 1 ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(text) - len) {
			api->reply_error(r, "the line is too long");
			return;
		}
		len += (size_t)n;
	}
	if (chat_say(c, text, len, id, &error) < 0)
		api->reply_error(r, "%s", error);
	else
		api->reply_str(r, "id", id);
}

static void chat_control(void *self, mp2p_reply *r, int argc, const char *const *argv)
{
	struct chat *c = self;
	double now = api->now(c->host);
	long long n = 0;

	if (strcmp(argv[0], "say") == 0 && argc >= 2) {
		chat_control_say(c, r, argc, argv);
	} else if (strcmp(argv[0], "history") == 0 && argc == 1) {
		api->reply_int(r, "count", (long long)c->count);
		for (size_t i = 0; i < c->count; i++) {   /* oldest first */
			const struct chat_line *l = &c->lines[(c->next + c->keep - c->count + i) % c->keep];
			api->reply_row(r);
			api->reply_str(r, "from", l->from);
			api->reply_float(r, "age", now - l->at);
			api->reply_str(r, "text", l->text);
		}
	} else if (strcmp(argv[0], "listeners") == 0 && argc == 1) {
		for (size_t i = 0; i < CHAT_LISTENERS_MAX; i++)
			n += c->listeners[i] != 0;
		api->reply_int(r, "listeners", n);
	} else {
		api->reply_usage(r, "usage: say TEXT... | history | listeners");
	}
}

/* ---- the descriptor ----------------------------------------------------- */

static const char *const chat_protocols[] = { "chat", NULL };

MP2P_PLUGIN_DEFINE = {
	MP2P_PLUGIN_HEADER,
	.name = "chat",
	.version = "1.0.0",
	.description = "a chat room over classicv1 broadcasts",
	.protocols = chat_protocols,
	.init = chat_init,          /* settings, the history ring */
	.start = chat_start,        /* subscribe to classicv1.message */
	.on_frame = chat_on_frame,  /* SAYS, LSTN */
	.on_conn = chat_on_conn,    /* forget closed listeners */
	.control = chat_control,    /* say, history, listeners */
	.destroy = chat_destroy,
};

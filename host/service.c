/* service.c -- what plugins offer each other: named, versioned function
 * tables, and topics published to subscribers. Both belong to the instance
 * that made them and vanish with it, so no plugin is left holding a
 * pointer into code that a reload unloaded. */
#include "config.h"
#include "host.h"

#include <stdlib.h>
#include <string.h>

struct service_entry {
	struct service_entry *next;
	char *name;
	uint32_t version;
	const void *table;
	void *provider;
	struct mp2p_host *owner;
};

struct subscription {
	struct subscription *next;
	char *topic;
	void (*deliver)(void *, const char *, const void *, size_t);
	void *arg;
	struct mp2p_host *owner;
};

int service_offer(mp2p_host *in, const char *name, uint32_t version,
                  const void *table, void *provider)
{
	struct core *h = in->core;
	struct service_entry *s;

	if (name == NULL || table == NULL || in->state != INST_RUNNING)
		return -1;
	for (s = h->services; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			log_msg(HLOG_WARN, "%s: service '%s' is already offered by '%s'", in->name, name,
			        s->owner->name);
			return -1;
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->name = strdup(name)) == NULL) {
		free(s);
		return -1;
	}
	s->version = version;
	s->table = table;
	s->provider = provider;
	s->owner = in;
	s->next = h->services;
	h->services = s;
	log_msg(HLOG_DEBUG, "%s: offers service '%s' %u.%u", in->name, name, version >> 16,
	        version & 0xffff);
	return 0;
}

const void *service_find(mp2p_host *in, const char *name, uint16_t major, uint16_t min_minor,
                         void **provider_out)
{
	for (struct service_entry *s = in->core->services; s != NULL; s = s->next) {
		if (strcmp(s->name, name) != 0)
			continue;
		if ((s->version >> 16) != major || (s->version & 0xffff) < min_minor)
			return NULL;
		if (provider_out != NULL)
			*provider_out = s->provider;
		return s->table;
	}
	return NULL;
}

int service_subscribe(mp2p_host *in, const char *topic,
                      void (*deliver)(void *, const char *, const void *, size_t), void *arg)
{
	struct subscription *s;

	if (topic == NULL || deliver == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if ((s->topic = strdup(topic)) == NULL) {
		free(s);
		return -1;
	}
	s->deliver = deliver;
	s->arg = arg;
	s->owner = in;
	s->next = in->core->subs;
	in->core->subs = s;
	return 0;
}

int service_publish(mp2p_host *in, const char *topic, const void *data, size_t len)
{
	int n = 0;

	if (topic == NULL)
		return -1;
	for (struct subscription *s = in->core->subs; s != NULL; s = s->next) {
		/* Only running instances hear events: a successor being
		 * initialised beside its predecessor must not hear them twice. */
		if (s->owner->state != INST_RUNNING || strcmp(s->topic, topic) != 0)
			continue;
		s->deliver(s->arg, topic, data, len);
		n++;
	}
	return n;
}

/* Withdraws what `in` offered and subscribed; NULL withdraws everything. */
void services_release(struct core *h, mp2p_host *in)
{
	struct service_entry **sp = &h->services;
	struct subscription **bp = &h->subs;

	while (*sp != NULL) {
		struct service_entry *s = *sp;
		if (in == NULL || s->owner == in) {
			*sp = s->next;
			free(s->name);
			free(s);
		} else {
			sp = &s->next;
		}
	}
	while (*bp != NULL) {
		struct subscription *s = *bp;
		if (in == NULL || s->owner == in) {
			*bp = s->next;
			free(s->topic);
			free(s);
		} else {
			bp = &s->next;
		}
	}
}

void services_free(struct core *h)
{
	services_release(h, NULL);
}

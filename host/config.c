/* config.c -- the operator's libconfig file, checked whole: every problem is
 * reported with its file, line and setting, and unknown keys are errors. */
#include "config.h"
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LISTEN "127.0.0.1:25565"

/* Names the control socket uses for host commands; no instance may take them. */
static const char *const reserved_names[] = {
	"status", "plugins", "connections", "stats", "reload", "stop", "help", NULL
};

char *config_where(const config_setting_t *s)
{
	const char *file = config_setting_source_file(s);
	unsigned line = config_setting_source_line(s);

	return str_printf("%s:%u", file ? file : "?", line);
}

/* "host.limits.max_frame" or "plugins[1].name" for a setting. */
static void setting_path(const config_setting_t *s, char *buf, size_t size)
{
	char parts[16][80];
	int n = 0;
	size_t off = 0;

	for (; s != NULL && config_setting_parent(s) != NULL && n < 16; s = config_setting_parent(s)) {
		const char *name = config_setting_name(s);
		if (name != NULL)
			snprintf(parts[n++], sizeof(parts[0]), ".%s", name);
		else
			snprintf(parts[n++], sizeof(parts[0]), "[%d]", config_setting_index(s));
	}
	buf[0] = '\0';
	while (n-- > 0 && off < size) {
		const char *p = parts[n];
		int w = snprintf(buf + off, size - off, "%s", off == 0 && *p == '.' ? p + 1 : p);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void vbad(struct diag *errs, const config_setting_t *s, const char *fmt, va_list ap)
{
	char path[256], *msg, *where;

	msg = str_vprintf(fmt, ap);
	setting_path(s, path, sizeof(path));
	where = config_where(s);
	diag_add(errs, "%s: setting '%s': %s", where, path, msg ? msg : "?");
	free(where);
	free(msg);
}

static void bad(struct diag *errs, const config_setting_t *s, const char *fmt, ...)
	MP2P_PRINTF(3, 4);
static void bad(struct diag *errs, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vbad(errs, s, fmt, ap);
	va_end(ap);
}

static int check_keys(const config_setting_t *group, const char *const *known, struct diag *errs)
{
	int bad_count = 0;

	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int ok = 0;
		for (const char *const *k = known; *k; k++)
			if (name && strcmp(name, *k) == 0)
				ok = 1;
		if (!ok) {
			bad(errs, s, "unknown setting");
			bad_count++;
		}
	}
	return bad_count ? -1 : 0;
}

static char *get_string(const config_setting_t *group, const char *key, const char *def,
                        struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;

	if (s == NULL)
		return def ? strdup(def) : NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad(errs, s, "must be a string");
		return def ? strdup(def) : NULL;
	}
	if (config_setting_get_string(s)[0] == '\0') {
		bad(errs, s, "must not be empty");
		return def ? strdup(def) : NULL;
	}
	return strdup(config_setting_get_string(s));
}

static void get_long(const config_setting_t *group, const char *key, long lo, long hi,
                     long *out, struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;
	long long v;

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
		bad(errs, s, "must be an integer");
		return;
	}
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		bad(errs, s, "must be between %ld and %ld (got %lld)", lo, hi, v);
		return;
	}
	*out = (long)v;
}

static void get_seconds(const config_setting_t *group, const char *key, double *out,
                        struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;
	double v;

	if (s == NULL)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: v = (double)config_setting_get_int64(s); break;
	default:
		bad(errs, s, "must be a number of seconds");
		return;
	}
	if (!(v > 0.0 && v <= 86400.0 * 365)) {
		bad(errs, s, "must be more than 0 seconds and at most a year (got %g)", v);
		return;
	}
	*out = v;
}

static const config_setting_t *get_group(const config_setting_t *parent, const char *key,
                                         struct diag *errs)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_GROUP) {
		bad(errs, s, "must be a group { ... }");
		return NULL;
	}
	return s;
}

static void load_listen(struct host_config *c, const config_setting_t *host, struct diag *errs)
{
	const config_setting_t *s = host ? config_setting_get_member(host, "listen") : NULL;
	struct sockaddr_storage ss;
	int len, n;

	if (s == NULL) {
		c->listen = calloc(1, sizeof(char *));
		c->listen[0] = strdup(DEFAULT_LISTEN);
		c->nlisten = 1;
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		bad(errs, s, "must be a list of \"ADDR:PORT\" strings: [ \"%s\" ]",
		    config_setting_get_string(s));
		return;
	}
	if (!config_setting_is_aggregate(s) || (n = config_setting_length(s)) == 0) {
		bad(errs, s, "must be a non-empty list of \"ADDR:PORT\" strings");
		return;
	}
	c->listen = calloc((size_t)n, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		if (v == NULL) {
			bad(errs, e, "element %d is not a string", i);
			continue;
		}
		if (addr_parse_listen(v, &ss, &len) < 0) {
			bad(errs, e, "'%s' is not a numeric ADDR:PORT (IPv6 as [ADDR]:PORT)", v);
			continue;
		}
		c->listen[c->nlisten++] = strdup(v);
	}
}

static void get_bool(const config_setting_t *group, const char *key, int *out, struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		bad(errs, s, "must be true or false");
		return;
	}
	*out = config_setting_get_bool(s);
}

static void get_rate(const config_setting_t *group, const char *key, double *out,
                     struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;
	double v;

	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else
		v = -1;
	if (!(v > 0.0 && v <= 1e6)) {
		bad(errs, s, "must be a number per second, more than 0 and at most 1000000");
		return;
	}
	*out = v;
}

/* host.dial: the guard on what plugins may make the host dial. */
/* host.dial, shared with the simulator's scenarios. */
void config_load_dial(struct host_config *c, const config_setting_t *dial, struct diag *errs)
{
	static const char *const dial_keys[] = {
		"trust_claims", "deny", "rate", "max_pending_per_ip", NULL
	};
	const config_setting_t *deny = dial ? config_setting_get_member(dial, "deny") : NULL;
	const char *const *def = dial_deny_default;
	int n = 0;

	c->dial_trust_claims = 0;
	c->dial_rate = 200;
	c->dial_pending_per_ip = 16;
	if (dial != NULL) {
		check_keys(dial, dial_keys, errs);
		get_bool(dial, "trust_claims", &c->dial_trust_claims, errs);
		get_long(dial, "max_pending_per_ip", 1, 1000000, &c->dial_pending_per_ip, errs);
		get_rate(dial, "rate", &c->dial_rate, errs);
	}
	if (deny != NULL && (!config_setting_is_aggregate(deny) ||
	                     config_setting_type(deny) == CONFIG_TYPE_GROUP)) {
		bad(errs, deny, "must be a list of CIDR strings [ \"169.254.0.0/16\", ... ]");
		deny = NULL;
	}
	if (deny != NULL)
		n = config_setting_length(deny);
	else
		while (def[n] != NULL)
			n++;
	c->dial_deny = calloc((size_t)n + 1, sizeof(*c->dial_deny));
	for (int i = 0; i < n && c->dial_deny != NULL; i++) {
		const config_setting_t *e = deny ? config_setting_get_elem(deny, (unsigned)i) : NULL;
		const char *v = deny ? config_setting_get_string(e) : def[i];
		if (v == NULL || dial_rule_parse(v, &c->dial_deny[c->ndial_deny]) < 0) {
			bad(errs, e, "element %d: '%s' is not an address or CIDR (\"10.0.0.0/8\", \"fe80::/10\")",
			    i, v ? v : "(not a string)");
			continue;
		}
		c->ndial_deny++;
	}
}

/* The first directory of a list systemd passes (StateDirectory= and
 * RuntimeDirectory= may name several, separated by ':'), or NULL. */
static const char *systemd_dir(const char *var, char *buf, size_t size)
{
	const char *v = getenv(var);
	size_t n;

	if (v == NULL || v[0] != '/')
		return NULL;
	n = strcspn(v, ":");
	if (n == 0 || n >= size)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* Under systemd the unit's StateDirectory= is where state belongs; else
 * the directory configure chose. */
static const char *default_state_dir(void)
{
	static char buf[4096];
	const char *d = systemd_dir("STATE_DIRECTORY", buf, sizeof(buf));

	return d ? d : LOCALSTATEDIR "/lib/maybep2p";
}

/* Likewise RuntimeDirectory= for the control socket; maybep2pctl looks
 * in the same places. */
static void default_control(char *out, size_t size)
{
	char buf[4096];
	const char *d = systemd_dir("RUNTIME_DIRECTORY", buf, sizeof(buf));

	if (d != NULL && strlen(d) + sizeof("/control.sock") <= size)
		snprintf(out, size, "%s/control.sock", d);
	else
		snprintf(out, size, "%s", RUNSTATEDIR "/maybep2p/control.sock");
}

static void load_checkpoint_interval(struct host_config *c, const config_setting_t *host,
                                     struct diag *errs);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_allowed(struct host_config *c, const char *id)
{
	char **more = realloc(c->allow, sizeof(*more) * (size_t)(c->nallow + 1));

	if (more == NULL)
		return -1;
	c->allow = more;
	if ((c->allow[c->nallow] = strdup(id)) == NULL)
		return -1;
	c->nallow++;
	return 0;
}

/* One peer id a line; blank lines and lines starting with '#' are skipped.
 * Every bad line is reported with its number. */
int allow_file_read(const char *path, char ***ids, int *n, struct diag *errs)
{
	char line[256];
	int lineno = 0, before = errs->count;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		diag_add(errs, "%s: cannot read the allow file: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;
		char **more;
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			diag_add(errs, "%s:%d: line too long for a peer id", path, lineno);
			while (fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') == NULL)
				;
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, "\r\n");
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (!peer_id_valid(p)) {
			diag_add(errs, "%s:%d: '%.80s' is not a peer id (64 lowercase hex digits)", path,
			         lineno, p);
			continue;
		}
		if ((more = realloc(*ids, sizeof(*more) * (size_t)(*n + 1))) == NULL ||
		    (more[*n] = strdup(p)) == NULL) {
			if (more != NULL)
				*ids = more;
			diag_add(errs, "%s: out of memory", path);
			break;
		}
		*ids = more;
		(*n)++;
	}
	fclose(f);
	return errs->count > before ? -1 : 0;
}

/* host.security: the mode and who is admitted. */
static void load_security(struct host_config *c, const config_setting_t *sec, struct diag *errs)
{
	static const char *const security_keys[] = { "mode", "allow", "allow_file", NULL };
	const config_setting_t *s;
	char *mode;

	c->security_mode = SEC_TLS;
	if (sec == NULL)
		return;
	check_keys(sec, security_keys, errs);
	mode = get_string(sec, "mode", "tls", errs);
	if (mode != NULL && strcmp(mode, "plain") == 0)
		c->security_mode = SEC_PLAIN;
	else if (mode != NULL && strcmp(mode, "mixed") == 0)
		c->security_mode = SEC_MIXED;
	else if (mode == NULL || strcmp(mode, "tls") != 0)
		bad(errs, config_setting_get_member(sec, "mode"),
		    "must be \"tls\", \"plain\" or \"mixed\" (got '%s')", mode ? mode : "");
	free(mode);
	if ((s = config_setting_get_member(sec, "allow")) != NULL) {
		c->allow_set = 1;
		if (!config_setting_is_aggregate(s)) {
			bad(errs, s, "must be a list of peer ids: [ \"PEERID\", ... ]");
		} else {
			for (int i = 0; i < config_setting_length(s); i++) {
				const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
				const char *v = config_setting_get_string(e);
				if (v == NULL || !peer_id_valid(v))
					bad(errs, e, "element %d is not a peer id (64 lowercase hex digits, "
					    "as `maybep2pd --peer-id` prints)", i);
				else if (add_allowed(c, v) < 0)
					bad(errs, e, "out of memory");
			}
		}
	}
	if ((s = config_setting_get_member(sec, "allow_file")) != NULL) {
		char *path = get_string(sec, "allow_file", NULL, errs);
		c->allow_set = 1;
		if (path != NULL && path[0] != '/' && strrchr(c->path, '/') != NULL) {
			/* Relative to the config file, as an operator reading it expects. */
			char *full = str_printf("%.*s/%s", (int)(strrchr(c->path, '/') - c->path),
			                        c->path, path);
			free(path);
			path = full;
		}
		if (path != NULL) {
			struct diag file_errs = { 0 };
			char *where = config_where(s);
			allow_file_read(path, &c->allow, &c->nallow, &file_errs);
			for (int i = 0; i < file_errs.count; i++)
				diag_add(errs, "%s: setting 'host.security.allow_file': %s", where,
				         file_errs.lines[i]);
			diag_clear(&file_errs);
			free(where);
		}
		free(path);
	}
	if (c->allow_set && c->security_mode == SEC_PLAIN)
		bad(errs, config_setting_get_member(sec, "allow") ?
		    config_setting_get_member(sec, "allow") : config_setting_get_member(sec, "allow_file"),
		    "needs mode \"tls\" or \"mixed\": a plaintext peer cannot prove its peer id");
	if (c->nallow > 1)
		qsort(c->allow, (size_t)c->nallow, sizeof(*c->allow), cmp_str);
}

const char *security_mode_name(int mode)
{
	return mode == SEC_PLAIN ? "plain" : mode == SEC_MIXED ? "mixed" : "tls";
}

int config_allows(const struct host_config *c, const char *peer_id)
{
	if (!c->allow_set)
		return 1;
	return c->nallow > 0 &&
	       bsearch(&peer_id, c->allow, (size_t)c->nallow, sizeof(*c->allow), cmp_str) != NULL;
}

/* host.limits: the daemon's defaults, then what the group (NULL: none) says.
 * The simulator's scenarios parse their `host` group with this too. */
void config_load_limits(struct host_config *c, const config_setting_t *limits, struct diag *errs)
{
	static const char *const limit_keys[] = {
		"max_connections", "max_inbound", "max_outbound", "max_connections_per_ip",
		"ipv6_prefix", "max_frame", "max_output", "max_buffered", NULL
	};

	c->max_inbound = 10000;
	c->max_outbound = 1024;
	c->max_connections_per_ip = 1000;
	c->ipv6_prefix = 64;
	c->max_frame = 1048576;
	c->max_output = 4194304;
	c->max_buffered = 256L << 20;
	if (limits != NULL) {
		const config_setting_t *old = config_setting_get_member(limits, "max_connections");
		check_keys(limits, limit_keys, errs);
		/* max_connections is the old name of max_inbound. */
		if (old != NULL && config_setting_get_member(limits, "max_inbound") != NULL)
			bad(errs, old, "is the old name of max_inbound; set only max_inbound");
		get_long(limits, "max_connections", 1, 1000000, &c->max_inbound, errs);
		get_long(limits, "max_inbound", 1, 1000000, &c->max_inbound, errs);
		get_long(limits, "max_outbound", 1, 1000000, &c->max_outbound, errs);
		get_long(limits, "max_connections_per_ip", 1, 1000000, &c->max_connections_per_ip, errs);
		get_long(limits, "ipv6_prefix", 16, 128, &c->ipv6_prefix, errs);
		get_long(limits, "max_frame", 0, 1L << 30, &c->max_frame, errs);
		get_long(limits, "max_output", 64, 1L << 31, &c->max_output, errs);
		get_long(limits, "max_buffered", 65536, 1L << 40, &c->max_buffered, errs);
		if (c->max_output < c->max_frame + MP2P_FRAME_HEADER)
			bad(errs, config_setting_get_member(limits, "max_output") ?
			    config_setting_get_member(limits, "max_output") : limits,
			    "must be at least max_frame + 20 (%ld), or no frame could be sent",
			    c->max_frame + MP2P_FRAME_HEADER);
		if (c->max_buffered < 2 * (c->max_frame + MP2P_FRAME_HEADER))
			bad(errs, config_setting_get_member(limits, "max_buffered") ?
			    config_setting_get_member(limits, "max_buffered") : limits,
			    "must be at least twice max_frame + 20 (%ld), or one frame in and one out "
			    "would not fit", 2 * (c->max_frame + MP2P_FRAME_HEADER));
	}
}

/* host.timeouts, likewise shared with the simulator. */
void config_load_timeouts(struct host_config *c, const config_setting_t *timeouts, struct diag *errs)
{
	static const char *const timeout_keys[] = {
		"connect", "idle", "frame", "write", "first_frame", NULL
	};

	c->t_connect = 5.0;
	c->t_idle = 300.0;
	c->t_frame = 10.0;
	c->t_write = 10.0;
	c->t_first_frame = 5.0;
	if (timeouts != NULL) {
		check_keys(timeouts, timeout_keys, errs);
		get_seconds(timeouts, "connect", &c->t_connect, errs);
		get_seconds(timeouts, "idle", &c->t_idle, errs);
		get_seconds(timeouts, "frame", &c->t_frame, errs);
		get_seconds(timeouts, "write", &c->t_write, errs);
		get_seconds(timeouts, "first_frame", &c->t_first_frame, errs);
	}
}

static void load_host(struct host_config *c, const config_setting_t *host, struct diag *errs)
{
	static const char *const host_keys[] = {
		"id", "listen", "advertise", "state_dir", "control", "plugin_dir",
		"log_level", "limits", "timeouts", "dial", "log", "metrics_listen",
		"checkpoint_interval", "security", NULL
	};
	const config_setting_t *limits = NULL, *timeouts = NULL, *dial = NULL;
	const config_setting_t *security = NULL;
	struct sockaddr_storage ss;
	char *level, control[4096 + 16];
	int len;

	if (host != NULL) {
		check_keys(host, host_keys, errs);
		limits = get_group(host, "limits", errs);
		timeouts = get_group(host, "timeouts", errs);
		dial = get_group(host, "dial", errs);
		security = get_group(host, "security", errs);
	}
	c->id = get_string(host, "id", NULL, errs);
	if (c->id != NULL && strpbrk(c->id, " \t\r\n,|") != NULL)
		bad(errs, config_setting_get_member(host, "id"),
		    "must not contain spaces, ',' or '|'");
	load_listen(c, host, errs);
	c->advertise = get_string(host, "advertise", NULL, errs);
	if (c->advertise != NULL && addr_parse(c->advertise, &ss, &len) < 0)
		bad(errs, config_setting_get_member(host, "advertise"),
		    "'%s' is not a numeric ADDR:PORT", c->advertise);
	c->state_dir = get_string(host, "state_dir", default_state_dir(), errs);
	default_control(control, sizeof(control));
	c->control = get_string(host, "control", control, errs);
	c->plugin_dir = get_string(host, "plugin_dir", PLUGINDIR, errs);
	level = get_string(host, "log_level", "info", errs);
	c->log_level = log_level_parse(level);
	if (c->log_level < 0) {
		bad(errs, config_setting_get_member(host, "log_level"),
		    "must be one of error, warn, info, debug (got '%s')", level);
		c->log_level = HLOG_INFO;
	}
	free(level);
	level = get_string(host, "log", "stderr", errs);
	c->log_target = level ? log_target_parse(level) : LOG_TO_STDERR;
	if (c->log_target < 0) {
		bad(errs, config_setting_get_member(host, "log"),
		    "must be \"stderr\" or \"syslog\" (got '%s')", level);
		c->log_target = LOG_TO_STDERR;
	}
	free(level);
	c->metrics_listen = get_string(host, "metrics_listen", NULL, errs);
	if (c->metrics_listen != NULL && addr_parse_listen(c->metrics_listen, &ss, &len) < 0)
		bad(errs, config_setting_get_member(host, "metrics_listen"),
		    "'%s' is not a numeric ADDR:PORT (IPv6 as [ADDR]:PORT)", c->metrics_listen);

	config_load_limits(c, limits, errs);
	config_load_timeouts(c, timeouts, errs);
	config_load_dial(c, dial, errs);
	load_security(c, security, errs);
	load_checkpoint_interval(c, host, errs);
}

/* 0 turns periodic checkpoints off; more often than once a second would
 * only wear the disk. */
static void load_checkpoint_interval(struct host_config *c, const config_setting_t *host,
                                     struct diag *errs)
{
	const config_setting_t *s = host ? config_setting_get_member(host, "checkpoint_interval") : NULL;

	c->checkpoint_interval = 0;
	if (s == NULL)
		return;
	if ((config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) &&
	    config_setting_get_int64(s) == 0)
		return;
	get_seconds(host, "checkpoint_interval", &c->checkpoint_interval, errs);
	if (c->checkpoint_interval > 0 && c->checkpoint_interval < 1.0) {
		bad(errs, s, "must be 0 (off) or at least 1 second");
		c->checkpoint_interval = 0;
	}
}

static int name_ok(const char *name)
{
	/* A leading dot is the host's own (state_dir/.plugins). */
	if (name[0] == '\0' || name[0] == '.' || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return 0;
	for (const char *const *r = reserved_names; *r; r++)
		if (strcmp(name, *r) == 0)
			return 0;
	return 1;
}

static void load_plugin(struct host_config *c, const config_setting_t *g, struct diag *errs)
{
	static const char *const plugin_keys[] = { "name", "file", "required", "config", NULL };
	struct plugin_conf *pc = &c->plugins[c->nplugins];
	const config_setting_t *s;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		bad(errs, g, "each plugin must be a group { name = ...; file = ...; }");
		return;
	}
	check_keys(g, plugin_keys, errs);
	memset(pc, 0, sizeof(*pc));
	pc->line = (int)config_setting_source_line(g);
	pc->required = 1;
	pc->name = get_string(g, "name", NULL, errs);
	pc->file = get_string(g, "file", NULL, errs);
	if (pc->name == NULL && config_setting_get_member(g, "name") == NULL)
		bad(errs, g, "a plugin needs a name");
	if (pc->file == NULL && config_setting_get_member(g, "file") == NULL)
		bad(errs, g, "a plugin needs a file");
	if (pc->name != NULL && !name_ok(pc->name))
		bad(errs, config_setting_get_member(g, "name"),
		    "'%s' must be 1-64 of [A-Za-z0-9_.-], not start with '.', and not be a host command", pc->name);
	for (int i = 0; pc->name && i < c->nplugins; i++)
		if (c->plugins[i].name && strcmp(c->plugins[i].name, pc->name) == 0)
			bad(errs, config_setting_get_member(g, "name"),
			    "a plugin named '%s' is already defined at line %d", pc->name,
			    c->plugins[i].line);
	if ((s = config_setting_get_member(g, "required")) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			bad(errs, s, "must be true or false");
		else
			pc->required = config_setting_get_bool(s);
	}
	if ((s = config_setting_get_member(g, "config")) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			bad(errs, s, "must be a group { ... }");
		else
			pc->config = s;
	}
	pc->config_text = config_dump(pc->config);
	c->nplugins++;
}

/* The `plugins` list, shared with the simulator's scenarios. */
void config_load_plugins(struct host_config *c, const config_setting_t *list, struct diag *errs)
{
	int n;

	if (list == NULL)
		return;
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		bad(errs, list, "must be a list ( { ... }, { ... } )");
		return;
	}
	n = config_setting_length(list);
	if (n > MAX_INSTANCES) {
		bad(errs, list, "at most %d plugins may run on one host", MAX_INSTANCES);
		n = MAX_INSTANCES;
	}
	c->plugins = calloc((size_t)n + 1, sizeof(*c->plugins));
	for (int i = 0; i < n; i++)
		load_plugin(c, config_setting_get_elem(list, (unsigned)i), errs);
}

int config_load(struct host_config *c, const char *path, struct diag *errs)
{
	static const char *const top_keys[] = { "host", "plugins", NULL };
	const config_setting_t *root, *host;
	int before = errs->count;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	config_init(&c->lc);
	c->lc_live = 1;
	/* Read through our own FILE so a missing file is told with errno,
	 * and give libconfig the name to put in its source positions. */
	if ((f = fopen(path, "r")) == NULL) {
		diag_add(errs, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	fclose(f);
	if (config_read_file(&c->lc, path) != CONFIG_TRUE) {
		diag_add(errs, "%s:%d: %s", config_error_file(&c->lc) ? config_error_file(&c->lc) : path,
		         config_error_line(&c->lc), config_error_text(&c->lc));
		return -1;
	}
	root = config_root_setting(&c->lc);
	check_keys(root, top_keys, errs);
	host = get_group(root, "host", errs);
	load_host(c, host, errs);
	config_load_plugins(c, config_setting_get_member(root, "plugins"), errs);
	return errs->count > before ? -1 : 0;
}

/* The checks above, for the simulator's scenario parser: one voice for
 * every file an operator writes. */
void config_bad(struct diag *errs, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vbad(errs, s, fmt, ap);
	va_end(ap);
}

int config_check_keys(const config_setting_t *group, const char *const *known, struct diag *errs)
{
	return check_keys(group, known, errs);
}

char *config_get_string(const config_setting_t *group, const char *key, const char *def,
                        struct diag *errs)
{
	return get_string(group, key, def, errs);
}

void config_get_long(const config_setting_t *group, const char *key, long lo, long hi,
                     long *out, struct diag *errs)
{
	get_long(group, key, lo, hi, out, errs);
}

const config_setting_t *config_get_group(const config_setting_t *parent, const char *key,
                                         struct diag *errs)
{
	return get_group(parent, key, errs);
}

void config_release(struct host_config *c)
{
	for (int i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->listen);
	for (int i = 0; i < c->nplugins; i++) {
		free(c->plugins[i].name);
		free(c->plugins[i].file);
		free(c->plugins[i].config_text);
	}
	free(c->plugins);
	for (int i = 0; i < c->nallow; i++)
		free(c->allow[i]);
	free(c->allow);
	free(c->path);
	free(c->id);
	free(c->advertise);
	free(c->state_dir);
	free(c->control);
	free(c->plugin_dir);
	free(c->dial_deny);
	free(c->metrics_listen);
	if (c->lc_live)
		config_destroy(&c->lc);
	memset(c, 0, sizeof(*c));
}

/* A canonical text of a setting tree, so a reload can tell whether a
 * plugin's config changed without comparing files line by line. */
static void dump(const config_setting_t *s, FILE *out, int top)
{
	const char *name = config_setting_name(s);

	if (name && !top)
		fprintf(out, "%s=", name);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: fprintf(out, "%lld", config_setting_get_int64(s)); break;
	case CONFIG_TYPE_FLOAT: fprintf(out, "%.17g", config_setting_get_float(s)); break;
	case CONFIG_TYPE_BOOL: fprintf(out, "%s", config_setting_get_bool(s) ? "true" : "false"); break;
	case CONFIG_TYPE_STRING: fprintf(out, "\"%s\"", config_setting_get_string(s)); break;
	default: {
		int agg = config_setting_type(s);
		fputc(agg == CONFIG_TYPE_GROUP ? '{' : agg == CONFIG_TYPE_ARRAY ? '[' : '(', out);
		for (int i = 0; i < config_setting_length(s); i++) {
			dump(config_setting_get_elem(s, (unsigned)i), out, 0);
			fputc(';', out);
		}
		fputc(agg == CONFIG_TYPE_GROUP ? '}' : agg == CONFIG_TYPE_ARRAY ? ']' : ')', out);
	}
	}
}

char *config_dump(const config_setting_t *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	if (s == NULL)
		return strdup("{}");
	if ((out = open_memstream(&buf, &len)) == NULL)
		return NULL;
	dump(s, out, 1);
	fclose(out);
	return buf;
}

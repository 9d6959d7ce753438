/* sim_scenario.c -- the simulator's scenario file: libconfig, checked whole
 * and as strictly as maybep2p.conf. Every problem names the file, the line
 * and the setting; unknown keys, wrong types and out-of-range values are
 * errors, never silently ignored.
 *
 * The `host` group and the `plugins` list are parsed by config.c's own
 * functions, so a scenario accepts exactly what the daemon accepts there
 * and the defaults are the daemon's. A scenario looks like this (the files
 * in etc/sim/ are commented examples):
 *
 *     nodes = 1000; seed = 1; duration = 600.0; sample_every = 30.0; join_every = 0.05;
 *     host = { plugin_dir = "..."; log_level = "warn"; timeouts = { ... }; limits = { ... }; };
 *     plugins = ( { name = "kad"; file = "kademlia.so"; config = { ... }; } );
 *     network = {
 *         latency = { model = "lognormal"; mean_ms = 50.0; sd_ms = 25.0; };
 *         bandwidth = 1250000; handshake_rtts = 1.0; dial_fail = 0.01;
 *     };
 *     churn = { start = 300.0; session = { dist = "weibull"; scale = 3600.0; shape = 0.5; };
 *               down = { dist = "exponential"; mean = 600.0; }; };
 *     workload = ( { at = 60.0; every = 0.5; repeat = 100; command = "kad put k%i v%i"; } );
 */
#include "config.h"
#include "sim.h"

#include <errno.h>
#include <math.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A simulated run longer than a virtual month is a mistake in units. */
#define MAX_DURATION (86400.0 * 31)
#define MAX_NODES 10000000L
#define MAX_WORDS 64
#define MAX_WORD 1024

/* Host commands a workload may name besides the plugin instances. */
static const char *const host_commands[] = {
	"status", "plugins", "connections", "stats", "help", NULL
};

/* Where a missing setting should have been: its group's line, or the file
 * itself for the top level, which has no line of its own. */
static void missing(struct diag *errs, const char *path, const config_setting_t *parent,
                    const char *key, const char *what)
{
	if (parent != NULL && config_setting_parent(parent) != NULL)
		config_bad(errs, parent, "needs '%s' (%s)", key, what);
	else
		diag_add(errs, "%s: setting '%s' is missing: %s", path ? path : "?", key, what);
}

/* A number in [lo, hi] (integers accepted where a float is meant).
 * Returns 1 when set, 0 when absent, -1 when wrong. */
static int get_number(const config_setting_t *group, const char *key, double lo, double hi,
                      double *out, struct diag *errs)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;
	double v;

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: v = (double)config_setting_get_int64(s); break;
	default:
		config_bad(errs, s, "must be a number");
		return -1;
	}
	if (!(v >= lo && v <= hi)) {
		config_bad(errs, s, "must be between %g and %g (got %g)", lo, hi, v);
		return -1;
	}
	*out = v;
	return 1;
}

/* The parameters of each distribution, by the name the operator writes. */
struct dist_keys {
	const char *p1, *p2;
};
static const struct dist_keys dist_keys[] = {
	[SIM_DIST_CONSTANT] = { "value", NULL },
	[SIM_DIST_UNIFORM] = { "min", "max" },
	[SIM_DIST_EXPONENTIAL] = { "mean", NULL },
	[SIM_DIST_WEIBULL] = { "scale", "shape" },
	[SIM_DIST_LOGNORMAL] = { "mean", "sd" },
};

/* A distribution group: { KINDKEY = "weibull"; scale = ...; shape = ...; }.
 * Parameters are read as NAME + suffix ("mean_ms") times `unit`, except the
 * Weibull shape, which has no unit. `constant_key` renames the constant's
 * value ("rtt" for a latency). `allowed` is a mask of kinds. */
struct dist_spec {
	const char *kind_key;
	const char *suffix;
	double unit;
	double max;                  /* in the operator's unit */
	const char *constant_key;
	unsigned allowed;
};

static int parse_dist(const config_setting_t *g, const struct dist_spec *sp, struct sim_dist *d,
                      const char *const *extra_keys, struct diag *errs)
{
	char k1[64], k2[64], kinds[128] = "";
	const char *keys[8];
	const config_setting_t *ks = config_setting_get_member(g, sp->kind_key);
	const char *kind_name;
	int kind, n = 0, before = errs->count;
	double a = 0, b = 0;

	for (int k = SIM_DIST_CONSTANT; k <= SIM_DIST_LOGNORMAL; k++)
		if (sp->allowed & (1u << k))
			snprintf(kinds + strlen(kinds), sizeof(kinds) - strlen(kinds), "%s\"%s\"",
			         kinds[0] ? ", " : "", sim_dist_name(k));
	if (ks == NULL) {
		missing(errs, NULL, g, sp->kind_key, kinds);
		return -1;
	}
	kind_name = config_setting_get_string(ks);
	kind = kind_name ? sim_dist_kind_parse(kind_name) : -1;
	if (kind < 0 || !(sp->allowed & (1u << kind))) {
		config_bad(errs, ks, "must be one of %s", kinds);
		return -1;
	}
	snprintf(k1, sizeof(k1), "%s%s", kind == SIM_DIST_CONSTANT && sp->constant_key ?
	         sp->constant_key : dist_keys[kind].p1, sp->suffix);
	if (kind == SIM_DIST_WEIBULL)
		snprintf(k2, sizeof(k2), "shape");
	else if (dist_keys[kind].p2 != NULL)
		snprintf(k2, sizeof(k2), "%s%s", dist_keys[kind].p2, sp->suffix);
	keys[n++] = sp->kind_key;
	keys[n++] = k1;
	if (dist_keys[kind].p2 != NULL)
		keys[n++] = k2;
	for (const char *const *e = extra_keys; e && *e && n < 7; e++)
		keys[n++] = *e;
	keys[n] = NULL;
	config_check_keys(g, keys, errs);

	if (get_number(g, k1, 0, sp->max, &a, errs) == 0)
		missing(errs, NULL, g, k1, "a number");
	if (dist_keys[kind].p2 != NULL) {
		double hi = kind == SIM_DIST_WEIBULL ? 100.0 : sp->max;
		if (get_number(g, k2, 0, hi, &b, errs) == 0)
			missing(errs, NULL, g, k2, "a number");
	}
	if (errs->count > before)
		return -1;
	/* Zero where the formula would divide by it. */
	if ((kind == SIM_DIST_EXPONENTIAL || kind == SIM_DIST_WEIBULL || kind == SIM_DIST_LOGNORMAL) &&
	    a <= 0) {
		config_bad(errs, config_setting_get_member(g, k1), "must be more than 0");
		return -1;
	}
	if (kind == SIM_DIST_WEIBULL && b <= 0) {
		config_bad(errs, config_setting_get_member(g, k2), "must be more than 0");
		return -1;
	}
	if (kind == SIM_DIST_UNIFORM && b < a) {
		config_bad(errs, config_setting_get_member(g, k2), "must be at least %s (%g)", k1, a);
		return -1;
	}
	d->kind = kind;
	d->a = a * sp->unit;
	d->b = kind == SIM_DIST_WEIBULL ? b : b * sp->unit;
	return 0;
}

static const config_setting_t *need_group(const char *path, const config_setting_t *parent,
                                          const char *key, struct diag *errs)
{
	const config_setting_t *g = config_get_group(parent, key, errs);

	if (g == NULL && config_setting_get_member(parent, key) == NULL)
		missing(errs, path, parent, key, "a group { ... }");
	return g;
}

/* A path in the scenario is relative to the scenario's own directory. */
static char *beside(const char *scenario, const char *file)
{
	const char *slash = strrchr(scenario, '/');

	if (file[0] == '/' || slash == NULL)
		return strdup(file);
	return str_printf("%.*s/%s", (int)(slash - scenario), scenario, file);
}

static void load_matrix(struct sim_scenario *s, const config_setting_t *g, struct diag *errs)
{
	static const char *const keys[] = { "model", "file", "weights", "jitter", NULL };
	const config_setting_t *w = config_setting_get_member(g, "weights");
	char *file, *full, *where;
	struct diag file_errs = { 0 };
	double jitter = 0;

	config_check_keys(g, keys, errs);
	file = config_get_string(g, "file", NULL, errs);
	if (file == NULL) {
		if (config_setting_get_member(g, "file") == NULL)
			missing(errs, s->path, g, "file", "the matrix of RTTs between regions");
		return;
	}
	get_number(g, "jitter", 0, 1, &jitter, errs);
	full = beside(s->path, file);
	where = config_where(config_setting_get_member(g, "file"));
	if (sim_latency_matrix_load(&s->latency, full, &file_errs) < 0)
		for (int i = 0; i < file_errs.count; i++)
			diag_add(errs, "%s: setting 'network.latency.file': %s", where, file_errs.lines[i]);
	diag_clear(&file_errs);
	free(where);
	free(full);
	free(file);
	s->latency.jitter = jitter;
	if (w == NULL || s->latency.nregions == 0)
		return;
	if (config_setting_type(w) != CONFIG_TYPE_ARRAY && config_setting_type(w) != CONFIG_TYPE_LIST) {
		config_bad(errs, w, "must be an array of numbers [ 0.5, 0.3, 0.2 ], one per region");
		return;
	}
	if (config_setting_length(w) != s->latency.nregions) {
		config_bad(errs, w, "gives %d weights for %d regions", config_setting_length(w),
		           s->latency.nregions);
		return;
	}
	s->latency.weights = calloc((size_t)s->latency.nregions, sizeof(double));
	for (int i = 0; i < s->latency.nregions && s->latency.weights; i++) {
		const config_setting_t *e = config_setting_get_elem(w, (unsigned)i);
		int t = config_setting_type(e);
		double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(e) :
		           (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ?
		           (double)config_setting_get_int64(e) : -1;
		if (!(v >= 0 && v <= 1e9)) {
			config_bad(errs, e, "weight %d (region '%s') must be a number from 0 to 1e9", i,
			           s->latency.regions[i]);
			continue;
		}
		s->latency.weights[i] = v;
	}
}

static void load_latency(struct sim_scenario *s, const config_setting_t *g, struct diag *errs)
{
	static const struct dist_spec spec = {
		.kind_key = "model", .suffix = "_ms", .unit = 0.001, .max = 60000.0,
		.constant_key = "rtt",
		.allowed = 1u << SIM_DIST_CONSTANT | 1u << SIM_DIST_UNIFORM | 1u << SIM_DIST_LOGNORMAL,
	};
	const config_setting_t *m = config_setting_get_member(g, "model");
	const char *model = m ? config_setting_get_string(m) : NULL;

	if (model != NULL && strcmp(model, "matrix") == 0) {
		load_matrix(s, g, errs);
		s->nregions_assigned = s->latency.nregions;
		return;
	}
	if (m != NULL && (model == NULL || sim_dist_kind_parse(model) < 0 ||
	                  !(spec.allowed & (1u << sim_dist_kind_parse(model))))) {
		config_bad(errs, m, "must be \"constant\", \"uniform\", \"lognormal\" or \"matrix\"");
		return;
	}
	if (parse_dist(g, &spec, &s->latency.dist, NULL, errs) < 0)
		return;
	s->latency.kind = s->latency.dist.kind == SIM_DIST_CONSTANT ? SIM_LAT_CONSTANT :
	                  s->latency.dist.kind == SIM_DIST_UNIFORM ? SIM_LAT_UNIFORM : SIM_LAT_LOGNORMAL;
	s->nregions_assigned = 1;
}

static void load_network(struct sim_scenario *s, const config_setting_t *net, struct diag *errs)
{
	static const char *const keys[] = {
		"latency", "bandwidth", "handshake_rtts", "dial_fail", "trace", NULL
	};
	const config_setting_t *lat, *trace = config_setting_get_member(net, "trace");

	config_check_keys(net, keys, errs);
	if ((lat = need_group(s->path, net, "latency", errs)) != NULL)
		load_latency(s, lat, errs);
	get_number(net, "bandwidth", 0, 1e12, &s->bandwidth, errs);
	get_number(net, "handshake_rtts", 0, 10, &s->handshake_rtts, errs);
	get_number(net, "dial_fail", 0, 1, &s->dial_fail, errs);
	if (trace != NULL && config_setting_type(trace) != CONFIG_TYPE_BOOL)
		config_bad(errs, trace, "must be true or false");
	else if (trace != NULL)
		s->trace = config_setting_get_bool(trace);
}

static void load_churn(struct sim_scenario *s, const config_setting_t *churn, struct diag *errs)
{
	static const char *const keys[] = { "start", "session", "down", NULL };
	static const struct dist_spec spec = {
		.kind_key = "dist", .suffix = "", .unit = 1.0, .max = MAX_DURATION,
		.allowed = 1u << SIM_DIST_CONSTANT | 1u << SIM_DIST_UNIFORM | 1u << SIM_DIST_EXPONENTIAL |
		           1u << SIM_DIST_WEIBULL | 1u << SIM_DIST_LOGNORMAL,
	};
	const config_setting_t *g;

	config_check_keys(churn, keys, errs);
	s->churn = 1;
	get_number(churn, "start", 0, MAX_DURATION, &s->churn_start, errs);
	/* A session of length 0 would stop and start a node without end. */
	if ((g = need_group(s->path, churn, "session", errs)) != NULL &&
	    parse_dist(g, &spec, &s->session, NULL, errs) == 0 && sim_dist_mean(&s->session) <= 0)
		config_bad(errs, g, "must have a mean above 0 seconds");
	if ((g = need_group(s->path, churn, "down", errs)) != NULL)
		parse_dist(g, &spec, &s->down, NULL, errs);
}

#define SHA256_PREFIX "%sha256:"

/* Only the substitutions sim_command_expand() knows; a typo is an error
 * here, not a command sent with a stray '%' at virtual hour three. */
static int check_substitutions(const char *w, const char **why)
{
	if (strncmp(w, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0)
		w += strlen(SHA256_PREFIX);
	for (const char *p = w; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 'i' && p[1] != 'x' && p[1] != '%') {
			*why = p[1] == 's' ? "%sha256: must start the word" :
			       "unknown substitution (known: %i, %x, %%, and %sha256: at a word's start)";
			return -1;
		}
	}
	return 0;
}

/* One word of one run, with %i, %x and %% replaced. */
static char *expand_word(const char *w, long run, struct sim_rng *r)
{
	size_t cap = strlen(w) + 1, n = 0;
	char *out;

	for (const char *p = w; *p; p++)
		if (p[0] == '%' && p[1] == 'x')
			cap += 64;
		else if (p[0] == '%' && p[1] == 'i')
			cap += 24;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	for (const char *p = w; *p; p++) {
		if (p[0] != '%' || p[1] == '\0') {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == 'i') {
			n += (size_t)snprintf(out + n, cap - n, "%ld", run);
		} else if (*p == 'x') {
			unsigned char b[32];
			sim_rng_bytes(r, b, sizeof(b));
			for (int i = 0; i < 32; i++)
				n += (size_t)snprintf(out + n, cap - n, "%02x", b[i]);
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return out;
}

static char *sha256_hex(const char *text)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *hex;

	if (EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) != 1 ||
	    (hex = malloc(2 * (size_t)len + 1)) == NULL)
		return NULL;
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

char **sim_command_expand(const struct sim_command *c, long run, struct sim_rng *r)
{
	char **out = calloc((size_t)c->argc + 1, sizeof(*out));

	for (int i = 0; out != NULL && i < c->argc; i++) {
		const char *w = c->argv[i];
		int hash = strncmp(w, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0;
		char *e = expand_word(hash ? w + strlen(SHA256_PREFIX) : w, run, r);
		if (e != NULL && hash) {
			char *h = sha256_hex(e);
			free(e);
			e = h;
		}
		if (e == NULL) {
			sim_command_words_free(out);
			return NULL;
		}
		out[i] = e;
	}
	return out;
}

void sim_command_words_free(char **words)
{
	for (char **w = words; w != NULL && *w != NULL; w++)
		free(*w);
	free(words);
}

/* Words of a command: a string split at spaces, or a list of strings. */
static int command_words(struct sim_command *c, const config_setting_t *cmd, struct diag *errs)
{
	const char *why;
	char *words[MAX_WORDS + 1];
	int n = 0;

	if (config_setting_type(cmd) == CONFIG_TYPE_STRING) {
		char *copy = strdup(config_setting_get_string(cmd)), *save = NULL, *w;
		for (w = copy ? strtok_r(copy, " \t", &save) : NULL; w && n <= MAX_WORDS;
		     w = strtok_r(NULL, " \t", &save))
			words[n++] = strdup(w);
		free(copy);
	} else if (config_setting_type(cmd) == CONFIG_TYPE_ARRAY ||
	           config_setting_type(cmd) == CONFIG_TYPE_LIST) {
		for (int i = 0; i < config_setting_length(cmd) && n <= MAX_WORDS; i++) {
			const char *v = config_setting_get_string(config_setting_get_elem(cmd, (unsigned)i));
			if (v == NULL || v[0] == '\0') {
				config_bad(errs, cmd, "word %d must be a non-empty string", i);
				goto fail;
			}
			words[n++] = strdup(v);
		}
	} else {
		config_bad(errs, cmd, "must be a string \"kad get key%%i\" or a list of words");
		return -1;
	}
	if (n == 0) {
		config_bad(errs, cmd, "names no command");
		return -1;
	}
	if (n > MAX_WORDS) {
		config_bad(errs, cmd, "has more than %d words", MAX_WORDS);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		if (words[i] == NULL) {
			config_bad(errs, cmd, "out of memory");
			goto fail;
		}
		if (strlen(words[i]) > MAX_WORD) {
			config_bad(errs, cmd, "word %d is longer than %d characters", i, MAX_WORD);
			goto fail;
		}
		if (check_substitutions(words[i], &why) < 0) {
			config_bad(errs, cmd, "word %d '%s': %s", i, words[i], why);
			goto fail;
		}
	}
	c->argv = calloc((size_t)n + 1, sizeof(*c->argv));
	if (c->argv == NULL)
		goto fail;
	memcpy(c->argv, words, sizeof(*words) * (size_t)n);
	c->argc = n;
	return 0;
fail:
	for (int i = 0; i < n; i++)
		free(words[i]);
	return -1;
}

static int command_target_ok(const struct sim_scenario *s, const char *word)
{
	for (const char *const *h = host_commands; *h; h++)
		if (strcmp(word, *h) == 0)
			return 1;
	for (int i = 0; i < s->host.nplugins; i++)
		if (s->host.plugins[i].name && strcmp(s->host.plugins[i].name, word) == 0)
			return 1;
	return 0;
}

static void load_command(struct sim_scenario *s, const config_setting_t *g, struct diag *errs)
{
	static const char *const keys[] = { "at", "every", "repeat", "node", "command", NULL };
	struct sim_command *c = &s->workload[s->nworkload];
	const config_setting_t *cmd;
	int before = errs->count;
	double last;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		config_bad(errs, g, "each workload entry must be a group { at = ...; command = ...; }");
		return;
	}
	config_check_keys(g, keys, errs);
	memset(c, 0, sizeof(*c));
	c->repeat = 1;
	c->node = -1;
	if (get_number(g, "at", 0, MAX_DURATION, &c->at, errs) == 0)
		missing(errs, s->path, g, "at", "the virtual second of the first run");
	get_number(g, "every", 0, MAX_DURATION, &c->every, errs);
	config_get_long(g, "repeat", 1, 1000000000L, &c->repeat, errs);
	config_get_long(g, "node", -1, s->nodes > 0 ? s->nodes - 1 : MAX_NODES, &c->node, errs);
	if ((cmd = config_setting_get_member(g, "command")) == NULL)
		missing(errs, s->path, g, "command", "the control command to run, as maybep2pctl takes it");
	else if (command_words(c, cmd, errs) == 0 && !command_target_ok(s, c->argv[0]))
		config_bad(errs, cmd, "'%s' is neither a plugin named in `plugins` nor a host command",
		           c->argv[0]);
	if (c->repeat > 1 && c->every <= 0 && config_setting_get_member(g, "repeat") != NULL)
		config_bad(errs, config_setting_get_member(g, "repeat"),
		           "repeats %ld times, so 'every' must be more than 0", c->repeat);
	last = c->at + c->every * (double)(c->repeat - 1);
	if (errs->count == before && s->duration > 0 && last >= s->duration)
		config_bad(errs, g, "its last run at %g s is not before the end of the run (duration %g s)",
		           last, s->duration);
	s->nworkload++;
}

static void load_workload(struct sim_scenario *s, const config_setting_t *list, struct diag *errs)
{
	int n;

	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		config_bad(errs, list, "must be a list ( { ... }, { ... } )");
		return;
	}
	n = config_setting_length(list);
	s->workload = calloc((size_t)n + 1, sizeof(*s->workload));
	for (int i = 0; i < n && s->workload != NULL; i++)
		load_command(s, config_setting_get_elem(list, (unsigned)i), errs);
}

/* The `host` group of a scenario: the settings that mean something for a
 * simulated node, parsed by the daemon's code with the daemon's defaults. */
static void load_host(struct sim_scenario *s, const config_setting_t *g, struct diag *errs)
{
	static const char *const keys[] = {
		"plugin_dir", "log_level", "limits", "timeouts", "dial", NULL
	};
	struct host_config *c = &s->host;
	char *level;

	if (g != NULL)
		config_check_keys(g, keys, errs);
	c->path = strdup(s->path);
	c->plugin_dir = config_get_string(g, "plugin_dir", PLUGINDIR, errs);
	/* 100,000 nodes at info would bury the one line that matters. */
	level = config_get_string(g, "log_level", "warn", errs);
	c->log_level = level ? log_level_parse(level) : HLOG_WARN;
	if (c->log_level < 0) {
		config_bad(errs, config_setting_get_member(g, "log_level"),
		           "must be one of error, warn, info, debug (got '%s')", level);
		c->log_level = HLOG_WARN;
	}
	free(level);
	config_load_limits(c, g ? config_get_group(g, "limits", errs) : NULL, errs);
	config_load_timeouts(c, g ? config_get_group(g, "timeouts", errs) : NULL, errs);
	config_load_dial(c, g ? config_get_group(g, "dial", errs) : NULL, errs);
	/* Virtual links carry plain frames: there is no TLS to simulate. */
	c->security_mode = SEC_PLAIN;
}

int sim_scenario_load(struct sim_scenario *s, const char *path, struct diag *errs)
{
	static const char *const top_keys[] = {
		"nodes", "seed", "duration", "sample_every", "join_every", "host", "plugins", "network",
		"churn", "workload", NULL
	};
	const config_setting_t *root, *g;
	long long seed = 1;
	int before = errs->count, rc;
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	s->seed = 1;
	s->sample_every = 60.0;
	s->handshake_rtts = 1.0;
	s->nregions_assigned = 1;
	config_init(&s->lc);
	if ((f = fopen(path, "r")) == NULL) {
		diag_add(errs, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	fclose(f);
	if (config_read_file(&s->lc, path) != CONFIG_TRUE) {
		diag_add(errs, "%s:%d: %s", config_error_file(&s->lc) ? config_error_file(&s->lc) : path,
		         config_error_line(&s->lc), config_error_text(&s->lc));
		return -1;
	}
	root = config_root_setting(&s->lc);
	config_check_keys(root, top_keys, errs);

	if (config_setting_get_member(root, "nodes") == NULL)
		missing(errs, path, root, "nodes", "how many nodes to simulate");
	config_get_long(root, "nodes", 1, MAX_NODES, &s->nodes, errs);
	if ((g = config_setting_get_member(root, "seed")) != NULL) {
		if (config_setting_type(g) != CONFIG_TYPE_INT && config_setting_type(g) != CONFIG_TYPE_INT64)
			config_bad(errs, g, "must be an integer");
		else if ((seed = config_setting_get_int64(g)) < 0)
			config_bad(errs, g, "must be 0 or more (got %lld)", seed);
		else
			s->seed = (uint64_t)seed;
	}
	rc = get_number(root, "duration", 0, MAX_DURATION, &s->duration, errs);
	if (rc == 0)
		missing(errs, path, root, "duration", "the virtual seconds to run");
	else if (rc == 1 && s->duration <= 0)
		config_bad(errs, config_setting_get_member(root, "duration"), "must be more than 0");
	if (get_number(root, "sample_every", 0, MAX_DURATION, &s->sample_every, errs) > 0 &&
	    s->sample_every <= 0)
		config_bad(errs, config_setting_get_member(root, "sample_every"), "must be more than 0");

	if (get_number(root, "join_every", 0, 3600.0, &s->join_every, errs) > 0 && s->duration > 0 &&
	    s->join_every * (double)(s->nodes - 1) >= s->duration)
		config_bad(errs, config_setting_get_member(root, "join_every"),
		           "the last node would join at %g s, not before the end of the run (duration %g s)",
		           s->join_every * (double)(s->nodes - 1), s->duration);

	load_host(s, config_get_group(root, "host", errs), errs);
	if ((g = config_setting_get_member(root, "plugins")) == NULL)
		missing(errs, path, root, "plugins", "the plugins every node runs, as in maybep2p.conf");
	else
		config_load_plugins(&s->host, g, errs);
	if ((g = need_group(path, root, "network", errs)) != NULL)
		load_network(s, g, errs);
	if ((g = config_get_group(root, "churn", errs)) != NULL)
		load_churn(s, g, errs);
	if ((g = config_setting_get_member(root, "workload")) != NULL)
		load_workload(s, g, errs);
	return errs->count > before ? -1 : 0;
}

void sim_scenario_free(struct sim_scenario *s)
{
	for (int i = 0; i < s->nworkload; i++) {
		for (int j = 0; j < s->workload[i].argc; j++)
			free(s->workload[i].argv[j]);
		free(s->workload[i].argv);
	}
	free(s->workload);
	sim_latency_free(&s->latency);
	/* The scenario owns lc; the host_config only borrows it. */
	s->host.lc_live = 0;
	config_release(&s->host);
	config_destroy(&s->lc);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

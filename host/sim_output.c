/* sim_output.c -- what a simulated run leaves behind: every workload result
 * (results.csv), per-node samples (samples.csv), the figures an operator
 * asks for (summary.json and the one summary line), gnuplot plots when
 * gnuplot is installed, and with network.trace every frame sent (frames.csv).
 *
 * Identical inputs give byte-identical files: every number is printed with
 * a fixed format, nothing depends on the wall clock, and the two figures
 * that do (wall time, peak memory) go to run.json alone. */
#include "config.h"
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* One workload result, kept for the summary and the plots. */
struct result {
	double at;
	double ms;
	int ok;
	int hops;                    /* -1: the reply gave none */
	int requests;
	int kind;                    /* index in o->kinds */
};

/* The per-node samples of one sampling round, reduced as they arrive. */
struct round {
	double at;
	long up;
	double conns_mean;
	long conns_p50, conns_p99, conns_max;
	double table_mean;
	double bytes_per_node_min;   /* sent + received since the last round, per up node, per minute */
};

struct sim_output {
	char *dir;                   /* NULL: summary only */
	FILE *results, *samples;
	FILE *frames;                /* network.trace; NULL: not traced */
	struct result *res;
	size_t nres, capres;
	char **kinds;                /* "kad get": a command's first two words */
	int nkinds;
	struct round *rounds;
	size_t nrounds, caprounds;
	/* The round being gathered. */
	double cur_at;
	int cur_open;
	long *cur_conns;
	size_t ncur, capcur;
	double cur_table, cur_bytes;
	/* Each node's last counters, to turn totals into traffic per round. */
	uint64_t *last_in, *last_out;
	size_t nlast;
	double last_round_at;
	int failed;                  /* a write failed: finish reports it */
	/* Totals of the run (sim_output_count), in the order first given. */
	struct count { char *group, *name; uint64_t value; } *counts;
	size_t ncounts, capcounts;
};

static char *join(const char *dir, const char *name)
{
	return str_printf("%s/%s", dir, name);
}

static FILE *create(const char *dir, const char *name, char **error_text)
{
	char *path = join(dir, name);
	FILE *f = path ? fopen(path, "w") : NULL;

	if (f == NULL && error_text != NULL)
		*error_text = str_printf("%s: cannot create: %s", path ? path : name, strerror(errno));
	free(path);
	return f;
}

struct sim_output *sim_output_open(const char *dir, char **error_text)
{
	struct sim_output *o = calloc(1, sizeof(*o));

	if (o == NULL)
		goto nomem;
	if (dir == NULL)
		return o;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		if (error_text)
			*error_text = str_printf("%s: cannot create the output directory: %s", dir,
			                         strerror(errno));
		free(o);
		return NULL;
	}
	if ((o->dir = strdup(dir)) == NULL)
		goto nomem;
	if ((o->results = create(dir, "results.csv", error_text)) == NULL ||
	    (o->samples = create(dir, "samples.csv", error_text)) == NULL) {
		sim_output_free(o);
		return NULL;
	}
	fputs("at_s,node,command,ok,latency_ms,hops,requests\n", o->results);
	fputs("at_s,node,up,bytes_in,bytes_out,conns,table_size\n", o->samples);
	return o;
nomem:
	if (error_text)
		*error_text = strdup("out of memory");
	free(o);
	return NULL;
}

/* The command's kind: its first two words, or its only word. */
static int kind_of(struct sim_output *o, const char *command)
{
	const char *p = command;
	size_t n;
	char **kinds;

	while (*p == ' ')
		p++;
	p += strcspn(p, " ");
	if (*p == ' ')
		p += 1 + strcspn(p + 1, " ");
	n = (size_t)(p - command);
	for (int i = 0; i < o->nkinds; i++)
		if (strlen(o->kinds[i]) == n && strncmp(o->kinds[i], command, n) == 0)
			return i;
	kinds = realloc(o->kinds, sizeof(*kinds) * (size_t)(o->nkinds + 1));
	if (kinds == NULL)
		return -1;
	o->kinds = kinds;
	if ((o->kinds[o->nkinds] = strndup(command, n)) == NULL)
		return -1;
	return o->nkinds++;
}

/* CSV quoting: only when needed, quotes doubled. */
static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_count(FILE *f, int v)
{
	if (v >= 0)
		fprintf(f, "%d", v);
}

int sim_output_trace_open(struct sim_output *o, char **error_text)
{
	if (o->dir == NULL || o->frames != NULL)
		return 0;
	if ((o->frames = create(o->dir, "frames.csv", error_text)) == NULL)
		return -1;
	fputs("at_s,node,peer,protocol,type,bytes\n", o->frames);
	return 0;
}

void sim_output_frame(struct sim_output *o, double at, long node, const char *peer,
                      const char *protocol, const char *type, size_t bytes)
{
	if (o->frames == NULL)
		return;
	fprintf(o->frames, "%.6f,%ld,", at, node);
	csv_field(o->frames, peer);
	fputc(',', o->frames);
	csv_field(o->frames, protocol);
	fputc(',', o->frames);
	csv_field(o->frames, type);
	fprintf(o->frames, ",%zu\n", bytes);
}

void sim_output_result(struct sim_output *o, double at, long node, const char *command, int ok,
                       double latency_ms, int hops, int requests)
{
	struct result *r;

	if (o->nres == o->capres) {
		size_t cap = o->capres ? o->capres * 2 : 1024;
		struct result *res = realloc(o->res, cap * sizeof(*res));
		if (res == NULL) {
			o->failed = 1;
			return;
		}
		o->res = res;
		o->capres = cap;
	}
	r = &o->res[o->nres++];
	r->at = at;
	r->ms = latency_ms >= 0 ? latency_ms : 0;
	r->ok = ok != 0;
	r->hops = hops;
	r->requests = requests;
	r->kind = kind_of(o, command);
	if (r->kind < 0)
		o->failed = 1;
	if (o->results == NULL)
		return;
	fprintf(o->results, "%.6f,%ld,", at, node);
	csv_field(o->results, command);
	fprintf(o->results, ",%d,%.3f,", r->ok, r->ms);
	csv_count(o->results, hops);
	fputc(',', o->results);
	csv_count(o->results, requests);
	fputc('\n', o->results);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of the values at or
 * below it. Exact and deterministic, no interpolation. */
static size_t rank(size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);
	return k == 0 ? 0 : k - 1;
}

static void close_round(struct sim_output *o)
{
	struct round *r;
	double minutes;

	if (!o->cur_open)
		return;
	o->cur_open = 0;
	if (o->nrounds == o->caprounds) {
		size_t cap = o->caprounds ? o->caprounds * 2 : 64;
		struct round *rounds = realloc(o->rounds, cap * sizeof(*rounds));
		if (rounds == NULL) {
			o->failed = 1;
			return;
		}
		o->rounds = rounds;
		o->caprounds = cap;
	}
	r = &o->rounds[o->nrounds++];
	memset(r, 0, sizeof(*r));
	r->at = o->cur_at;
	r->up = (long)o->ncur;
	if (o->ncur > 0) {
		double sum = 0;
		qsort(o->cur_conns, o->ncur, sizeof(long), cmp_long);
		for (size_t i = 0; i < o->ncur; i++)
			sum += (double)o->cur_conns[i];
		r->conns_mean = sum / (double)o->ncur;
		r->conns_p50 = o->cur_conns[rank(o->ncur, 0.5)];
		r->conns_p99 = o->cur_conns[rank(o->ncur, 0.99)];
		r->conns_max = o->cur_conns[o->ncur - 1];
		r->table_mean = o->cur_table / (double)o->ncur;
		minutes = (o->cur_at - o->last_round_at) / 60.0;
		r->bytes_per_node_min = minutes > 0 ? o->cur_bytes / (double)o->ncur / minutes : 0;
	}
	o->last_round_at = o->cur_at;
	o->ncur = 0;
	o->cur_table = 0;
	o->cur_bytes = 0;
}

/* Traffic since this node's last sample; a restarted node's counters start
 * again from zero, and then all of them are new. */
static double traffic(struct sim_output *o, long node, uint64_t in, uint64_t out)
{
	double t;

	if (node < 0)
		return 0;
	if ((size_t)node >= o->nlast) {
		size_t n = (size_t)node * 2 + 16;
		uint64_t *li = realloc(o->last_in, n * sizeof(*li));
		uint64_t *lo = li ? realloc(o->last_out, n * sizeof(*lo)) : NULL;
		if (li != NULL)
			o->last_in = li;
		if (lo == NULL) {
			o->failed = 1;
			return 0;
		}
		o->last_out = lo;
		memset(o->last_in + o->nlast, 0, (n - o->nlast) * sizeof(*li));
		memset(o->last_out + o->nlast, 0, (n - o->nlast) * sizeof(*lo));
		o->nlast = n;
	}
	t = (double)(in >= o->last_in[node] ? in - o->last_in[node] : in) +
	    (double)(out >= o->last_out[node] ? out - o->last_out[node] : out);
	o->last_in[node] = in;
	o->last_out[node] = out;
	return t;
}

void sim_output_sample(struct sim_output *o, double at, long node, int up, uint64_t bytes_in,
                       uint64_t bytes_out, long conns, long table_size)
{
	if (o->samples != NULL)
		fprintf(o->samples, "%.6f,%ld,%d,%llu,%llu,%ld,%ld\n", at, node, up != 0,
		        (unsigned long long)bytes_in, (unsigned long long)bytes_out, conns, table_size);
	if (o->cur_open && at != o->cur_at)
		close_round(o);
	if (!o->cur_open) {
		o->cur_open = 1;
		o->cur_at = at;
	}
	if (!up) {
		traffic(o, node, 0, 0);
		return;
	}
	if (o->ncur == o->capcur) {
		size_t cap = o->capcur ? o->capcur * 2 : 1024;
		long *c = realloc(o->cur_conns, cap * sizeof(*c));
		if (c == NULL) {
			o->failed = 1;
			return;
		}
		o->cur_conns = c;
		o->capcur = cap;
	}
	o->cur_conns[o->ncur++] = conns;
	o->cur_table += (double)table_size;
	o->cur_bytes += traffic(o, node, bytes_in, bytes_out);
}

/* Figures over a set of results: counts, success, latency percentiles of
 * the successful ones, hops and requests where the replies gave them. */
struct figures {
	size_t n, ok;
	double success;              /* percent */
	double p50, p90, p99, mean, max;
	double hops_median, hops_mean, req_median, req_mean;
	size_t counted;              /* ok results with hops and requests */
};

static void figures_of(const struct sim_output *o, int kind, struct figures *f)
{
	double *lat = malloc(sizeof(double) * (o->nres + 1));
	double *hops = malloc(sizeof(double) * (o->nres + 1));
	double *req = malloc(sizeof(double) * (o->nres + 1));
	double sum = 0, hsum = 0, rsum = 0;

	memset(f, 0, sizeof(*f));
	if (lat == NULL || hops == NULL || req == NULL)
		goto out;
	for (size_t i = 0; i < o->nres; i++) {
		const struct result *r = &o->res[i];
		if (kind >= 0 && r->kind != kind)
			continue;
		f->n++;
		if (!r->ok)
			continue;
		lat[f->ok++] = r->ms;
		sum += r->ms;
		if (r->hops >= 0 && r->requests >= 0) {
			hops[f->counted] = r->hops;
			req[f->counted++] = r->requests;
			hsum += r->hops;
			rsum += r->requests;
		}
	}
	f->success = f->n ? 100.0 * (double)f->ok / (double)f->n : 0;
	if (f->ok > 0) {
		qsort(lat, f->ok, sizeof(double), cmp_double);
		f->p50 = lat[rank(f->ok, 0.5)];
		f->p90 = lat[rank(f->ok, 0.9)];
		f->p99 = lat[rank(f->ok, 0.99)];
		f->max = lat[f->ok - 1];
		f->mean = sum / (double)f->ok;
	}
	if (f->counted > 0) {
		qsort(hops, f->counted, sizeof(double), cmp_double);
		qsort(req, f->counted, sizeof(double), cmp_double);
		f->hops_median = hops[rank(f->counted, 0.5)];
		f->req_median = req[rank(f->counted, 0.5)];
		f->hops_mean = hsum / (double)f->counted;
		f->req_mean = rsum / (double)f->counted;
	}
out:
	free(lat);
	free(hops);
	free(req);
}

/* JSON string: the scenario names and commands are ASCII an operator
 * wrote, but escape what JSON requires all the same. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_figures(FILE *f, const struct figures *g, const char *indent)
{
	fprintf(f, "%s\"commands\": %zu,\n%s\"ok\": %zu,\n%s\"success_pct\": %.2f,\n", indent, g->n,
	        indent, g->ok, indent, g->success);
	fprintf(f, "%s\"latency_ms\": { \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"mean\": %.3f, "
	        "\"max\": %.3f },\n", indent, g->p50, g->p90, g->p99, g->mean, g->max);
	fprintf(f, "%s\"lookups_counted\": %zu,\n", indent, g->counted);
	fprintf(f, "%s\"hops\": { \"median\": %.1f, \"mean\": %.3f },\n", indent, g->hops_median,
	        g->hops_mean);
	fprintf(f, "%s\"requests\": { \"median\": %.1f, \"mean\": %.3f }", indent, g->req_median,
	        g->req_mean);
}

/* Steady state: the rounds in the second half of the run, when start-up is
 * over. Means of each round's figures. */
static void json_samples(FILE *f, const struct sim_output *o, double duration)
{
	double up = 0, mean = 0, p50 = 0, p99 = 0, max = 0, table = 0, bytes = 0;
	size_t n = 0;

	for (size_t i = 0; i < o->nrounds; i++) {
		const struct round *r = &o->rounds[i];
		if (r->at < duration / 2 || r->up == 0)
			continue;
		up += (double)r->up;
		mean += r->conns_mean;
		p50 += (double)r->conns_p50;
		p99 += (double)r->conns_p99;
		if ((double)r->conns_max > max)
			max = (double)r->conns_max;
		table += r->table_mean;
		bytes += r->bytes_per_node_min;
		n++;
	}
	if (n > 0) {
		up /= (double)n;
		mean /= (double)n;
		p50 /= (double)n;
		p99 /= (double)n;
		table /= (double)n;
		bytes /= (double)n;
	}
	fprintf(f, "  \"steady_state\": {\n    \"rounds\": %zu,\n    \"nodes_up\": %.1f,\n", n, up);
	fprintf(f, "    \"conns_per_node\": { \"mean\": %.2f, \"p50\": %.1f, \"p99\": %.1f, "
	        "\"max\": %.0f },\n", mean, p50, p99, max);
	fprintf(f, "    \"table_size_mean\": %.2f,\n    \"bytes_per_node_per_min\": %.1f\n  }", table,
	        bytes);
}

/* Did a count before i open i's group already? */
static int group_seen(const struct sim_output *o, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(o->counts[j].group, o->counts[i].group) == 0)
			return 1;
	return 0;
}

static int write_summary(const struct sim_output *o, const struct sim_scenario *s,
                         const struct figures *all)
{
	const char *name = s && s->path ? (strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path) : "";
	char *path = join(o->dir, "summary.json");
	FILE *f = path ? fopen(path, "w") : NULL;
	int rc;

	free(path);
	if (f == NULL)
		return -1;
	fputs("{\n  \"scenario\": ", f);
	json_string(f, name);
	fprintf(f, ",\n  \"nodes\": %ld,\n  \"seed\": %llu,\n  \"duration_s\": %.3f,\n",
	        s ? s->nodes : 0, s ? (unsigned long long)s->seed : 0ULL, s ? s->duration : 0);
	json_figures(f, all, "  ");
	fputs(",\n  \"by_command\": [", f);
	for (int k = 0; k < o->nkinds; k++) {
		struct figures g;
		figures_of(o, k, &g);
		fputs(k ? ",\n    {\n      \"command\": " : "\n    {\n      \"command\": ", f);
		json_string(f, o->kinds[k]);
		fputs(",\n", f);
		json_figures(f, &g, "      ");
		fputs("\n    }", f);
	}
	fputs(o->nkinds ? "\n  ],\n" : "],\n", f);
	json_samples(f, o, s ? s->duration : 0);
	/* One object per group, each name once, in the order first given. */
	for (size_t i = 0; i < o->ncounts; i++) {
		int first = 1;
		if (i > 0 && group_seen(o, i))
			continue;
		fprintf(f, ",\n  \"%s\": {", o->counts[i].group);
		for (size_t j = i; j < o->ncounts; j++) {
			if (strcmp(o->counts[j].group, o->counts[i].group) != 0)
				continue;
			fprintf(f, "%s\n    ", first ? "" : ",");
			json_string(f, o->counts[j].name);
			fprintf(f, ": %llu", (unsigned long long)o->counts[j].value);
			first = 0;
		}
		fputs("\n  }", f);
	}
	fputs("\n}\n", f);
	rc = ferror(f) ? -1 : 0;
	return fclose(f) == 0 ? rc : -1;
}

static int write_run(const struct sim_output *o, const struct sim_scenario *s, double wall,
                     long rss_kib)
{
	char *path = join(o->dir, "run.json");
	FILE *f = path ? fopen(path, "w") : NULL;
	long nodes = s ? s->nodes : 0;

	free(path);
	if (f == NULL)
		return -1;
	fprintf(f, "{ \"wall_s\": %.3f, \"peak_rss_kib\": %ld, \"rss_per_node_kib\": %.2f }\n", wall,
	        rss_kib, nodes > 0 ? (double)rss_kib / (double)nodes : 0.0);
	return fclose(f);
}

/* The plots' data: one file per plot, plain columns gnuplot reads. */
static int write_plot_data(const struct sim_output *o, double duration)
{
	char *path;
	FILE *f;
	double bin = duration >= 600 ? 60.0 : (duration > 0 ? duration / 10.0 : 1.0);
	size_t nbins = (size_t)ceil((duration > 0 ? duration : 1.0) / bin) + 1;
	size_t *tot = calloc(nbins, sizeof(*tot)), *ok = calloc(nbins, sizeof(*ok));

	/* Latency CDF: per kind of command, the sorted latencies of its successes. */
	path = join(o->dir, "latency_cdf.dat");
	f = path ? fopen(path, "w") : NULL;
	free(path);
	if (f == NULL || tot == NULL || ok == NULL)
		goto fail;
	for (int k = 0; k < o->nkinds; k++) {
		double *v = malloc(sizeof(double) * (o->nres + 1));
		size_t n = 0;
		if (v == NULL)
			goto fail;
		for (size_t i = 0; i < o->nres; i++)
			if (o->res[i].kind == k && o->res[i].ok)
				v[n++] = o->res[i].ms;
		qsort(v, n, sizeof(double), cmp_double);
		fprintf(f, "# %s\n", o->kinds[k]);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%.3f %.6f\n", v[i], (double)(i + 1) / (double)n);
		fputs("\n\n", f);
		free(v);
	}
	fclose(f);

	path = join(o->dir, "success.dat");
	f = path ? fopen(path, "w") : NULL;
	free(path);
	if (f == NULL)
		goto fail;
	for (size_t i = 0; i < o->nres; i++) {
		size_t b = (size_t)(o->res[i].at / bin);
		if (b >= nbins)
			b = nbins - 1;
		tot[b]++;
		ok[b] += (size_t)o->res[i].ok;
	}
	for (size_t b = 0; b < nbins; b++)
		if (tot[b] > 0)
			fprintf(f, "%.3f %.2f %zu\n", ((double)b + 0.5) * bin / 60.0,
			        100.0 * (double)ok[b] / (double)tot[b], tot[b]);
	fclose(f);

	path = join(o->dir, "conns.dat");
	f = path ? fopen(path, "w") : NULL;
	free(path);
	if (f == NULL)
		goto fail;
	for (size_t i = 0; i < o->nrounds; i++)
		fprintf(f, "%.3f %ld %.2f %ld %ld %ld\n", o->rounds[i].at / 60.0, o->rounds[i].up,
		        o->rounds[i].conns_mean, o->rounds[i].conns_p50, o->rounds[i].conns_p99,
		        o->rounds[i].conns_max);
	fclose(f);
	free(tot);
	free(ok);
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	free(tot);
	free(ok);
	return -1;
}

static int on_path(const char *prog)
{
	const char *p = getenv("PATH");

	while (p != NULL && *p) {
		size_t n = strcspn(p, ":");
		char *full = str_printf("%.*s/%s", (int)n, p, prog);
		int found = full != NULL && n > 0 && access(full, X_OK) == 0;
		free(full);
		if (found)
			return 1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

/* The gnuplot script: only the plots there is data for. */
static void write_plot_script(const struct sim_output *o, FILE *f)
{
	fputs("set terminal png size 900,600\nset grid\nset key bottom right\n", f);
	if (o->nkinds > 0) {
		fputs("set output 'latency_cdf.png'\n"
		      "set title 'Latency of successful commands (CDF)'\n"
		      "set xlabel 'latency (ms)'\nset ylabel 'fraction of commands'\n"
		      "set yrange [0:1]\nplot ", f);
		for (int k = 0; k < o->nkinds; k++) {
			fprintf(f, "%s'latency_cdf.dat' index %d with lines lw 2 title ", k ? ", " : "", k);
			json_string(f, o->kinds[k]);
		}
		fputc('\n', f);
	}
	if (o->nres > 0)
		fputs("set output 'success.png'\n"
		      "set title 'Success rate over time'\n"
		      "set xlabel 'virtual time (min)'\nset ylabel 'successful commands (%)'\n"
		      "set yrange [*:100.5]\n"
		      "plot 'success.dat' using 1:2 with linespoints lw 2 title 'success'\n", f);
	if (o->nrounds > 0)
		fputs("set output 'conns.png'\n"
		      "set title 'Open connections per node'\n"
		      "set xlabel 'virtual time (min)'\nset ylabel 'connections'\n"
		      "set yrange [0:*]\nset key top right\n"
		      "plot 'conns.dat' using 1:3 with lines lw 2 title 'mean', "
		      "'' using 1:5 with lines lw 2 title 'p99', '' using 1:6 with lines title 'max'\n", f);
}

/* gnuplot runs in the output directory; the run has finished, so waiting
 * for it blocks nothing. */
static int plot(const struct sim_output *o)
{
	char *path = join(o->dir, "plots.gp");
	FILE *f = path ? fopen(path, "w") : NULL;
	pid_t pid;
	int status;

	free(path);
	if (f == NULL)
		return -1;
	write_plot_script(o, f);
	if (fclose(f) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		/* Its chatter about ranges is not the run's business; a failure is
		 * reported below and plots.gp stays to be run by hand. */
		if (devnull >= 0) {
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
			close(devnull);
		}
		if (chdir(o->dir) == 0)
			execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

void sim_output_count(struct sim_output *o, const char *group, const char *name, uint64_t value)
{
	struct count *c;

	for (size_t i = 0; i < o->ncounts; i++) {
		c = &o->counts[i];
		if (strcmp(c->name, name) == 0 && strcmp(c->group, group) == 0) {
			c->value += value;
			return;
		}
	}
	if (o->ncounts == o->capcounts) {
		size_t cap = o->capcounts ? 2 * o->capcounts : 16;
		if ((c = realloc(o->counts, cap * sizeof(*c))) == NULL) {
			o->failed = 1;
			return;
		}
		o->counts = c;
		o->capcounts = cap;
	}
	c = &o->counts[o->ncounts];
	c->group = strdup(group);
	c->name = strdup(name);
	c->value = value;
	if (c->group == NULL || c->name == NULL) {
		free(c->group);
		free(c->name);
		o->failed = 1;
		return;
	}
	o->ncounts++;
}

int sim_output_finish(struct sim_output *o, const struct sim_scenario *s, double wall_seconds,
                      long peak_rss_kib, FILE *out)
{
	struct figures all;
	int rc = o->failed ? -1 : 0;

	close_round(o);
	figures_of(o, -1, &all);
	if (out != NULL)
		fprintf(out, "nodes=%ld commands=%zu ok=%zu success=%.2f%% p50_ms=%.1f p99_ms=%.1f\n",
		        s ? s->nodes : 0, all.n, all.ok, all.success, all.p50, all.p99);
	if (o->dir == NULL)
		return rc;
	if (o->results != NULL && fflush(o->results) != 0)
		rc = -1;
	if (o->samples != NULL && fflush(o->samples) != 0)
		rc = -1;
	if (o->frames != NULL && fflush(o->frames) != 0)
		rc = -1;
	if (write_summary(o, s, &all) < 0 || write_run(o, s, wall_seconds, peak_rss_kib) < 0 ||
	    write_plot_data(o, s ? s->duration : 0) < 0)
		rc = -1;
	if (rc == 0 && on_path("gnuplot") && plot(o) < 0)
		log_msg(HLOG_WARN, "%s: gnuplot could not draw the plots (see plots.gp)", o->dir);
	return rc;
}

void sim_output_free(struct sim_output *o)
{
	if (o == NULL)
		return;
	if (o->results != NULL)
		fclose(o->results);
	if (o->samples != NULL)
		fclose(o->samples);
	if (o->frames != NULL)
		fclose(o->frames);
	for (int i = 0; i < o->nkinds; i++)
		free(o->kinds[i]);
	free(o->kinds);
	for (size_t i = 0; i < o->ncounts; i++) {
		free(o->counts[i].group);
		free(o->counts[i].name);
	}
	free(o->counts);
	free(o->res);
	free(o->rounds);
	free(o->cur_conns);
	free(o->last_in);
	free(o->last_out);
	free(o->dir);
	free(o);
}

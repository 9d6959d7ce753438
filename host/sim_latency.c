/* sim_latency.c -- how long a byte takes from one simulated node to another:
 * a round-trip time drawn from a distribution or read from a matrix of
 * regions, halved for one way, plus size over bandwidth.
 *
 * The matrix file is operator input and is read as strictly as a config
 * file: every problem names the file and the line. */
#include "config.h"
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any matrix a person writes by hand or a script generates. */
#define MAX_REGIONS 256
#define MAX_LINE 8192

double sim_latency_one_way(const struct sim_latency *l, int region_a, int region_b, struct sim_rng *r)
{
	double rtt;

	if (l->kind != SIM_LAT_MATRIX)
		return sim_dist_sample(&l->dist, r) / 2.0;
	if (region_a < 0 || region_a >= l->nregions || region_b < 0 || region_b >= l->nregions)
		return 0;
	rtt = l->rtt[(size_t)region_a * (size_t)l->nregions + (size_t)region_b];
	/* Without jitter nothing is drawn, so the stream is left for others. */
	if (l->jitter > 0)
		rtt *= 1.0 + l->jitter * (2.0 * sim_rng_unit(r) - 1.0);
	return rtt > 0 ? rtt / 2.0 : 0;
}

/* With weights, node i goes where the golden-ratio sequence frac(i * phi)
 * falls among the cumulative shares: deterministic, independent of the node
 * count, and regions interleave along the node numbers instead of forming
 * blocks (node numbers also pick addresses, so blocks would correlate). */
int sim_latency_region(const struct sim_latency *l, long node, long nodes)
{
	double x, cum = 0, total = 0;

	(void)nodes;
	if (l->kind != SIM_LAT_MATRIX || l->nregions <= 0 || node < 0)
		return 0;
	if (l->weights == NULL)
		return (int)(node % l->nregions);
	for (int i = 0; i < l->nregions; i++)
		total += l->weights[i];
	x = fmod((double)node * 0.61803398874989484820, 1.0) * total;
	for (int i = 0; i < l->nregions; i++) {
		cum += l->weights[i];
		if (x < cum)
			return i;
	}
	return l->nregions - 1;
}

double sim_latency_transfer(double bandwidth, uint64_t bytes)
{
	return bandwidth > 0 ? (double)bytes / bandwidth : 0;
}

void sim_latency_free(struct sim_latency *l)
{
	for (int i = 0; i < l->nregions; i++)
		free(l->regions[i]);
	free(l->regions);
	free(l->rtt);
	free(l->weights);
	l->regions = NULL;
	l->rtt = NULL;
	l->weights = NULL;
	l->nregions = 0;
}

/* Splits a line into at most `max` words in place; returns the count, or
 * max + 1 when there are more. A '#' starts a comment. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return max + 1;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '#')
			p++;
		if (*p == '#') {
			*p = '\0';
			return n;
		}
		if (*p)
			*p++ = '\0';
	}
}

static int region_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static int region_index(const struct sim_latency *l, const char *name)
{
	for (int i = 0; i < l->nregions; i++)
		if (strcmp(l->regions[i], name) == 0)
			return i;
	return -1;
}

/* The reader's state between lines. */
struct matrix_reader {
	const char *path;
	struct diag *errs;
	struct sim_latency *l;
	int *row_line;               /* line of each region's row; 0: not yet */
	int header_line;
};

static int read_header(struct matrix_reader *m, char **w, int n, int line)
{
	struct sim_latency *l = m->l;

	if (strcmp(w[0], "regions") != 0) {
		diag_add(m->errs, "%s:%d: the first line must be 'regions NAME ...' (got '%s')",
		         m->path, line, w[0]);
		return -1;
	}
	if (n < 2) {
		diag_add(m->errs, "%s:%d: 'regions' names no region", m->path, line);
		return -1;
	}
	if (n - 1 > MAX_REGIONS) {
		diag_add(m->errs, "%s:%d: at most %d regions", m->path, line, MAX_REGIONS);
		return -1;
	}
	l->regions = calloc((size_t)(n - 1), sizeof(*l->regions));
	l->rtt = calloc((size_t)(n - 1) * (size_t)(n - 1), sizeof(*l->rtt));
	m->row_line = calloc((size_t)(n - 1), sizeof(*m->row_line));
	if (l->regions == NULL || l->rtt == NULL || m->row_line == NULL) {
		diag_add(m->errs, "%s: out of memory", m->path);
		return -1;
	}
	for (int i = 1; i < n; i++) {
		if (!region_name_ok(w[i])) {
			diag_add(m->errs, "%s:%d: region name '%s' must be 1-64 of [A-Za-z0-9_.-]",
			         m->path, line, w[i]);
			return -1;
		}
		if (region_index(l, w[i]) >= 0) {
			diag_add(m->errs, "%s:%d: region '%s' is named twice", m->path, line, w[i]);
			return -1;
		}
		l->regions[l->nregions] = strdup(w[i]);
		if (l->regions[l->nregions] == NULL) {
			diag_add(m->errs, "%s: out of memory", m->path);
			return -1;
		}
		l->nregions++;
	}
	m->header_line = line;
	return 0;
}

static int read_row(struct matrix_reader *m, char **w, int n, int line)
{
	struct sim_latency *l = m->l;
	int row = region_index(l, w[0]);

	if (row < 0) {
		diag_add(m->errs, "%s:%d: '%s' is not a region named on line %d", m->path, line, w[0],
		         m->header_line);
		return -1;
	}
	if (m->row_line[row] != 0) {
		diag_add(m->errs, "%s:%d: region '%s' already has its row on line %d", m->path, line,
		         w[0], m->row_line[row]);
		return -1;
	}
	if (n - 1 != l->nregions) {
		diag_add(m->errs, "%s:%d: region '%s' gives %d RTTs; %d regions need %d", m->path, line,
		         w[0], n - 1, l->nregions, l->nregions);
		return -1;
	}
	for (int j = 0; j < l->nregions; j++) {
		char *end;
		double v;
		errno = 0;
		v = strtod(w[j + 1], &end);
		if (*end != '\0' || end == w[j + 1] || errno != 0 || !isfinite(v) || v < 0 || v > 60000) {
			diag_add(m->errs, "%s:%d: RTT '%s' from '%s' to '%s' must be a number of "
			         "milliseconds from 0 to 60000", m->path, line, w[j + 1], w[0],
			         l->regions[j]);
			return -1;
		}
		l->rtt[(size_t)row * (size_t)l->nregions + (size_t)j] = v / 1000.0;
		/* The matrix is symmetric: check against the transposed row if read. */
		if (m->row_line[j] != 0 && j != row &&
		    l->rtt[(size_t)j * (size_t)l->nregions + (size_t)row] != v / 1000.0) {
			diag_add(m->errs, "%s:%d: RTT from '%s' to '%s' is %s ms but line %d gives %g ms "
			         "the other way; RTTs are symmetric", m->path, line, w[0], l->regions[j],
			         w[j + 1], m->row_line[j],
			         l->rtt[(size_t)j * (size_t)l->nregions + (size_t)row] * 1000.0);
			return -1;
		}
	}
	m->row_line[row] = line;
	return 0;
}

int sim_latency_matrix_load(struct sim_latency *l, const char *path, struct diag *errs)
{
	struct matrix_reader m = { .path = path, .errs = errs, .l = l };
	char buf[MAX_LINE + 2], *w[MAX_REGIONS + 2];
	int line = 0, rc = 0;
	FILE *f;

	memset(l, 0, sizeof(*l));
	l->kind = SIM_LAT_MATRIX;
	if ((f = fopen(path, "r")) == NULL) {
		diag_add(errs, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
		int n;
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			diag_add(errs, "%s:%d: line longer than %d characters", path, line, MAX_LINE);
			rc = -1;
			break;
		}
		n = split_words(buf, w, MAX_REGIONS + 1);
		if (n == 0)
			continue;
		if (n > MAX_REGIONS + 1) {
			diag_add(errs, "%s:%d: more than %d regions", path, line, MAX_REGIONS);
			rc = -1;
		} else if (l->nregions == 0) {
			rc = read_header(&m, w, n, line);
		} else {
			rc = read_row(&m, w, n, line);
		}
	}
	if (rc == 0 && ferror(f)) {
		diag_add(errs, "%s: read error: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	if (rc == 0 && l->nregions == 0) {
		diag_add(errs, "%s:%d: no 'regions' line: the file names no region", path, line);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < l->nregions; i++) {
		if (m.row_line[i] == 0) {
			diag_add(errs, "%s:%d: region '%s' has no row of RTTs", path, line, l->regions[i]);
			rc = -1;
		}
	}
	free(m.row_line);
	if (rc != 0)
		sim_latency_free(l);
	return rc;
}

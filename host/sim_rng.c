/* sim_rng.c -- deterministic randomness for the simulator: xoshiro256**
 * streams seeded through splitmix64, and the distributions drawn from them.
 *
 * Each node and each model owns a stream named by (seed, stream number).
 * Streams never share state, so adding a node or a command leaves every
 * other stream's draws untouched and a run is reproduced by its seed. */
#include "config.h"
#include "sim.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The stream number goes through splitmix64 on its own before it meets the
 * seed, so that (seed, stream) and (seed + 1, stream - 1) do not collide. */
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t st = stream;
	uint64_t x = seed ^ splitmix64(&st);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	/* xoshiro's one forbidden state; splitmix64 all but never yields it. */
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1;
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double sim_rng_unit(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-and-reject: no modulo bias, one draw almost always. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
	unsigned __int128 m;
	uint64_t low, threshold;

	if (n == 0)
		return 0;
	m = (unsigned __int128)sim_rng_next(r) * n;
	low = (uint64_t)m;
	if (low < n) {
		threshold = -n % n;
		while (low < threshold) {
			m = (unsigned __int128)sim_rng_next(r) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

void sim_rng_bytes(struct sim_rng *r, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		uint64_t v = sim_rng_next(r);
		size_t n = len < 8 ? len : 8;
		/* Little-endian by construction, so the bytes do not depend on the machine. */
		for (size_t i = 0; i < n; i++)
			p[i] = (unsigned char)(v >> (8 * i));
		p += n;
		len -= n;
	}
}

/* (0, 1]: a logarithm of it is finite. */
static double unit_open(struct sim_rng *r)
{
	return 1.0 - sim_rng_unit(r);
}

/* Box-Muller; one of the pair is dropped so that a draw always costs two
 * numbers from the stream and nothing is cached between calls. */
static double normal(struct sim_rng *r)
{
	double u = unit_open(r), v = sim_rng_unit(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

double sim_dist_sample(const struct sim_dist *d, struct sim_rng *r)
{
	double x = 0;

	switch (d->kind) {
	case SIM_DIST_CONSTANT:
		x = d->a;
		break;
	case SIM_DIST_UNIFORM:
		x = d->a + (d->b - d->a) * sim_rng_unit(r);
		break;
	case SIM_DIST_EXPONENTIAL:
		x = -d->a * log(unit_open(r));
		break;
	case SIM_DIST_WEIBULL:
		x = d->a * pow(-log(unit_open(r)), 1.0 / d->b);
		break;
	case SIM_DIST_LOGNORMAL: {
		/* From the mean m and deviation s of the value to the log's mu, sigma. */
		double m = d->a, s = d->b;
		double sigma2 = log1p((s * s) / (m * m));
		double mu = log(m) - sigma2 / 2.0;
		x = exp(mu + sqrt(sigma2) * normal(r));
		break;
	}
	}
	return x > 0 ? x : 0;
}

double sim_dist_mean(const struct sim_dist *d)
{
	switch (d->kind) {
	case SIM_DIST_CONSTANT:
		return d->a;
	case SIM_DIST_UNIFORM:
		return (d->a + d->b) / 2.0;
	case SIM_DIST_EXPONENTIAL:
	case SIM_DIST_LOGNORMAL:
		return d->a;
	case SIM_DIST_WEIBULL:
		return d->a * tgamma(1.0 + 1.0 / d->b);
	}
	return 0;
}

static const char *const dist_names[] = {
	[SIM_DIST_CONSTANT] = "constant",
	[SIM_DIST_UNIFORM] = "uniform",
	[SIM_DIST_EXPONENTIAL] = "exponential",
	[SIM_DIST_WEIBULL] = "weibull",
	[SIM_DIST_LOGNORMAL] = "lognormal",
};

const char *sim_dist_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof(dist_names) / sizeof(dist_names[0]))
		return NULL;
	return dist_names[kind];
}

int sim_dist_kind_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(dist_names) / sizeof(dist_names[0]); i++)
		if (strcmp(name, dist_names[i]) == 0)
			return (int)i;
	return -1;
}

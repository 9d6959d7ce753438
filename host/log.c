/* log.c -- one line per event on stderr, with a time and a level. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int log_level = HLOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *log_level_name(int level)
{
	if (level < 0 || level > HLOG_DEBUG)
		return "?";
	return level_names[level];
}

int log_level_parse(const char *name)
{
	for (int i = 0; i <= HLOG_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	             tm.tm_sec, ts.tv_nsec / 1000000, log_level_name(level),
	             prefix ? prefix : "", prefix ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line, so lines from a crash or a pipe never interleave. */
	fprintf(stderr, "%s\n", line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

/* A peer decides how often the lines it causes are written, so each reason
 * a peer can trigger keeps one of these: at most one line a second, and
 * that line says how many like it were held back since the last. */
void log_rated(struct ratelog *rl, int level, const char *fmt, ...)
{
	struct timespec ts;
	char line[1024];
	va_list ap;
	double now;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (rl->last != 0 && now - rl->last < 1.0) {
		rl->held++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rl->held > 0)
		log_msg(level, "%s (and %llu more like it in the last %.0f s)", line,
		        (unsigned long long)rl->held, now - rl->last);
	else
		log_msg(level, "%s", line);
	rl->last = now;
	rl->held = 0;
}

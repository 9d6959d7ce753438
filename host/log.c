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

/* log.c -- one line per event, with a level: on stderr with a time, on
 * stderr with a priority prefix when stderr is the systemd journal, or to
 * syslog. Wherever it goes, a line is "LEVEL message", one line, greppable. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int log_level = HLOG_INFO;
static int log_target = LOG_TO_STDERR;
static int journal = -1;         /* stderr is the journal's stream: unknown yet */

/* The syslog priority of each of our levels, in level order. */
static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

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

int log_target_parse(const char *name)
{
	if (strcmp(name, "stderr") == 0)
		return LOG_TO_STDERR;
	if (strcmp(name, "syslog") == 0)
		return LOG_TO_SYSLOG;
	return -1;
}

/* systemd names the journal's stream in JOURNAL_STREAM as "DEVICE:INODE";
 * if that is what stderr is, the journal reads "<N>" at the start of a
 * line as its priority and stamps the time itself. A stderr redirected
 * elsewhere by the service keeps the plain form. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_target(int target)
{
	if (target == log_target)
		return;
	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_target = target;
	/* LOG_NDELAY connects now, before any sandboxing could hide /dev/log. */
	if (target == LOG_TO_SYSLOG)
		openlog("maybep2pd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048], stamp[64];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > log_level)
		return;
	if (level < HLOG_ERR)
		level = HLOG_ERR;
	if (level > HLOG_DEBUG)
		level = HLOG_DEBUG;
	n = snprintf(line, sizeof(line), "%-5s %s%s", log_level_name(level),
	             prefix ? prefix : "", prefix ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* A line stays one line: a message that carries a newline (a peer's
	 * text, a multi-line error) is folded, so grep sees all of it. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_target == LOG_TO_SYSLOG) {
		syslog(priorities[level], "%s", line);
		return;
	}
	if (journal < 0)
		journal = stderr_is_journal();
	if (journal) {
		fprintf(stderr, "<%d>%s\n", priorities[level], line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	/* One write per line, so lines from a crash or a pipe never interleave. */
	fprintf(stderr, "%s %s\n", stamp, line);
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

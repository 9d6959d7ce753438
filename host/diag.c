/* diag.c -- problems collected for a person, and small string helpers. */
#include "config.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *str_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = str_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

void diag_take(struct diag *d, char *line)
{
	char **lines;

	if (line == NULL)
		line = strdup("out of memory");
	lines = realloc(d->lines, sizeof(*lines) * (size_t)(d->count + 1));
	if (lines == NULL || line == NULL) {
		free(line);
		return;
	}
	d->lines = lines;
	d->lines[d->count++] = line;
}

void diag_add(struct diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_take(d, str_vprintf(fmt, ap));
	va_end(ap);
}

void diag_print(const struct diag *d, int level)
{
	for (int i = 0; i < d->count; i++)
		log_msg(level, "%s", d->lines[i]);
}

/* All lines joined by newlines, malloc'd: for a control reply. */
char *diag_join(const struct diag *d)
{
	size_t total = 1;
	char *s, *p;

	for (int i = 0; i < d->count; i++)
		total += strlen(d->lines[i]) + 1;
	if ((s = malloc(total)) == NULL)
		return NULL;
	p = s;
	for (int i = 0; i < d->count; i++) {
		size_t n = strlen(d->lines[i]);
		memcpy(p, d->lines[i], n);
		p += n;
		if (i + 1 < d->count)
			*p++ = '\n';
	}
	*p = '\0';
	return s;
}

void diag_clear(struct diag *d)
{
	for (int i = 0; i < d->count; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->count = 0;
}

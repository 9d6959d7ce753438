/* sniff.c -- mode "mixed" tells a TLS client from a plaintext peer by the
 * first bytes it sends. Pure, with no library behind it, so the fuzzer and
 * the unit tests drive exactly what the listener runs. */
#include "config.h"
#include "host.h"

/* A TLS client opens with a handshake record: content type 22, then a
 * legacy version 3.x. A frame opens with its protocol name, printable
 * ASCII. Neither can start like the other, so one byte decides and the
 * next two, when they are here, confirm. */
int tls_sniff(const uint8_t *p, size_t n, const char **why)
{
	*why = NULL;
	if (n == 0)
		return SNIFF_NEED_MORE;
	if (p[0] == 0x16) {
		if ((n >= 2 && p[1] != 0x03) || (n >= 3 && p[2] > 0x04)) {
			*why = "a TLS record of an unknown version";
			return SNIFF_BAD;
		}
		return SNIFF_TLS;
	}
	if (p[0] > 0x20 && p[0] < 0x7f)
		return SNIFF_PLAIN;
	*why = "neither a TLS handshake nor a frame";
	return SNIFF_BAD;
}

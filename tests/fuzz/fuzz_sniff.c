/* fuzz_sniff.c -- the first-bytes test of mode "mixed" over any bytes: it
 * never reads past what it is given, answers one of its four results, and
 * never sends a frame the frame scanner would take (complete or not) to
 * TLS, nor anything starting like a TLS handshake to the frame parser. */
// sources: host/sniff.c host/frame.c
#include "host.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_header fh;
	const char *why = NULL, *fwhy = NULL;
	size_t n = size < 24 ? size : 24;      /* a header and then some */
	uint8_t *copy = malloc(n ? n : 1);     /* exact size: ASan sees any overread */
	int rc, frc;

	memcpy(copy, data, n);
	rc = tls_sniff(copy, n, &why);
	if (rc != SNIFF_NEED_MORE && rc != SNIFF_TLS && rc != SNIFF_PLAIN && rc != SNIFF_BAD)
		abort();
	if ((rc == SNIFF_BAD) != (why != NULL))
		abort();
	if (n == 0 && rc != SNIFF_NEED_MORE)
		abort();
	if (n > 0 && data[0] == 0x16 && rc != SNIFF_TLS && rc != SNIFF_BAD)
		abort();
	/* A whole header the scanner takes is a frame: it must go to the
	 * frame parser. (Fewer bytes the scanner has not judged yet.) */
	frc = frame_scan(copy, n, 1u << 20, &fh, &fwhy);
	if (n >= MP2P_FRAME_HEADER && frc != FRAME_BAD && rc != SNIFF_PLAIN)
		abort();
	/* More bytes never turn a decided TLS or plaintext peer into the other. */
	for (size_t k = 1; k < n && rc != SNIFF_BAD; k++) {
		int r = tls_sniff(copy, k, &why);
		if ((r == SNIFF_TLS && rc == SNIFF_PLAIN) || (r == SNIFF_PLAIN && rc != SNIFF_PLAIN))
			abort();
	}
	free(copy);
	return 0;
}

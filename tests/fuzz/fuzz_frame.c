/* fuzz_frame.c -- the frame scanner over any bytes, at any max_frame:
 * it must never read past the buffer and must agree with itself. */
// sources: host/frame.c
#include "host.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_header fh;
	const char *why = NULL;
	uint32_t max;
	size_t off;

	if (size < 4)
		return 0;
	max = (uint32_t)data[0] << 8 | data[1];   /* small limits reach the edges */
	data += 4;
	size -= 4;
	/* Walk the stream frame by frame, as a connection would. */
	for (off = 0; off < size;) {
		uint8_t *copy = malloc(size - off);   /* exact size: ASan sees any overread */
		int rc;
		memcpy(copy, data + off, size - off);
		rc = frame_scan(copy, size - off, max, &fh, &why);
		if (rc == FRAME_OK) {
			if (fh.length > max || strlen(fh.protocol) == 0 || strlen(fh.protocol) > 12 ||
			    !frame_protocol_valid(fh.protocol))
				abort();
			off += MP2P_FRAME_HEADER + fh.length;
		} else if (rc == FRAME_BAD && why == NULL) {
			abort();
		}
		free(copy);
		if (rc != FRAME_OK)
			break;
	}
	return 0;
}

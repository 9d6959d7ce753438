/* frame.c -- the 20-byte frame header every protocol shares: parsed and
 * checked here, with no I/O, so the fuzzer and the tests drive it alone. */
#include "config.h"
#include "host.h"

#include <string.h>

/* 1 to 12 printable ASCII characters, no spaces. */
int frame_protocol_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MP2P_PROTOCOL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return 0;
	return 1;
}

/* Checks a complete header. A name that is empty, holds a non-printable
 * byte or has bytes after its NUL padding cannot come from a peer speaking
 * the frame format, so the stream is not a frame stream. */
int frame_header_parse(const uint8_t *hdr, uint32_t max_payload,
                       struct frame_header *out, const char **why)
{
	size_t n = 0;

	while (n < MP2P_PROTOCOL_MAX && hdr[n] != 0)
		n++;
	if (n == 0) {
		*why = "empty protocol name";
		return FRAME_BAD;
	}
	for (size_t i = 0; i < n; i++) {
		if (hdr[i] <= 0x20 || hdr[i] >= 0x7f) {
			*why = "protocol name is not printable ASCII";
			return FRAME_BAD;
		}
	}
	for (size_t i = n; i < MP2P_PROTOCOL_MAX; i++) {
		if (hdr[i] != 0) {
			*why = "protocol name padding is not NUL";
			return FRAME_BAD;
		}
	}
	for (size_t i = 0; i < MP2P_TYPE_LEN; i++) {
		uint8_t c = hdr[MP2P_PROTOCOL_MAX + i];
		if (c < 0x20 || c >= 0x7f) {   /* a space may pad a short type */
			*why = "message type is not printable ASCII";
			return FRAME_BAD;
		}
	}
	memcpy(out->protocol, hdr, n);
	out->protocol[n] = '\0';
	memcpy(out->type, hdr + MP2P_PROTOCOL_MAX, MP2P_TYPE_LEN);
	out->length = (uint32_t)hdr[16] << 24 | (uint32_t)hdr[17] << 16 |
	              (uint32_t)hdr[18] << 8 | (uint32_t)hdr[19];
	if (out->length > max_payload) {   /* out->length stays set, for the log */
		*why = "payload over max_frame";
		return FRAME_BAD;
	}
	return FRAME_OK;
}

/* Looks at the start of a byte stream of which `have` bytes are buffered;
 * `start` holds the first min(have, 20) of them, and nothing past the
 * header is read. FRAME_OK when a whole frame is buffered (its payload
 * follows the header), FRAME_NEED_MORE when it may still become one,
 * FRAME_BAD when it cannot. A bad header is reported as soon as its 20
 * bytes are in, not after a payload that will never come. */
int frame_scan(const uint8_t *start, size_t have, uint32_t max_payload,
               struct frame_header *out, const char **why)
{
	int rc;

	if (have < MP2P_FRAME_HEADER)
		return FRAME_NEED_MORE;
	rc = frame_header_parse(start, max_payload, out, why);
	if (rc != FRAME_OK)
		return rc;
	if (have - MP2P_FRAME_HEADER < out->length)
		return FRAME_NEED_MORE;
	return FRAME_OK;
}

void frame_header_write(uint8_t *hdr, const char *protocol, const char *type, uint32_t length)
{
	size_t n = strlen(protocol);

	memset(hdr, 0, MP2P_PROTOCOL_MAX);
	memcpy(hdr, protocol, n > MP2P_PROTOCOL_MAX ? MP2P_PROTOCOL_MAX : n);
	memcpy(hdr + MP2P_PROTOCOL_MAX, type, MP2P_TYPE_LEN);
	hdr[16] = (uint8_t)(length >> 24);
	hdr[17] = (uint8_t)(length >> 16);
	hdr[18] = (uint8_t)(length >> 8);
	hdr[19] = (uint8_t)length;
}

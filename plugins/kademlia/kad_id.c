/* kad_id.c -- node ids and keys: XOR distance, prefixes, hashing, hex. */
#include "kad.h"

#include <openssl/evp.h>
#include <string.h>

void kad_xor(uint8_t out[KAD_ID_LEN], const uint8_t a[KAD_ID_LEN],
             const uint8_t b[KAD_ID_LEN])
{
	for (int i = 0; i < KAD_ID_LEN; i++)
		out[i] = a[i] ^ b[i];
}

/* Compares distances byte by byte without building them: the first byte
 * where a and b differ decides, and there the one agreeing with the
 * target is closer. */
int kad_closer(const uint8_t target[KAD_ID_LEN], const uint8_t a[KAD_ID_LEN],
               const uint8_t b[KAD_ID_LEN])
{
	for (int i = 0; i < KAD_ID_LEN; i++) {
		uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

int kad_common_prefix(const uint8_t a[KAD_ID_LEN], const uint8_t b[KAD_ID_LEN])
{
	for (int i = 0; i < KAD_ID_LEN; i++) {
		uint8_t d = a[i] ^ b[i];
		if (d != 0) {
			int bits = 0;
			while ((d & 0x80) == 0) {
				d <<= 1;
				bits++;
			}
			return i * 8 + bits;
		}
	}
	return KAD_ID_BITS;
}

/* SHA-256 through libcrypto's EVP interface, which OpenSSL 3 keeps
 * undeprecated. */
int kad_key_hash(const void *key, size_t len, uint8_t out[KAD_ID_LEN])
{
	unsigned int outlen = 0;

	if (EVP_Digest(key, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != KAD_ID_LEN)
		return -1;
	return 0;
}

void kad_id_hex(const uint8_t id[KAD_ID_LEN], char out[2 * KAD_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < KAD_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * KAD_ID_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kad_id_parse(const char *hex, uint8_t out[KAD_ID_LEN])
{
	if (strlen(hex) != 2 * KAD_ID_LEN)
		return -1;
	for (int i = 0; i < KAD_ID_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Keeps self's first cpl bits, flips bit cpl (unless or_more, for the
 * last bucket, which also holds ids closer than that), and fills the rest
 * from random: a uniformly random id of the bucket's range. */
void kad_id_in_range(const uint8_t self[KAD_ID_LEN], int cpl, int or_more,
                     const uint8_t random[KAD_ID_LEN], uint8_t out[KAD_ID_LEN])
{
	if (cpl >= KAD_ID_BITS) {
		memcpy(out, self, KAD_ID_LEN);
		return;
	}
	for (int bit = 0; bit < KAD_ID_BITS; bit++) {
		int byte = bit / 8;
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));
		uint8_t v;
		if (bit < cpl)
			v = self[byte] & mask;
		else if (bit == cpl && !or_more)
			v = (uint8_t)(~self[byte] & mask);
		else
			v = random[byte] & mask;
		out[byte] = (uint8_t)((out[byte] & ~mask) | v);
	}
}

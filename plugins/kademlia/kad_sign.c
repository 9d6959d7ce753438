/* kad_sign.c -- records: the bytes a version-2 value travels and is kept
 * as, which prove themselves. An immutable record's key is the SHA-256 of
 * its value; a mutable record's key is the SHA-256 of its writer id (the
 * SHA-256 of the writer's Ed25519 public key, which is the writer's peer
 * id when it signs with its host key) and a name, and it carries the
 * writer's signature over the key, the sequence number and the value (the
 * idea of BitTorrent's BEP 44).
 * Nobody but the writer can make a valid record for a mutable key, so no
 * one else can overwrite it or freeze it with a huge sequence number.
 *
 * Layout (PROTOCOL.md section 4.4):
 *   immutable: 0x00, value
 *   mutable:   0x01, public key (32), name length N (1, 1..255), name (N),
 *              signature (64), value
 */
#include "kad.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

int kad_writer_id(const uint8_t pub[KAD_PUB_LEN], uint8_t writer_out[KAD_ID_LEN])
{
	return kad_key_hash(pub, KAD_PUB_LEN, writer_out);
}

/* The writer id, not the public key, goes into the key: a reader who knows
 * a host only by its peer id (what `maybep2pctl status` prints) can then
 * name its values, and still nobody but the key's holder can sign them. */
int kad_mutable_key(const uint8_t writer[KAD_ID_LEN], const void *name, size_t nlen,
                    uint8_t key_out[KAD_ID_LEN])
{
	uint8_t buf[KAD_ID_LEN + KAD_NAME_MAX];

	if (nlen == 0 || nlen > KAD_NAME_MAX)
		return -1;
	memcpy(buf, writer, KAD_ID_LEN);
	memcpy(buf + KAD_ID_LEN, name, nlen);
	return kad_key_hash(buf, KAD_ID_LEN + nlen, key_out);
}

/* What a writer signs: the key (which binds its public key and the name),
 * the sequence number, the value. */
static size_t signed_bytes(uint8_t *out, const uint8_t key[KAD_ID_LEN], uint64_t seq,
                           const uint8_t *val, uint32_t vlen)
{
	memcpy(out, key, KAD_ID_LEN);
	put_be64(out + KAD_ID_LEN, seq);
	memcpy(out + KAD_ID_LEN + 8, val, vlen);
	return KAD_ID_LEN + 8 + (size_t)vlen;
}

int kad_record_parse(const uint8_t *rec, uint32_t rlen, struct kad_record *r)
{
	memset(r, 0, sizeof(*r));
	if (rlen < 1)
		return -1;
	r->kind = rec[0];
	if (r->kind == KAD_REC_IMMUTABLE) {
		r->value = rec + 1;
		r->vlen = rlen - 1;
		return 0;
	}
	if (r->kind != KAD_REC_MUTABLE || rlen < 1 + KAD_PUB_LEN + 1)
		return -1;
	r->pub = rec + 1;
	r->nlen = rec[1 + KAD_PUB_LEN];
	if (r->nlen == 0 || rlen < 1 + KAD_PUB_LEN + 1 + r->nlen + KAD_SIG_LEN)
		return -1;
	r->name = rec + 1 + KAD_PUB_LEN + 1;
	r->sig = r->name + r->nlen;
	r->value = r->sig + KAD_SIG_LEN;
	r->vlen = rlen - (uint32_t)(r->value - rec);
	return 0;
}

int kad_record_check(const uint8_t key[KAD_ID_LEN], uint64_t seq, const uint8_t *rec,
                     uint32_t rlen)
{
	struct kad_record r;
	uint8_t writer[KAD_ID_LEN], want[KAD_ID_LEN], *msg;
	EVP_PKEY *pk;
	EVP_MD_CTX *ctx;
	int ok;

	if (kad_record_parse(rec, rlen, &r) < 0)
		return KAD_REC_E_FORM;
	if (r.kind == KAD_REC_IMMUTABLE) {
		/* One key, one value: a sequence number would mean nothing. */
		if (seq != 0)
			return KAD_REC_E_FORM;
		if (kad_key_hash(r.value, r.vlen, want) < 0 || memcmp(want, key, KAD_ID_LEN) != 0)
			return KAD_REC_E_HASH;
		return KAD_REC_OK;
	}
	if (kad_writer_id(r.pub, writer) < 0 || kad_mutable_key(writer, r.name, r.nlen, want) < 0 ||
	    memcmp(want, key, KAD_ID_LEN) != 0)
		return KAD_REC_E_HASH;
	if ((msg = malloc(KAD_ID_LEN + 8 + (size_t)r.vlen)) == NULL)
		return KAD_REC_E_SIG;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, r.pub, KAD_PUB_LEN);
	ctx = EVP_MD_CTX_new();
	ok = pk != NULL && ctx != NULL &&
	     EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
	     EVP_DigestVerify(ctx, r.sig, KAD_SIG_LEN, msg,
	                      signed_bytes(msg, key, seq, r.value, r.vlen)) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	free(msg);
	return ok ? KAD_REC_OK : KAD_REC_E_SIG;
}

int kad_record_immutable(uint8_t *out, size_t cap, const void *val, uint32_t vlen,
                         uint8_t key_out[KAD_ID_LEN])
{
	if (cap < 1 + (size_t)vlen || kad_key_hash(val, vlen, key_out) < 0)
		return -1;
	out[0] = KAD_REC_IMMUTABLE;
	memcpy(out + 1, val, vlen);
	return 1 + (int)vlen;
}

int kad_record_mutable(uint8_t *out, size_t cap, const struct kad_signer *sg,
                       const void *name, size_t nlen, uint64_t seq, const void *val,
                       uint32_t vlen, uint8_t key_out[KAD_ID_LEN])
{
	size_t len = 1 + KAD_PUB_LEN + 1 + nlen + KAD_SIG_LEN + vlen;
	uint8_t writer[KAD_ID_LEN], *msg;
	int ok;

	if (cap < len || kad_writer_id(sg->pub, writer) < 0 ||
	    kad_mutable_key(writer, name, nlen, key_out) < 0)
		return -1;
	if ((msg = malloc(KAD_ID_LEN + 8 + (size_t)vlen)) == NULL)
		return -1;
	out[0] = KAD_REC_MUTABLE;
	memcpy(out + 1, sg->pub, KAD_PUB_LEN);
	out[1 + KAD_PUB_LEN] = (uint8_t)nlen;
	memcpy(out + 2 + KAD_PUB_LEN, name, nlen);
	memcpy(out + len - vlen, val, vlen);
	ok = sg->sign(sg->arg, msg, signed_bytes(msg, key_out, seq, val, vlen),
	              out + 2 + KAD_PUB_LEN + nlen) == 0;
	free(msg);
	return ok ? (int)len : -1;
}

int kad_keypair_sign(void *arg, const uint8_t *msg, size_t len, uint8_t sig[KAD_SIG_LEN])
{
	const struct kad_keypair *kp = arg;
	size_t siglen = KAD_SIG_LEN;
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp->priv, KAD_PUB_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = pk != NULL && ctx != NULL &&
	         EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
	         EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == KAD_SIG_LEN;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

int kad_keypair_from_private(struct kad_keypair *kp, const uint8_t priv[KAD_PUB_LEN])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, KAD_PUB_LEN);
	size_t len = KAD_PUB_LEN;
	int ok = pk != NULL && EVP_PKEY_get_raw_public_key(pk, kp->pub, &len) == 1 &&
	         len == KAD_PUB_LEN;

	EVP_PKEY_free(pk);
	if (ok)
		memcpy(kp->priv, priv, KAD_PUB_LEN);
	return ok ? 0 : -1;
}

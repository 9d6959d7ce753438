/* fuzz_kademlia.c -- libFuzzer harness for the Kademlia payload decoder and
 * the state blob loader: no input may crash them, and whatever decodes
 * must encode back to the very same bytes.
 *
 * The first input byte picks the message type (or, past the last type,
 * the state loader); the rest is the payload. */
// sources: plugins/kademlia/kad_wire.c plugins/kademlia/kad_id.c plugins/kademlia/kad_table.c plugins/kademlia/kad_store.c plugins/kademlia/kad_state.c plugins/kademlia/kad_sign.c
// libs: -lcrypto
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/kademlia/kad.h"

static uint8_t out[1 << 17];

static void check_roundtrip(const struct kad_msg *m, const uint8_t *p, size_t len)
{
	int n = kad_is_request(m->type) ? kad_encode_request(out, sizeof(out), m)
	                                : kad_encode_answer(out, sizeof(out), m);

	/* A payload is accepted only in its one canonical form. */
	if (n < 0 || (size_t)n != len || memcmp(out, p, len) != 0)
		abort();
}

static void fuzz_state(const uint8_t *p, size_t len)
{
	struct kad_table t;
	struct kad_store s;
	uint8_t self[KAD_ID_LEN] = { 0 };

	if (kad_state_peek_self(p, len, self) < 0)
		memset(self, 0, sizeof(self));
	if (kad_table_init(&t, self, 8) < 0)
		return;
	kad_store_init(&s, 64, 4096);
	if (kad_state_load(p, len, &t, &s, 10.0, 1700000000, 3600, NULL, NULL) < 0 &&
	    (kad_table_size(&t) != 0 || s.n != 0))
		abort();        /* a refused blob must change nothing */
	kad_table_release(&t);
	kad_store_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kad_msg m;
	int type;

	if (size < 1)
		return 0;
	type = data[0] % (KAD_T_VALU + 2);
	if (type == KAD_T_VALU + 1) {
		fuzz_state(data + 1, size - 1);
		return 0;
	}
	if (kad_decode(type, data + 1, size - 1, 4096, &m) == KAD_E_OK) {
		if (m.type == KAD_T_NODS && (m.nnodes < 0 || m.nnodes > KAD_MAX_K))
			abort();
		for (int i = 0; i < m.nnodes; i++)
			if (!kad_addr_valid(m.nodes[i].addr))
				abort();
		if (kad_is_request(type) && !kad_addr_valid(m.addr))
			abort();
		if (m.vlen > 4096)
			abort();
		check_roundtrip(&m, data + 1, size - 1);
	}
	return 0;
}

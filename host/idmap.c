/* idmap.c -- an open-addressing hash map from nonzero uint64 keys to
 * pointers, with backward-shift deletion so no tombstones pile up. */
#include "config.h"
#include "host.h"

#include <stdlib.h>

uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;      /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->values[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct idmap n = { calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(void *)), cap, 0 };

	if (n.keys == NULL || n.values == NULL) {
		free(n.keys);
		free(n.values);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			idmap_put(&n, m->keys[i], m->values[i]);
	free(m->keys);
	free(m->values);
	*m = n;
	return 0;
}

int idmap_put(struct idmap *m, uint64_t key, void *value)
{
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->values[i] = value;
			return 0;
		}
		if (m->keys[i] == 0) {
			m->keys[i] = key;
			m->values[i] = value;
			m->used++;
			return 0;
		}
	}
}

void *idmap_del(struct idmap *m, uint64_t key)
{
	size_t i, j, mask = m->cap - 1;
	void *value;

	if (m->cap == 0)
		return NULL;
	for (i = slot_of(key, m->cap); m->keys[i] != key; i = (i + 1) & mask)
		if (m->keys[i] == 0)
			return NULL;
	value = m->values[i];
	/* Shift later members of the probe run back into the hole. */
	for (j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
		size_t home = slot_of(m->keys[j], m->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->values[i] = m->values[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->values[i] = NULL;
	m->used--;
	return value;
}

void idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->values);
	m->keys = NULL;
	m->values = NULL;
	m->cap = m->used = 0;
}

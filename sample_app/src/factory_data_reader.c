/*
 * Reader of the nRF Connect Matter factory data partition (see factory_data_reader.h).
 *
 * A small CBOR (RFC 8949) walker: every length is checked against the bytes that are
 * left before it is used, so truncated or corrupt data ends in an error, never in a read
 * past the buffer.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include "factory_data_reader.h"

#include <string.h>

enum {
	MAJOR_UINT = 0,
	MAJOR_NINT = 1,
	MAJOR_BSTR = 2,
	MAJOR_TSTR = 3,
	MAJOR_ARRAY = 4,
	MAJOR_MAP = 5,
	MAJOR_TAG = 6,
	MAJOR_SIMPLE = 7,
};

#define AI_INDEFINITE 31
#define BREAK_BYTE 0xFF

struct cursor {
	const uint8_t *p;
	const uint8_t *end;
};

struct head {
	uint8_t major;
	uint8_t ai;   /* additional information: the low 5 bits of the initial byte */
	uint64_t arg; /* value, length or count; 0 for indefinite length */
};

static size_t remaining(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

/* The initial byte and its argument. Additional information 31 is returned as is: whether
 * it is allowed depends on the major type, so the caller checks it.
 */
static enum fdr_status read_head(struct cursor *c, struct head *h)
{
	if (remaining(c) < 1) {
		return FDR_TRUNCATED;
	}
	uint8_t initial = *c->p++;

	h->major = (uint8_t)(initial >> 5);
	h->ai = (uint8_t)(initial & 0x1F);
	h->arg = 0;
	if (h->ai < 24) {
		h->arg = h->ai;
	} else if (h->ai <= 27) {
		size_t n = (size_t)1 << (h->ai - 24); /* 1, 2, 4 or 8 bytes */

		if (remaining(c) < n) {
			return FDR_TRUNCATED;
		}
		for (size_t i = 0; i < n; i++) {
			h->arg = (h->arg << 8) | c->p[i];
		}
		c->p += n;
	} else if (h->ai != AI_INDEFINITE) {
		return FDR_MALFORMED; /* 28..30 are reserved */
	}
	return FDR_OK;
}

/* Step over `len` bytes of string content. */
static enum fdr_status skip_bytes(struct cursor *c, uint64_t len)
{
	if (len > (uint64_t)remaining(c)) {
		return FDR_TRUNCATED;
	}
	c->p += (size_t)len;
	return FDR_OK;
}

/* True (and the break consumed) when the next byte ends an indefinite-length item. */
static bool at_break(struct cursor *c)
{
	if (remaining(c) >= 1 && *c->p == BREAK_BYTE) {
		c->p++;
		return true;
	}
	return false;
}

/* The chunks of an indefinite-length string: definite strings of the same major type. */
static enum fdr_status skip_chunks(struct cursor *c, uint8_t major)
{
	for (;;) {
		if (remaining(c) < 1) {
			return FDR_TRUNCATED;
		}
		if (at_break(c)) {
			return FDR_OK;
		}
		struct head chunk;
		enum fdr_status st = read_head(c, &chunk);

		if (st != FDR_OK) {
			return st;
		}
		if (chunk.major != major || chunk.ai == AI_INDEFINITE) {
			return FDR_MALFORMED;
		}
		st = skip_bytes(c, chunk.arg);
		if (st != FDR_OK) {
			return st;
		}
	}
}

static enum fdr_status skip_item(struct cursor *c, unsigned int depth);

/* The items of an array (per_entry 1) or map (per_entry 2) whose head was just read. */
static enum fdr_status skip_container(struct cursor *c, const struct head *h,
				      unsigned int per_entry, unsigned int depth)
{
	enum fdr_status st;

	if (h->ai == AI_INDEFINITE) {
		for (;;) {
			if (remaining(c) < 1) {
				return FDR_TRUNCATED;
			}
			if (at_break(c)) {
				return FDR_OK;
			}
			for (unsigned int k = 0; k < per_entry; k++) {
				st = skip_item(c, depth + 1);
				if (st != FDR_OK) {
					return st;
				}
			}
		}
	}
	/* Every item takes at least one byte, so a huge count runs out of data quickly. */
	for (uint64_t i = 0; i < h->arg; i++) {
		for (unsigned int k = 0; k < per_entry; k++) {
			st = skip_item(c, depth + 1);
			if (st != FDR_OK) {
				return st;
			}
		}
	}
	return FDR_OK;
}

/* Step over one complete data item of any type; `depth` counts the arrays, maps and tags
 * around it inside the top-level map.
 */
static enum fdr_status skip_item(struct cursor *c, unsigned int depth)
{
	if (depth > FDR_MAX_DEPTH) {
		return FDR_TOO_DEEP;
	}
	struct head h;
	enum fdr_status st = read_head(c, &h);

	if (st != FDR_OK) {
		return st;
	}
	switch (h.major) {
	case MAJOR_UINT:
	case MAJOR_NINT:
		return h.ai == AI_INDEFINITE ? FDR_MALFORMED : FDR_OK;
	case MAJOR_BSTR:
	case MAJOR_TSTR:
		return h.ai == AI_INDEFINITE ? skip_chunks(c, h.major) : skip_bytes(c, h.arg);
	case MAJOR_ARRAY:
		return skip_container(c, &h, 1, depth);
	case MAJOR_MAP:
		return skip_container(c, &h, 2, depth);
	case MAJOR_TAG:
		return h.ai == AI_INDEFINITE ? FDR_MALFORMED : skip_item(c, depth + 1);
	default: /* MAJOR_SIMPLE: simple values and floats, whose bytes read_head consumed */
		if (h.ai == AI_INDEFINITE) {
			return FDR_MALFORMED; /* a break outside an indefinite-length item */
		}
		if (h.ai == 24 && h.arg < 32) {
			return FDR_MALFORMED; /* RFC 8949 3.3: two-byte form of a one-byte value */
		}
		return FDR_OK;
	}
}

/* An unsigned integer no larger than `max`, for a known key. */
static enum fdr_status read_uint(struct cursor *c, uint64_t max, uint16_t *value)
{
	struct head h;
	enum fdr_status st = read_head(c, &h);

	if (st != FDR_OK) {
		return st;
	}
	if (h.major != MAJOR_UINT) {
		return FDR_BAD_TYPE;
	}
	if (h.ai == AI_INDEFINITE) {
		return FDR_MALFORMED;
	}
	if (h.arg > max) {
		return FDR_OUT_OF_RANGE;
	}
	*value = (uint16_t)h.arg;
	return FDR_OK;
}

/* A definite-length byte or text string, for a known key. */
static enum fdr_status read_string(struct cursor *c, const uint8_t **data, size_t *len)
{
	struct head h;
	enum fdr_status st = read_head(c, &h);

	if (st != FDR_OK) {
		return st;
	}
	if ((h.major != MAJOR_BSTR && h.major != MAJOR_TSTR) || h.ai == AI_INDEFINITE) {
		return FDR_BAD_TYPE;
	}
	if (h.arg > (uint64_t)remaining(c)) {
		return FDR_TRUNCATED;
	}
	*data = c->p;
	*len = (size_t)h.arg;
	c->p += (size_t)h.arg;
	return FDR_OK;
}

static bool key_is(const uint8_t *key, size_t key_len, const char *name)
{
	return key_len == strlen(name) && memcmp(key, name, key_len) == 0;
}

static enum fdr_status read_known_uint(struct cursor *c, bool *seen, uint64_t max,
				       uint16_t *value)
{
	if (*seen) {
		return FDR_DUPLICATE_KEY;
	}
	*seen = true;
	return read_uint(c, max, value);
}

/* The value of one entry: stored when the key is one we want, skipped otherwise. */
static enum fdr_status read_value(struct cursor *c, const uint8_t *key, size_t key_len,
				  struct factory_data *out)
{
	if (key_is(key, key_len, "version")) {
		return read_known_uint(c, &out->has_version, 0xFFFF, &out->version);
	}
	if (key_is(key, key_len, "vendor_id")) {
		return read_known_uint(c, &out->has_vendor_id, 0xFFFF, &out->vendor_id);
	}
	if (key_is(key, key_len, "product_id")) {
		return read_known_uint(c, &out->has_product_id, 0xFFFF, &out->product_id);
	}
	if (key_is(key, key_len, "discriminator")) {
		return read_known_uint(c, &out->has_discriminator, 0xFFF, &out->discriminator);
	}
	if (key_is(key, key_len, "sn")) {
		if (out->has_sn) {
			return FDR_DUPLICATE_KEY;
		}
		out->has_sn = true;
		return read_string(c, &out->sn, &out->sn_len);
	}
	return skip_item(c, 0);
}

static enum fdr_status read_entry(struct cursor *c, struct factory_data *out)
{
	struct head key;
	enum fdr_status st = read_head(c, &key);

	if (st != FDR_OK) {
		return st;
	}
	if (key.major != MAJOR_TSTR || key.ai == AI_INDEFINITE) {
		return FDR_KEY_NOT_TEXT;
	}
	if (key.arg > (uint64_t)remaining(c)) {
		return FDR_TRUNCATED;
	}
	const uint8_t *name = c->p;
	size_t name_len = (size_t)key.arg;

	c->p += name_len;
	st = read_value(c, name, name_len, out);
	if (st == FDR_OK) {
		out->entries++;
	}
	return st;
}

static bool all_erased(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != 0xFF) {
			return false;
		}
	}
	return true;
}

enum fdr_status factory_data_parse(const uint8_t *buf, size_t len, struct factory_data *out)
{
	memset(out, 0, sizeof(*out));
	if (buf == NULL || len == 0) {
		return FDR_TRUNCATED;
	}
	if (all_erased(buf, len)) {
		return FDR_EMPTY;
	}
	if ((buf[0] >> 5) != MAJOR_MAP) {
		return FDR_NOT_A_MAP;
	}

	struct cursor c = {buf, buf + len};
	struct head map;
	enum fdr_status st = read_head(&c, &map);

	if (st != FDR_OK) {
		return st;
	}
	if (map.ai == AI_INDEFINITE) {
		for (;;) {
			if (remaining(&c) < 1) {
				return FDR_TRUNCATED;
			}
			if (at_break(&c)) {
				break;
			}
			st = read_entry(&c, out);
			if (st != FDR_OK) {
				return st;
			}
		}
	} else {
		for (uint64_t i = 0; i < map.arg; i++) {
			st = read_entry(&c, out);
			if (st != FDR_OK) {
				return st;
			}
		}
	}

	if (remaining(&c) < 1) {
		return FDR_TRUNCATED;
	}
	if (*c.p != 0x00) {
		return FDR_NO_TERMINATOR;
	}
	out->length = (size_t)(c.p - buf) + 1;
	return FDR_OK;
}

const char *fdr_status_str(enum fdr_status status)
{
	switch (status) {
	case FDR_OK:
		return "ok";
	case FDR_EMPTY:
		return "empty (all bytes 0xFF)";
	case FDR_NOT_A_MAP:
		return "not a CBOR map";
	case FDR_TRUNCATED:
		return "truncated";
	case FDR_MALFORMED:
		return "malformed CBOR";
	case FDR_KEY_NOT_TEXT:
		return "map key is not a text string";
	case FDR_BAD_TYPE:
		return "value of the wrong type";
	case FDR_OUT_OF_RANGE:
		return "value out of range";
	case FDR_DUPLICATE_KEY:
		return "duplicate key";
	case FDR_TOO_DEEP:
		return "nested too deeply";
	case FDR_NO_TERMINATOR:
		return "no 0x00 terminator after the map";
	}
	return "unknown status";
}

/*
 * Reader of the nRF Connect Matter factory data partition.
 *
 * The partition holds one CBOR map with text-string keys ("version", "vendor_id",
 * "product_id", "discriminator", "sn", "dac_cert", ..., "user"), followed by a 0x00
 * terminator. This reader picks out the identity fields this sample prints and skips every
 * other value, whatever its CBOR type. It never reads outside [buf, buf + len).
 *
 * Plain C99 with no Zephyr dependency, so the same file is compiled on the host by the
 * tests of matter-factory-data (tests/test_sample_app.py).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FACTORY_DATA_READER_H_
#define FACTORY_DATA_READER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most arrays, maps and tags a value may be nested in, inside the top-level map. */
#define FDR_MAX_DEPTH 16

enum fdr_status {
	FDR_OK = 0,
	FDR_EMPTY,         /**< every byte is 0xFF: erased flash, nothing programmed */
	FDR_NOT_A_MAP,     /**< the data does not start with a CBOR map */
	FDR_TRUNCATED,     /**< an item or the terminator lies past the end of the buffer */
	FDR_MALFORMED,     /**< not well-formed CBOR (reserved encodings, stray break, ...) */
	FDR_KEY_NOT_TEXT,  /**< a map key is not a definite-length text string */
	FDR_BAD_TYPE,      /**< a known key holds a value of the wrong CBOR type */
	FDR_OUT_OF_RANGE,  /**< a known integer is larger than its field allows */
	FDR_DUPLICATE_KEY, /**< a known key appears more than once */
	FDR_TOO_DEEP,      /**< values nested deeper than FDR_MAX_DEPTH */
	FDR_NO_TERMINATOR, /**< the byte after the map is not the 0x00 terminator */
};

/** The identity fields of the factory data. Valid only when the parse returned FDR_OK. */
struct factory_data {
	bool has_version;
	bool has_vendor_id;
	bool has_product_id;
	bool has_discriminator;
	bool has_sn;
	uint16_t version;
	uint16_t vendor_id;
	uint16_t product_id;
	uint16_t discriminator; /**< 12 bits */
	const uint8_t *sn;      /**< points into the parsed buffer; not NUL-terminated */
	size_t sn_len;
	size_t entries; /**< key/value pairs in the map */
	size_t length;  /**< bytes used: the map and its terminator */
};

/**
 * Parse the factory data in buf[0..len).
 *
 * Integers must be unsigned (any encoding width); "sn" must be a definite-length byte or
 * text string. Keys are compared in full (unlike the device parser, which also accepts a
 * prefix of a known key). Bytes after the terminator are not read.
 *
 * @return FDR_OK, or the first problem found.
 */
enum fdr_status factory_data_parse(const uint8_t *buf, size_t len, struct factory_data *out);

/** A short English description of a status, e.g. "truncated". */
const char *fdr_status_str(enum fdr_status status);

#ifdef __cplusplus
}
#endif

#endif /* FACTORY_DATA_READER_H_ */

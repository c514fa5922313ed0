/*
 * Host test driver for sample_app/src/factory_data_reader.c (tests/test_sample_app.py).
 *
 *   fdr_host FILE...             parse each file, print its fields
 *   fdr_host --prefixes FILE     parse every prefix FILE[0..n), n = 0..size, print statuses
 *
 * Every input is copied into a heap block of exactly its size, so a build with
 * -fsanitize=address reports any read past the data.
 *
 * Exit status: 0 every file parsed, 1 some file did not, 2 usage or I/O error.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory_data_reader.h"

static const char *status_name(enum fdr_status st)
{
	switch (st) {
	case FDR_OK: return "FDR_OK";
	case FDR_EMPTY: return "FDR_EMPTY";
	case FDR_NOT_A_MAP: return "FDR_NOT_A_MAP";
	case FDR_TRUNCATED: return "FDR_TRUNCATED";
	case FDR_MALFORMED: return "FDR_MALFORMED";
	case FDR_KEY_NOT_TEXT: return "FDR_KEY_NOT_TEXT";
	case FDR_BAD_TYPE: return "FDR_BAD_TYPE";
	case FDR_OUT_OF_RANGE: return "FDR_OUT_OF_RANGE";
	case FDR_DUPLICATE_KEY: return "FDR_DUPLICATE_KEY";
	case FDR_TOO_DEEP: return "FDR_TOO_DEEP";
	case FDR_NO_TERMINATOR: return "FDR_NO_TERMINATOR";
	}
	return "UNKNOWN";
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	size_t cap = 4096, n = 0;
	unsigned char *data = malloc(cap);
	size_t got;
	while (data != NULL && (got = fread(data + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			unsigned char *bigger = realloc(data, cap *= 2);
			if (bigger == NULL) {
				free(data);
			}
			data = bigger;
		}
	}
	int failed = ferror(f);
	fclose(f);
	if (data == NULL || failed) {
		free(data);
		return NULL;
	}
	/* An exact-size copy: one byte more would hide an over-read from the sanitizer. */
	unsigned char *exact = malloc(n > 0 ? n : 1);
	if (exact != NULL) {
		memcpy(exact, data, n);
	}
	free(data);
	*len = n;
	return exact;
}

static void print_u16(const char *name, int has, unsigned value)
{
	if (has) {
		printf("%s=%u\n", name, value);
	} else {
		printf("%s=missing\n", name);
	}
}

static int parse_and_print(const char *path, const unsigned char *data, size_t len)
{
	struct factory_data fd;
	enum fdr_status st = factory_data_parse(data, len, &fd);

	printf("file=%s\nstatus=%s\nmessage=%s\n", path, status_name(st), fdr_status_str(st));
	if (st != FDR_OK) {
		return 1;
	}
	printf("entries=%zu\nlength=%zu\n", fd.entries, fd.length);
	print_u16("version", fd.has_version, fd.version);
	print_u16("vendor_id", fd.has_vendor_id, fd.vendor_id);
	print_u16("product_id", fd.has_product_id, fd.product_id);
	print_u16("discriminator", fd.has_discriminator, fd.discriminator);
	if (fd.has_sn) {
		printf("sn_hex=");
		for (size_t i = 0; i < fd.sn_len; i++) {
			printf("%02x", fd.sn[i]);
		}
		printf("\n");
	} else {
		printf("sn_hex=missing\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--prefixes") == 0) {
		size_t len;
		unsigned char *data = read_file(argv[2], &len);
		if (data == NULL) {
			fprintf(stderr, "fdr_host: cannot read %s\n", argv[2]);
			return 2;
		}
		for (size_t n = 0; n <= len; n++) {
			unsigned char *prefix = malloc(n > 0 ? n : 1);
			if (prefix == NULL) {
				return 2;
			}
			memcpy(prefix, data, n);
			struct factory_data fd;
			printf("prefix %zu %s\n", n, status_name(factory_data_parse(prefix, n, &fd)));
			free(prefix);
		}
		free(data);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: fdr_host FILE... | fdr_host --prefixes FILE\n");
		return 2;
	}
	int result = 0;
	for (int i = 1; i < argc; i++) {
		size_t len;
		unsigned char *data = read_file(argv[i], &len);
		if (data == NULL) {
			fprintf(stderr, "fdr_host: cannot read %s\n", argv[i]);
			return 2;
		}
		if (parse_and_print(argv[i], data, len) != 0) {
			result = 1;
		}
		free(data);
	}
	return result;
}

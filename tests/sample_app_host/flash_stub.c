/*
 * Host stand-in for the flash of an nRF52840 (tests/test_sample_app.py): the partition with
 * id STUB_EXPECTED_ID, at STUB_ADDRESS, holds the file named by $FDR_IMAGE followed by 0xFF
 * (erased flash) up to STUB_PARTITION_SIZE. Opening any other id fails with -ENOENT, as
 * Zephyr does; reads outside the partition fail with -EINVAL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zephyr/storage/flash_map.h>
#include <zephyr/sys/printk.h>

static struct flash_area area;
static unsigned char flash[STUB_PARTITION_SIZE];

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

int flash_area_open(uint8_t id, const struct flash_area **fa)
{
	if (id != STUB_EXPECTED_ID) {
		return -ENOENT;
	}
	memset(flash, 0xFF, sizeof(flash));
	const char *path = getenv("FDR_IMAGE");
	if (path != NULL && path[0] != '\0') {
		FILE *f = fopen(path, "rb");
		if (f == NULL) {
			return -EIO;
		}
		size_t n = fread(flash, 1, sizeof(flash), f);
		(void)n;
		fclose(f);
	}
	area.fa_id = id;
	area.fa_off = STUB_ADDRESS;
	area.fa_size = sizeof(flash);
	*fa = &area;
	return 0;
}

void flash_area_close(const struct flash_area *fa)
{
	(void)fa;
}

int flash_area_read(const struct flash_area *fa, off_t off, void *dst, size_t len)
{
	if (fa != &area || off < 0 || (size_t)off > fa->fa_size || len > fa->fa_size - (size_t)off) {
		return -EINVAL;
	}
	memcpy(dst, flash + off, len);
	return 0;
}

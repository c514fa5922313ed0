/*
 * Host stand-in for <zephyr/storage/flash_map.h> (see ../kernel.h): the flash area API with
 * Zephyr's signatures, and devicetree answers for one partition labelled
 * factory_data_partition (STUB_DT_ID, STUB_DT_SIZE), unless STUB_NO_DT_PARTITION is defined.
 */
#ifndef STUB_ZEPHYR_FLASH_MAP_H_
#define STUB_ZEPHYR_FLASH_MAP_H_

#include <zephyr/kernel.h>

struct device;

struct flash_area {
	uint8_t fa_id;
	uint8_t fa_device_id;
	uint16_t pad16;
	off_t fa_off;
	size_t fa_size;
	const struct device *fa_dev;
};

int flash_area_open(uint8_t id, const struct flash_area **fa);
void flash_area_close(const struct flash_area *fa);
int flash_area_read(const struct flash_area *fa, off_t off, void *dst, size_t len);

/* Only the label factory_data_partition exists; any other label is a compile error. */
#define STUB_LABEL_factory_data_partition 1
#if defined(STUB_NO_DT_PARTITION)
#define FIXED_PARTITION_EXISTS(label) 0
#else
#define FIXED_PARTITION_EXISTS(label) STUB_LABEL_##label
#endif
#define FIXED_PARTITION_ID(label) (STUB_LABEL_##label * STUB_DT_ID)
#define FIXED_PARTITION_SIZE(label) (STUB_LABEL_##label * STUB_DT_SIZE)

#endif

/*
 * Reads the Matter factory data partition and prints the device identity.
 *
 * The partition comes from Partition Manager (pm_static.yml, nRF Connect SDK) when it is
 * enabled, otherwise from the devicetree node labelled factory_data_partition
 * (boards/nrf52840dk_nrf52840.overlay).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/kernel.h>
#include <zephyr/storage/flash_map.h>
#include <zephyr/sys/printk.h>

#include "factory_data_reader.h"

#if defined(CONFIG_PARTITION_MANAGER_ENABLED)
#include <pm_config.h>
#if !defined(PM_FACTORY_DATA_ID)
#error "Partition Manager has no factory_data partition: add it to pm_static.yml"
#endif
#define FACTORY_DATA_AREA_ID   PM_FACTORY_DATA_ID
#define FACTORY_DATA_AREA_SIZE PM_FACTORY_DATA_SIZE
#elif FIXED_PARTITION_EXISTS(factory_data_partition)
#define FACTORY_DATA_AREA_ID   FIXED_PARTITION_ID(factory_data_partition)
#define FACTORY_DATA_AREA_SIZE FIXED_PARTITION_SIZE(factory_data_partition)
#else
#error "No factory data partition: label a devicetree partition factory_data_partition " \
       "(see boards/nrf52840dk_nrf52840.overlay) or use pm_static.yml with Partition Manager"
#endif

/* The device parser takes the size as uint16_t: larger partitions do not work anyway. */
BUILD_ASSERT(FACTORY_DATA_AREA_SIZE > 0 && FACTORY_DATA_AREA_SIZE <= 0xFFFF,
	     "the factory data partition must be 1..65535 bytes");

static uint8_t factory_data_buf[FACTORY_DATA_AREA_SIZE];

/* Labels are padded by hand: printk's minimal formatter may not support %-14s. */
static void print_id(const char *label, bool has, uint16_t value)
{
	if (has) {
		printk("  %s0x%04x (%u)\n", label, value, value);
	} else {
		printk("  %s(missing)\n", label);
	}
}

static void print_sn(const struct factory_data *fd)
{
	if (!fd->has_sn) {
		printk("  serial number: (missing)\n");
		return;
	}
	printk("  serial number: ");
	for (size_t i = 0; i < fd->sn_len; i++) {
		uint8_t ch = fd->sn[i];

		if (ch >= 0x20 && ch < 0x7F) {
			printk("%c", ch);
		} else {
			printk("\\x%02x", ch);
		}
	}
	printk(" (%u bytes)\n", (unsigned int)fd->sn_len);
}

int main(void)
{
	const struct flash_area *fa;
	int err = flash_area_open(FACTORY_DATA_AREA_ID, &fa);

	if (err) {
		printk("factory data: cannot open the partition (error %d)\n", err);
		return 0;
	}
	size_t size = MIN(fa->fa_size, sizeof(factory_data_buf));

	printk("factory data partition at 0x%lx, %u bytes\n", (unsigned long)fa->fa_off,
	       (unsigned int)fa->fa_size);
	err = flash_area_read(fa, 0, factory_data_buf, size);
	flash_area_close(fa);
	if (err) {
		printk("factory data: cannot read the partition (error %d)\n", err);
		return 0;
	}

	struct factory_data fd;
	enum fdr_status st = factory_data_parse(factory_data_buf, size, &fd);

	if (st == FDR_EMPTY) {
		printk("factory data: the partition is empty (erased, all 0xFF).\n"
		       "Program it: `west flash` (merged.hex) or `west factory-data flash`.\n");
		return 0;
	}
	if (st != FDR_OK) {
		printk("factory data: NOT VALID: %s.\n"
		       "Check it on the host with `matter-factory-data show --strict`.\n",
		       fdr_status_str(st));
		return 0;
	}

	printk("Matter factory data (%u bytes, %u entries):\n", (unsigned int)fd.length,
	       (unsigned int)fd.entries);
	if (fd.has_version) {
		printk("  version:       %u\n", fd.version);
	}
	print_id("vendor id:     ", fd.has_vendor_id, fd.vendor_id);
	print_id("product id:    ", fd.has_product_id, fd.product_id);
	print_sn(&fd);
	print_id("discriminator: ", fd.has_discriminator, fd.discriminator);
	return 0;
}

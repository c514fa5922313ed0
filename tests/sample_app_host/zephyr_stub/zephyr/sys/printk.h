/* Host stand-in for <zephyr/sys/printk.h> (see ../kernel.h). */
#ifndef STUB_ZEPHYR_PRINTK_H_
#define STUB_ZEPHYR_PRINTK_H_

void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

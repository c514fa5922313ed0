/*
 * Host stand-in for the few parts of <zephyr/kernel.h> that sample_app/src/main.c uses,
 * so tests/test_sample_app.py can compile and run main() on the host. Not Zephyr.
 */
#ifndef STUB_ZEPHYR_KERNEL_H_
#define STUB_ZEPHYR_KERNEL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MIN(a, b) (((a) < (b)) ? (a) : (b))
#define BUILD_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif

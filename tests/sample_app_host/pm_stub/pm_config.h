/* Host stand-in for Partition Manager's generated pm_config.h (see tests/test_sample_app.py). */
#ifndef STUB_PM_CONFIG_H_
#define STUB_PM_CONFIG_H_

#define PM_FACTORY_DATA_ID STUB_PM_ID
#define PM_FACTORY_DATA_SIZE STUB_PM_SIZE

#endif

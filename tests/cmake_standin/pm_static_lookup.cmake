# Script mode driver for the module's static layout lookup (_mfd_find_pm_static):
#
#   cmake -DAPPLICATION_SOURCE_DIR=<app> [-DBOARD=... -DFILE_SUFFIX=...] \
#         -P pm_static_lookup.cmake
#
# prints "pm_static=<path>" (empty when there is none) on stderr. Takes the variables Zephyr
# sets (see CMakeLists.txt here); PM_STATIC_YML_FILE comes from the environment, as without
# zephyr_get. Errors end the script as they end configure (FATAL_ERROR, one line).
cmake_minimum_required(VERSION 3.20)
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/matter_factory_data.cmake)
_mfd_find_pm_static(found)
message("pm_static=${found}")

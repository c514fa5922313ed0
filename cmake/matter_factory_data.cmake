# Factory data build step of matter-factory-data.
#
# matter_factory_data_build_step() checks the Kconfig values and the factory_data partition
# at configure time (a bad value stops CMake with one line naming the symbol or file), then
# adds the target `factory_data` (built by default) that writes
# ${APPLICATION_BINARY_DIR}/zephyr/factory_data.{json,hex,bin} (+ .txt/.png codes) and,
# with CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE, merged.hex for `west flash`, or hands
# the hex to Partition Manager when it is enabled.
#
# Partition sources, in this order: partitions.yml (Partition Manager), the static layout
# Partition Manager would use (see _mfd_find_pm_static), the devicetree node labelled
# factory_data_partition. Sources that exist must agree. An edit of partitions.yml or of the
# static layout reruns the step.
#
# At configure time the step's arguments are recorded in
# ${APPLICATION_BINARY_DIR}/zephyr/factory_data_step.json ({"argv": [...]}, absolute paths,
# everything after `build-step`), so that `west factory-data generate -d BUILD` can replay it.
# Relative certificate paths (CONFIG_CHIP_FACTORY_DATA_USER_CERTS_*) are taken relative to the
# application source directory.

set(MATTER_FACTORY_DATA_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." CACHE INTERNAL "")
get_filename_component(MATTER_FACTORY_DATA_ROOT "${MATTER_FACTORY_DATA_ROOT}" ABSOLUTE)

# Only the symbols the step reads: other Kconfig changes do not rerun it.
function(_mfd_write_inputs_stamp stamp)
  get_cmake_property(names VARIABLES)
  list(SORT names)
  set(content "")
  foreach(name ${names})
    if(name MATCHES "^CONFIG_(CHIP_|SOC$|SOC_NRF5340_CPU)")
      string(APPEND content "${name}=${${name}}\n")
    endif()
  endforeach()
  set(old "")
  if(EXISTS "${stamp}")
    file(READ "${stamp}" old)
  endif()
  if(NOT old STREQUAL content)
    file(WRITE "${stamp}" "${content}")
  endif()
endfunction()

# One line, as every error of this module: CMake prints it as is (leading space: no rewrap).
# Pass the whole message as one quoted argument (it may contain ';').
function(_mfd_fatal text)
  message(FATAL_ERROR " matter-factory-data: ${text}")
endfunction()

# The board as nRF Connect SDK spells it in pm_static_<board>*.yml: the normalized board target
# (hardware model v2: nrf52840dk/nrf52840 -> nrf52840dk_nrf52840), else BOARD (HWMv1 names such
# as nrf52840dk_nrf52840 already are).
function(_mfd_board_name out)
  if(NORMALIZED_BOARD_TARGET)
    set(board "${NORMALIZED_BOARD_TARGET}")
  else()
    set(board "${BOARD}${BOARD_QUALIFIERS}")
  endif()
  string(REGEX REPLACE "/+" "_" board "${board}")
  string(TOLOWER "${board}" board)
  set(${out} "${board}" PARENT_SCOPE)
endfunction()

# The static layout names Partition Manager tries, most specific first (sdk-nrf ncs_file() and
# doc/nrf/scripts/partition_manager/partition_manager.rst). <rev> is BOARD_REVISION with '.'
# -> '_'.
#  * FILE_SUFFIX (NCS >= 2.7): pm_static_<board>_<rev>_<suffix>, pm_static_<board>_<rev>,
#    pm_static_<board>_<suffix>, pm_static_<board>, pm_static_<suffix>, pm_static;
#  * CONF_FILE_BUILD_TYPE (older NCS): pm_static_<board>_<rev>_<type>,
#    pm_static_<board>_<type>, pm_static_<type>, pm_static;
#  * neither: pm_static_<board>_<rev>, pm_static_<board>, pm_static.
function(_mfd_pm_static_names out)
  _mfd_board_name(board)
  set(rev "")
  if(NOT "${BOARD_REVISION}" STREQUAL "")
    string(REPLACE "." "_" rev "${BOARD_REVISION}")
  endif()
  set(names "")
  if(NOT "${FILE_SUFFIX}" STREQUAL "")
    if(board)
      if(rev)
        list(APPEND names ${board}_${rev}_${FILE_SUFFIX} ${board}_${rev})
      endif()
      list(APPEND names ${board}_${FILE_SUFFIX} ${board})
    endif()
    list(APPEND names ${FILE_SUFFIX})
  elseif(NOT "${CONF_FILE_BUILD_TYPE}" STREQUAL "")
    if(board)
      if(rev)
        list(APPEND names ${board}_${rev}_${CONF_FILE_BUILD_TYPE})
      endif()
      list(APPEND names ${board}_${CONF_FILE_BUILD_TYPE})
    endif()
    list(APPEND names ${CONF_FILE_BUILD_TYPE})
  elseif(board)
    if(rev)
      list(APPEND names ${board}_${rev})
    endif()
    list(APPEND names ${board})
  endif()
  list(TRANSFORM names PREPEND pm_static_)
  list(APPEND names pm_static)
  list(REMOVE_DUPLICATES names)
  list(TRANSFORM names APPEND .yml)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

# The static layout Partition Manager uses, as sdk-nrf resolves it (cmake/partition_manager.cmake,
# cmake/sysbuild/partition_manager.cmake): PM_STATIC_YML_FILE (read with zephyr_get(... SYSBUILD
# GLOBAL), ${VAR} references expanded, relative to the application config directory), else the
# first existing name of _mfd_pm_static_names in APPLICATION_CONFIG_DIR (default: the
# application source directory), else - with Partition Manager enabled, the only case in which
# NCS reads them - in BOARD_DIR. <out> is "" when there is none. Unlike Partition Manager, which
# falls back silently, a PM_STATIC_YML_FILE that does not exist stops configure.
function(_mfd_find_pm_static out)
  if(APPLICATION_CONFIG_DIR)
    set(conf_dir "${APPLICATION_CONFIG_DIR}")
  else()
    set(conf_dir "${APPLICATION_SOURCE_DIR}")
  endif()

  if(COMMAND zephyr_get)
    zephyr_get(PM_STATIC_YML_FILE SYSBUILD GLOBAL)
  elseif(NOT DEFINED PM_STATIC_YML_FILE AND DEFINED ENV{PM_STATIC_YML_FILE})
    set(PM_STATIC_YML_FILE "$ENV{PM_STATIC_YML_FILE}")
  endif()
  if(NOT "${PM_STATIC_YML_FILE}" STREQUAL "")
    string(CONFIGURE "${PM_STATIC_YML_FILE}" path)
    get_filename_component(path "${path}" ABSOLUTE BASE_DIR "${conf_dir}")
    if(IS_DIRECTORY "${path}")
      string(CONCAT msg "PM_STATIC_YML_FILE=${PM_STATIC_YML_FILE}: ${path} is a directory; "
                        "give the static layout file (pm_static.yml) or unset PM_STATIC_YML_FILE")
      _mfd_fatal("${msg}")
    elseif(NOT EXISTS "${path}")
      string(CONCAT msg "PM_STATIC_YML_FILE=${PM_STATIC_YML_FILE}: no such file ${path}; fix "
                        "the path or unset PM_STATIC_YML_FILE")
      _mfd_fatal("${msg}")
    endif()
    set(${out} "${path}" PARENT_SCOPE)
    return()
  endif()

  _mfd_pm_static_names(names)
  set(board_dir "")
  if(CONFIG_PARTITION_MANAGER_ENABLED OR ((DEFINED ZEPHYR_NRF_MODULE_DIR OR MFD_NCS)
                                          AND NOT SYSBUILD))
    set(board_dir "${BOARD_DIR}")
  endif()
  foreach(dir "${conf_dir}" "${board_dir}")
    if("${dir}" STREQUAL "")
      continue()
    endif()
    foreach(name ${names})
      if(EXISTS "${dir}/${name}" AND NOT IS_DIRECTORY "${dir}/${name}")
        get_filename_component(path "${dir}/${name}" ABSOLUTE)
        set(${out} "${path}" PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

# ${APPLICATION_BINARY_DIR}/zephyr/factory_data_step.json: {"argv": [<ARGN>]}, rewritten only
# when the content changes (a reconfigure must not look like a change to anything reading it).
function(_mfd_write_step_record file)
  set(items "")
  foreach(arg IN LISTS ARGN)
    string(REPLACE "\\" "\\\\" arg "${arg}")
    string(REPLACE "\"" "\\\"" arg "${arg}")
    string(REPLACE "\n" "\\n" arg "${arg}")
    string(REPLACE "\r" "\\r" arg "${arg}")
    string(REPLACE "\t" "\\t" arg "${arg}")
    list(APPEND items "\"${arg}\"")
  endforeach()
  string(JOIN ",\n    " body ${items})
  set(content "{\n  \"argv\": [\n    ${body}\n  ]\n}\n")
  set(old "")
  if(EXISTS "${file}")
    file(READ "${file}" old)
  endif()
  if(NOT old STREQUAL content)
    file(WRITE "${file}" "${content}")
  endif()
endfunction()

# True when nRF Connect SDK's Partition Manager runs in this image's own CMake run and writes
# zephyr/merged.hex itself: NCS without sysbuild (out-of-tree applications up to NCS 2.8).
# CONFIG_PARTITION_MANAGER_ENABLED is then often not set (it is selected only by child
# images), yet cmake/partition_manager.cmake, included at the end of Zephyr's kernel.cmake,
# runs for the root image when it finds a static layout (in the application config directory
# or the board directory, or PM_STATIC_YML_FILE), when child images or domains exist, or with
# CONFIG_PM_SINGLE_IMAGE.
function(_mfd_pm_runs_in_image out pm_static)
  set(result FALSE)
  if(CONFIG_PARTITION_MANAGER_ENABLED)
    set(result TRUE)
  elseif((DEFINED ZEPHYR_NRF_MODULE_DIR OR MFD_NCS) AND NOT SYSBUILD)
    get_property(pm_images GLOBAL PROPERTY PM_IMAGES)
    get_property(pm_domains GLOBAL PROPERTY PM_DOMAINS)
    if(pm_static OR pm_images OR pm_domains OR CONFIG_PM_SINGLE_IMAGE)
      set(result TRUE)
    endif()
  endif()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# At the end of the configure: a Partition Manager that made its own merged.hex in this image
# while the module made one too would stop ninja with "multiple rules generate
# zephyr/merged.hex"; stop here with one line instead.
function(_mfd_check_merged_rule)
  get_property(ours GLOBAL PROPERTY MATTER_FACTORY_DATA_MERGED_HEX)
  if(ours AND TARGET merged_hex)
    string(CONCAT msg "Partition Manager also writes ${ours} in this build, but it was not "
                      "detected when the module was configured; set "
                      "CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE=n or report this build")
    _mfd_fatal("${msg}")
  endif()
endfunction()

function(matter_factory_data_build_step)
  if(NOT PYTHON_EXECUTABLE)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
    set(PYTHON_EXECUTABLE ${Python3_EXECUTABLE})
  endif()
  set(out_dir ${APPLICATION_BINARY_DIR}/zephyr)
  if(DEFINED DOTCONFIG)
    set(dotconfig ${DOTCONFIG})
  else()
    set(dotconfig ${APPLICATION_BINARY_DIR}/zephyr/.config)
  endif()
  # Python caches: next to the sources when they are writable, else in the build directory
  # (__main__ reads MFD_PYCACHE_DIR).
  set(cmd ${CMAKE_COMMAND} -E env PYTHONPATH=${MATTER_FACTORY_DATA_ROOT}/west_ext
      MFD_PYCACHE_DIR=${CMAKE_BINARY_DIR}/matter_factory_data_pycache
      ${PYTHON_EXECUTABLE} -m matter_factory_data build-step
      --dotconfig ${dotconfig} --out-dir ${out_dir})
  set(depends "")

  # The static layout (PM_STATIC_YML_FILE, pm_static_<board>_<suffix>.yml, ...).
  _mfd_find_pm_static(pm_static)

  # 1. Partition Manager output.
  _mfd_pm_runs_in_image(pm_enabled "${pm_static}")
  if(NOT pm_enabled AND SYSBUILD AND SB_CONFIG_PARTITION_MANAGER)
    set(pm_enabled TRUE)
  endif()
  if(pm_enabled)
    if(DEFINED MFD_PARTITIONS_YML)  # tests: relative to the build directory
      get_filename_component(partitions_yml "${MFD_PARTITIONS_YML}" ABSOLUTE
                             BASE_DIR "${CMAKE_BINARY_DIR}")
    elseif(SYSBUILD OR EXISTS ${APPLICATION_BINARY_DIR}/../partitions.yml)
      # sysbuild: Partition Manager runs at the top (after this image is configured).
      get_filename_component(partitions_yml "${APPLICATION_BINARY_DIR}/../partitions.yml"
                             ABSOLUTE)
    else()
      set(partitions_yml ${CMAKE_BINARY_DIR}/partitions.yml)
    endif()
    list(APPEND cmd --partitions ${partitions_yml})
    if(EXISTS ${partitions_yml})
      list(APPEND depends ${partitions_yml})
    else()
      # Not written yet. If a partition_manager target exists (it may be defined after this
      # module, so this is decided at generate time), the step depends on it - as
      # add_dependencies() would - and on the file it makes.
      list(APPEND depends "$<$<TARGET_EXISTS:partition_manager>:partition_manager>"
                          "$<$<TARGET_EXISTS:partition_manager>:${partitions_yml}>")
    endif()
  endif()

  # 2. The static layout.
  if(pm_static)
    list(APPEND cmd --pm-static ${pm_static})
    list(APPEND depends ${pm_static})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${pm_static})
  endif()

  # 3. The devicetree: the build's edt.pickle, read with ZEPHYR_BASE's python-devicetree
  #    (node label factory_data_partition, else alias factory-data; siblings checked too);
  #    without one, the node label through Zephyr's dt_* functions.
  if(NOT DEFINED EDT_PICKLE)
    set(EDT_PICKLE ${CMAKE_BINARY_DIR}/zephyr/edt.pickle)
  endif()
  if(EXISTS "${EDT_PICKLE}")
    list(APPEND cmd --edt-pickle ${EDT_PICKLE})
    if(ZEPHYR_BASE)
      list(APPEND cmd --zephyr-base ${ZEPHYR_BASE})
    endif()
    list(APPEND depends ${EDT_PICKLE})
  elseif(COMMAND dt_nodelabel)
    dt_nodelabel(fd_node NODELABEL factory_data_partition)
    if(fd_node)
      dt_reg_addr(fd_addr PATH ${fd_node})
      dt_reg_size(fd_size PATH ${fd_node})
      list(APPEND cmd --dt-address ${fd_addr} --dt-size ${fd_size})
    endif()
  endif()

  # User certificates: ${VAR} and @VAR@ expanded from CMake variables.
  if(CONFIG_CHIP_FACTORY_DATA_CERT_SOURCE_USER)
    foreach(pair DAC_CERT:--dac-cert DAC_KEY:--dac-key PAI_CERT:--pai-cert)
      string(REPLACE ":" ";" pair ${pair})
      list(GET pair 0 sym)
      list(GET pair 1 opt)
      string(CONFIGURE "${CONFIG_CHIP_FACTORY_DATA_USER_CERTS_${sym}}" path)
      if(path)
        get_filename_component(path "${path}" ABSOLUTE BASE_DIR "${APPLICATION_SOURCE_DIR}")
        list(APPEND cmd ${opt} ${path})
        if(EXISTS ${path})
          list(APPEND depends ${path})
        endif()
      endif()
    endforeach()
  endif()

  # The profile (core/profile.py): recorded with the step, so `generate -d` replays it.
  if(CONFIG_CHIP_FACTORY_DATA_PROFILE_PRODUCTION)
    list(APPEND cmd --profile production)
  endif()

  # Configure-time check (values and layout, nothing generated): one line naming the symbol
  # or file.
  # The same command without the `cmake -E env` wrapper (one process less per configure).
  list(FIND cmd ${PYTHON_EXECUTABLE} at)
  list(SUBLIST cmd ${at} -1 check_cmd)
  set(saved_path "$ENV{PYTHONPATH}")
  set(saved_cache "$ENV{MFD_PYCACHE_DIR}")
  set(ENV{PYTHONPATH} "${MATTER_FACTORY_DATA_ROOT}/west_ext")
  set(ENV{MFD_PYCACHE_DIR} "${CMAKE_BINARY_DIR}/matter_factory_data_pycache")
  execute_process(COMMAND ${check_cmd} --check-only
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(ENV{PYTHONPATH} "${saved_path}")
  set(ENV{MFD_PYCACHE_DIR} "${saved_cache}")
  if(NOT rc EQUAL 0)
    # No list operations: the message may contain ';'.
    string(FIND "${err}" "error: " pos REVERSE)
    if(pos GREATER -1)
      math(EXPR pos "${pos} + 7")
      string(SUBSTRING "${err}" ${pos} -1 line)
      string(REGEX REPLACE "\n.*" "" line "${line}")
    else()
      string(STRIP "${out}${err}" line)
    endif()
    _mfd_fatal("${line}")
  endif()

  # The .config is not a dependency (Zephyr reconfigures when it changes): this stamp, rewritten
  # only when a symbol the step reads changes, is.
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/factory_data_inputs.txt)
  _mfd_write_inputs_stamp(${stamp})
  file(GLOB_RECURSE py_sources ${MATTER_FACTORY_DATA_ROOT}/west_ext/matter_factory_data/*.py)

  set(outputs ${out_dir}/factory_data.hex ${out_dir}/factory_data.bin
      ${out_dir}/factory_data.json)
  if(CONFIG_CHIP_FACTORY_DATA_GENERATE_ONBOARDING_CODES)
    list(APPEND outputs ${out_dir}/factory_data.txt ${out_dir}/factory_data.png)
  endif()
  if(CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE AND NOT pm_enabled AND NOT MFD_IMAGE_FLASHER)
    if(NOT KERNEL_HEX_NAME)
      set(KERNEL_HEX_NAME zephyr.hex)
    endif()
    set(firmware_hex ${APPLICATION_BINARY_DIR}/zephyr/${KERNEL_HEX_NAME})
    set(merged_hex ${out_dir}/merged.hex)
    list(APPEND cmd --firmware-hex ${firmware_hex} --merged-hex ${merged_hex})
    list(APPEND depends ${firmware_hex} zephyr_final)
    list(APPEND outputs ${merged_hex})
  endif()

  # Everything after `build-step`, for `west factory-data generate -d BUILD`.
  list(FIND cmd build-step at)
  math(EXPR at "${at} + 1")
  list(SUBLIST cmd ${at} -1 step_argv)
  _mfd_write_step_record(${out_dir}/factory_data_step.json ${step_argv})

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${cmd}
    DEPENDS ${stamp} ${depends} ${py_sources}
    COMMENT "Generating Matter factory data"
    VERBATIM)
  add_custom_target(factory_data ALL DEPENDS ${outputs})

  if(SYSBUILD)
    # Sysbuild's own CMake run (cmake/sysbuild) hands this file to Partition Manager or to an
    # image flasher: declared as a byproduct of this image (BYPRODUCT_* cache variables).
    set(BYPRODUCT_MATTER_FACTORY_DATA_HEX_NAME "${out_dir}/factory_data.hex"
        CACHE FILEPATH "Matter factory data hex (matter-factory-data)" FORCE)
  endif()

  if(CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE)
    if(pm_enabled)
      # Partition Manager in this image (NCS without sysbuild) merges it into its merged.hex.
      set_property(GLOBAL PROPERTY factory_data_PM_HEX_FILE ${out_dir}/factory_data.hex)
      set_property(GLOBAL PROPERTY factory_data_PM_TARGET factory_data)
    elseif(merged_hex)
      set_property(TARGET runners_yaml_props_target PROPERTY hex_file ${merged_hex})
      set_property(GLOBAL PROPERTY MATTER_FACTORY_DATA_MERGED_HEX ${merged_hex})
      cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _mfd_check_merged_rule)
    endif()
  endif()
endfunction()

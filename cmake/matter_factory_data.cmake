# Factory data build step of matter-factory-data.
#
# matter_factory_data_build_step() checks the Kconfig values and the factory_data partition
# at configure time (a bad value stops CMake with one line naming the symbol or file), then
# adds the target `factory_data` (built by default) that writes
# ${APPLICATION_BINARY_DIR}/zephyr/factory_data.{json,hex,bin} (+ .txt/.png codes) and,
# with CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE, merged.hex for `west flash`, or hands
# the hex to Partition Manager when it is enabled.
#
# Partition sources, in this order: partitions.yml (Partition Manager), pm_static.yml
# (PM_STATIC_YML_FILE, else <app>/pm_static.yml), the devicetree node labelled
# factory_data_partition. Sources that exist must agree.

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
  set(cmd ${CMAKE_COMMAND} -E env PYTHONPATH=${MATTER_FACTORY_DATA_ROOT}/west_ext
      ${PYTHON_EXECUTABLE} -m matter_factory_data build-step
      --dotconfig ${dotconfig} --out-dir ${out_dir})
  set(depends "")

  # 1. Partition Manager output.
  set(pm_enabled FALSE)
  if(CONFIG_PARTITION_MANAGER_ENABLED)
    set(pm_enabled TRUE)
    if(DEFINED MFD_PARTITIONS_YML)
      set(partitions_yml ${MFD_PARTITIONS_YML})
    elseif(EXISTS ${APPLICATION_BINARY_DIR}/../partitions.yml)
      set(partitions_yml ${APPLICATION_BINARY_DIR}/../partitions.yml)  # sysbuild
    else()
      set(partitions_yml ${CMAKE_BINARY_DIR}/partitions.yml)
    endif()
    list(APPEND cmd --partitions ${partitions_yml})
    if(EXISTS ${partitions_yml})
      list(APPEND depends ${partitions_yml})
    endif()
  endif()

  # 2. The application's pm_static.yml.
  if(COMMAND zephyr_get)
    zephyr_get(PM_STATIC_YML_FILE)
  elseif(NOT DEFINED PM_STATIC_YML_FILE AND DEFINED ENV{PM_STATIC_YML_FILE})
    set(PM_STATIC_YML_FILE $ENV{PM_STATIC_YML_FILE})
  endif()
  if(PM_STATIC_YML_FILE)
    set(pm_static ${PM_STATIC_YML_FILE})
  elseif(EXISTS ${APPLICATION_SOURCE_DIR}/pm_static.yml)
    set(pm_static ${APPLICATION_SOURCE_DIR}/pm_static.yml)
  endif()
  if(pm_static)
    list(APPEND cmd --pm-static ${pm_static})
    list(APPEND depends ${pm_static})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${pm_static})
  endif()

  # 3. The devicetree.
  if(COMMAND dt_nodelabel)
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
        list(APPEND cmd ${opt} ${path})
        if(EXISTS ${path})
          list(APPEND depends ${path})
        endif()
      endif()
    endforeach()
  endif()

  # Configure-time check: one line naming the symbol or file.
  execute_process(COMMAND ${cmd} --check-only
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
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
    # Leading space: CMake prints the line as is instead of wrapping it.
    message(FATAL_ERROR " matter-factory-data: ${line}")
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
  if(CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE AND NOT pm_enabled)
    if(NOT KERNEL_HEX_NAME)
      set(KERNEL_HEX_NAME zephyr.hex)
    endif()
    set(firmware_hex ${APPLICATION_BINARY_DIR}/zephyr/${KERNEL_HEX_NAME})
    set(merged_hex ${out_dir}/merged.hex)
    list(APPEND cmd --firmware-hex ${firmware_hex} --merged-hex ${merged_hex})
    list(APPEND depends ${firmware_hex} zephyr_final)
    list(APPEND outputs ${merged_hex})
  endif()

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${cmd}
    DEPENDS ${stamp} ${depends} ${py_sources}
    COMMENT "Generating Matter factory data"
    VERBATIM)
  add_custom_target(factory_data ALL DEPENDS ${outputs})

  if(CONFIG_CHIP_FACTORY_DATA_MERGE_WITH_FIRMWARE)
    if(pm_enabled)
      set_property(GLOBAL PROPERTY factory_data_PM_HEX_FILE ${out_dir}/factory_data.hex)
      set_property(GLOBAL PROPERTY factory_data_PM_TARGET factory_data)
    else()
      set_property(TARGET runners_yaml_props_target PROPERTY hex_file ${merged_hex})
    endif()
  endif()
endfunction()

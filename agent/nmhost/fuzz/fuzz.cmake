# The frame decoder's libFuzzer target, built with clang (-fsanitize=fuzzer,address) beside a g++ build: the
# decoder (src/framing.cpp) needs nothing but nlohmann/json, so it compiles on its own. Registered as the
# CTest test nmhost_frame_decoder_fuzz (label unit, a 20-second run) so scripts/test.sh runs it.
find_program(WM_FUZZ_CLANG NAMES clang++-14 clang++)
if(NOT WM_FUZZ_CLANG)
  message(STATUS "WM_FUZZ: no clang++ found; the nmhost fuzz target is not built")
  return()
endif()
set(_probe_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz_probe)
file(WRITE ${_probe_dir}/probe.cpp
     "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n")
execute_process(COMMAND ${WM_FUZZ_CLANG} -fsanitize=fuzzer,address ${_probe_dir}/probe.cpp -o ${_probe_dir}/probe
                RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
if(NOT _probe_rc EQUAL 0)
  message(STATUS "WM_FUZZ: ${WM_FUZZ_CLANG} cannot link -fsanitize=fuzzer (libclang-rt missing?); not built")
  return()
endif()

set(_fuzzer ${CMAKE_CURRENT_BINARY_DIR}/fuzz/frame_decoder_fuzz)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
set(_srcs ${CMAKE_CURRENT_SOURCE_DIR}/src/framing.cpp ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/frame_decoder_fuzz.cpp)
get_target_property(_json_inc nlohmann_json::nlohmann_json INTERFACE_INCLUDE_DIRECTORIES)
set(_inc -I${CMAKE_CURRENT_SOURCE_DIR}/include)
foreach(dir IN LISTS _json_inc)
  if(NOT dir STREQUAL "/usr/include")  # a system directory passed again breaks libstdc++'s #include_next
    list(APPEND _inc -isystem ${dir})
  endif()
endforeach()
add_custom_command(OUTPUT ${_fuzzer}
  COMMAND ${WM_FUZZ_CLANG} -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
          -Wall -Wextra -Werror ${_inc} ${_srcs} -o ${_fuzzer}
  DEPENDS ${_srcs} ${CMAKE_CURRENT_SOURCE_DIR}/include/workmonitor/nmhost/framing.h
  COMMENT "Building the nmhost frame decoder fuzzer with ${WM_FUZZ_CLANG}"
  VERBATIM)
add_custom_target(nmhost_frame_decoder_fuzz ALL DEPENDS ${_fuzzer})
# tests/unit/nmhost registers the short run (testing is enabled after agent/ is read).
set(WM_NMHOST_FUZZER ${_fuzzer} CACHE INTERNAL "the nmhost frame decoder fuzzer")

# Warnings and sanitizers for project code only. Third-party headers come in through imported targets,
# whose include directories CMake marks SYSTEM, so -Werror never trips on them.

add_library(scmoe_warnings INTERFACE)
target_compile_options(scmoe_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-error=deprecated-declarations>)
# GCC 12 reports -Wrestrict on std::string operator+ inlined at -O2 (GCC bug 105329, a false positive).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(scmoe_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
endif()

# Sanitizers apply to targets that link scmoe_sanitizers. LibTorch-using targets (engine) do not link it:
# Debian's libtorch is not built with ASan and mixing them gives false reports in its allocator.
add_library(scmoe_sanitizers INTERFACE)
if(SCMOE_SANITIZE)
  target_compile_options(scmoe_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                    -fno-sanitize-recover=undefined)
  target_link_options(scmoe_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

find_program(SCMOE_CCACHE ccache)
if(SCMOE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${SCMOE_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${SCMOE_CCACHE})
endif()

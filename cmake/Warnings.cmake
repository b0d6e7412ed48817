# The one place that sets warning and sanitizer flags for every target.
add_compile_options(
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
  -Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wcast-qual
  -Wwrite-strings -Wvla -Wundef -Wnull-dereference -Wenum-conversion
  -Wimplicit-fallthrough -fno-common -D_GNU_SOURCE)
if(OSH_WERROR)
  add_compile_options(-Werror)
endif()
if(OSH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
# A fuzz build (clang only) instruments every library for coverage and
# ASan/UBSan, so a parser added to any library is reached by its fuzz target
# without a list to keep in step. clang warns where gcc does not (protoc-c's
# *__INIT macros cast away const; va_list printf helpers): those two are off
# in this build only; CI's -Werror builds use gcc.
if(OSH_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "OSH_FUZZ=ON needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer
                      -Wno-cast-qual -Wno-format-nonliteral)
  add_link_options(-fsanitize=address,undefined)
endif()
# Hardening, on by default (OSH_HARDEN): stack protector, FORTIFY (needs
# optimisation, so not in Debug builds, and left to the sanitizers in theirs),
# PIE and full RELRO (-z relro -z now), stack-clash protection and CET.
# The gateway is a root daemon parsing untrusted gRPC.
if(OSH_HARDEN)
  add_compile_options(-fstack-protector-strong -fstack-clash-protection)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|i.86")
    add_compile_options(-fcf-protection)
  endif()
  if(NOT OSH_SANITIZE AND NOT OSH_FUZZ)
    add_compile_options($<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE>
                        $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
  endif()
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  include(CheckPIESupported)
  check_pie_supported()
  add_link_options(-Wl,-z,relro -Wl,-z,now)
endif()
# Code from other generators (protoc-c) is compiled with this relaxed set.
set(OSH_THIRD_PARTY_CFLAGS -Wno-pedantic -Wno-cast-qual -Wno-missing-prototypes
    -Wno-strict-prototypes -Wno-shadow -Wno-null-dereference)

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
# Code from other generators (protoc-c) is compiled with this relaxed set.
set(OSH_THIRD_PARTY_CFLAGS -Wno-pedantic -Wno-cast-qual -Wno-missing-prototypes
    -Wno-strict-prototypes -Wno-shadow -Wno-null-dereference)

# System libraries, all Debian packages installed by .ci/run.
# gRPC core is linked with plain -lgrpc -lgpr: its CMake config is broken without
# the C++ packages and its pkg-config walk costs 15-20 s per configure.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(PBC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(SSL REQUIRED IMPORTED_TARGET libssl) # L7 TLS termination (src/supervisor/l7)
pkg_check_modules(NCURSESW REQUIRED IMPORTED_TARGET ncursesw) # openshell term
if(OSH_TESTS)
  pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
endif()
find_path(GRPC_INCLUDE grpc/grpc.h REQUIRED)
find_library(GRPC_LIB grpc REQUIRED)
find_library(GPR_LIB gpr REQUIRED)
add_library(osh_grpc_core INTERFACE)
target_include_directories(osh_grpc_core INTERFACE ${GRPC_INCLUDE})
target_link_libraries(osh_grpc_core INTERFACE ${GRPC_LIB} ${GPR_LIB})
find_program(PROTOC_C protoc-c REQUIRED)

# osh_add_criterion_test(NAME SOURCES... LIBS ...): one Criterion binary, one ctest.
function(osh_add_criterion_test name)
  cmake_parse_arguments(T "" "JOBS" "SOURCES;LIBS" ${ARGN})
  if(NOT T_JOBS)
    set(T_JOBS 2)
  endif()
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${T_LIBS} osh_testsupport PkgConfig::CRITERION)
  add_test(NAME ${name} COMMAND ${name} --jobs ${T_JOBS})
  # Logs of every test directory go to the site census (tests/CMakeLists.txt,
  # fixture site_logs; tests/support/osh_testdir.h).
  # LSAN_OPTIONS: the Criterion runner's own leak is suppressed (runner frames
  # only, see tests/lsan-criterion.supp); leaks in tested code still fail.
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED site_logs
                       ENVIRONMENT "OSH_TEST_LOG_DIR=${CMAKE_BINARY_DIR}/test-logs/${name};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan-criterion.supp:fast_unwind_on_malloc=0")
endfunction()
# OCSF export (src/gateway/export): TLS syslog, HTTP destinations, gzip.
pkg_check_modules(SSL REQUIRED IMPORTED_TARGET libssl)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)

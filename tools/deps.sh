#!/usr/bin/env bash
# Install the Debian 12 packages OpenShell needs, by purpose:
#   tools/deps.sh runtime  what the installed binaries load (and the unit's kill)
#   tools/deps.sh build    runtime + compilers, headers, code generators
#   tools/deps.sh [dev]    build + tests, lint, fuzzing, benches (default; what
#                          CI and tools/test.sh use)
# Nothing is listed that no target, test or tool uses; a feature that needs
# more adds its packages with the code. Fast (dpkg query only) when
# everything is present; needs root (or sudo) otherwise.
# SSH into sandboxes (docs/ssh.md): libssh (the supervisor's server),
# openssh-client (`sandbox exec`/`connect` run ssh), openssh-sftp-server (the
# sftp subsystem); the tests drive `sandbox connect` under tmux (in DEV).
set -euo pipefail
set_name=${1:-dev}
RUNTIME=(libgrpc29 libprotobuf-c1 libyaml-0-2 libsqlite3-0 libpq5 libcjson1 libssl3
         libseccomp2 libmnl0 libnftables1 procps libncursesw6
         libssh-4 openssh-client openssh-sftp-server
         ca-certificates)  # L7: origins verified against the system store; the sandbox CA bundle
BUILD=(build-essential cmake pkg-config ninja-build python3
       libprotobuf-c-dev protobuf-c-compiler libgrpc-dev libcjson-dev libyaml-dev
       libsqlite3-dev libpq-dev libssl-dev libseccomp-dev libmnl-dev libnftables-dev
       libncurses-dev libssh-dev)
# tests: Criterion; codegen + ocsf-validate (jsonschema, jinja2, yaml); the
# Python gRPC client; openssl (test certificates), systemd (systemd-analyze
# verify), logrotate (snippet check); network tests: iproute2, nftables, curl;
# the TUI (`openshell term`) driven under tmux;
# benches: tinyproxy (proxy-bench baseline), valgrind (callgrind counts);
# PostgreSQL store tests and benches: postgresql (initdb/pg_ctl of a temporary
# cluster; no system service is used);
# lint and fuzzing: clang tools, cppcheck.
DEV=(libcriterion-dev python3-jsonschema python3-jinja2 python3-yaml
     python3-grpcio python3-grpc-tools python3-protobuf
     openssl systemd logrotate iproute2 nftables curl tinyproxy-bin valgrind
     clang libclang-rt-14-dev clang-format clang-tidy cppcheck tmux postgresql)
# OCSF export (src/gateway/export, docs/siem.md): HTTP destinations (libcurl),
# gzip (zlib), TLS syslog (libssl, above); its e2e test and bench receive
# with Debian's rsyslogd (run as a test receiver, never the system service).
RUNTIME+=(libcurl4 zlib1g)
BUILD+=(libcurl4-openssl-dev zlib1g-dev)
DEV+=(rsyslog)
case "$set_name" in
  runtime) PKGS=("${RUNTIME[@]}") ;;
  build) PKGS=("${RUNTIME[@]}" "${BUILD[@]}") ;;
  dev) PKGS=("${RUNTIME[@]}" "${BUILD[@]}" "${DEV[@]}") ;;
  *) echo "usage: tools/deps.sh [runtime|build|dev]" >&2; exit 64 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps ($set_name): installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

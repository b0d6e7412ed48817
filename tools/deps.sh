#!/usr/bin/env bash
# Install the Debian packages OpenShell builds and tests with. Fast (dpkg query
# only) when everything is present. Needs root (or sudo) when something is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config ninja-build
      libprotobuf-c-dev protobuf-c-compiler libgrpc-dev libcjson-dev libyaml-dev
      libsqlite3-dev sqlite3 libcriterion-dev libssh-dev libssl-dev libseccomp-dev
      python3 python3-jsonschema python3-jinja2 python3-yaml
      python3-grpcio python3-grpc-tools python3-protobuf
      iproute2 iptables nftables libnftables-dev libmnl-dev curl openssh-client procps
      clang libclang-rt-14-dev clang-format clang-tidy cppcheck valgrind
      tinyproxy-bin)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Debian packages the test suite uses for real parts: a Prometheus server (and promtool) on
# loopback, and headless Chromium to open the generated reports. Installs them when missing
# and we are root; otherwise says what to install (those tests then skip with a reason).
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: ${need[*]} not installed; run 'sudo apt-get install ${need[*]}' (tests that need them will skip)" >&2
fi

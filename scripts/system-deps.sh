#!/usr/bin/env bash
# Installs the system programs the test suite drives for real, when they are missing:
# headless Chromium + ChromeDriver, PostgreSQL's server binaries (initdb, pg_ctl) and promtool.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# promtool, which checks deploy/prometheus/ (tests/test_deploy.py).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Chinese glyphs for error texts in the screenshots headless Chromium takes.
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0

echo "installing system packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

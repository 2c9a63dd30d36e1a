#!/usr/bin/env bash
# Installs what the browser tests of the web workspace need, idempotently:
#   - Debian's Chromium and its driver (apt; never a browser downloaded by a tool)
#   - playwright-core (the driver library only, no bundled browser) into target/test-deps
set -euo pipefail
cd "$(dirname "$0")/.."
deps="${SIAGEN_TEST_DEPS:-$PWD/target/test-deps}"
mkdir -p "$deps"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps-web: installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -f "$deps/node_modules/playwright-core/package.json" ]; then
  echo "test-deps-web: installing playwright-core (npm, no browser download) into $deps"
  (cd "$deps" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null)
fi
echo "test-deps-web: ready"

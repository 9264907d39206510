#!/usr/bin/env bash
# Install the system packages that the JupyterHub deployment and its
# end-to-end test need on a Debian/Ubuntu machine (run as root):
#   - chromium + chromium-driver: the headless browser Playwright drives
#     (Playwright's own browser download is not used);
#   - nodejs + npm and configurable-http-proxy: JupyterHub's proxy.
# Idempotent: anything already present is skipped.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)

if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-system-deps: need root to apt-get install ${need_apt[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" fonts-liberation >/dev/null
fi

if ! command -v configurable-http-proxy >/dev/null 2>&1; then
    npm install -g --no-audit --no-fund --loglevel=error configurable-http-proxy
fi

echo "install-system-deps: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), configurable-http-proxy $(configurable-http-proxy --version)"

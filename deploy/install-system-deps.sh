#!/usr/bin/env bash
# Install the system (Debian) packages the course needs beyond Python, as root.
#
#   bash deploy/install-system-deps.sh            # everything: sandbox + hub
#   bash deploy/install-system-deps.sh sandbox    # grading only: bubblewrap
#   bash deploy/install-system-deps.sh hub        # JupyterHub and its browser test
#
# - sandbox: bubblewrap, the sandbox every grading kernel runs in (docs/security.md);
# - hub: chromium + chromium-driver (the headless browser the end-to-end test drives
#   with Playwright; Playwright's own browser download is not used), nodejs + npm and
#   configurable-http-proxy (JupyterHub's proxy).
# Idempotent: what is already there is skipped. `python3 dev.py demo|test` runs it
# (as root) when something it needs is missing; the list of what each part needs is
# also in dev.py (SYSTEM_PARTS), which checks for exactly these commands.
set -euo pipefail

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(sandbox hub)

need_apt=()
for part in "${parts[@]}"; do
    case "$part" in
        sandbox)
            command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
            ;;
        hub)
            command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-liberation)
            command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
            command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
            ;;
        *)
            echo "install-system-deps: unknown part '$part' (use: sandbox, hub)" >&2
            exit 2
            ;;
    esac
done

if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-system-deps: need root to apt-get install ${need_apt[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

for part in "${parts[@]}"; do
    if [ "$part" = hub ] && ! command -v configurable-http-proxy >/dev/null 2>&1; then
        npm install -g --no-audit --no-fund --loglevel=error configurable-http-proxy
    fi
done

summary=()
command -v bwrap >/dev/null 2>&1 && summary+=("bubblewrap $(bwrap --version | awk '{print $2}')")
command -v chromium >/dev/null 2>&1 && summary+=("chromium $(chromium --version 2>/dev/null | awk '{print $2}')")
command -v configurable-http-proxy >/dev/null 2>&1 && summary+=("configurable-http-proxy $(configurable-http-proxy --version)")
echo "install-system-deps: ${summary[*]}"

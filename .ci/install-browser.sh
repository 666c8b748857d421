#!/bin/sh
# Install what the leaderboard browser test needs: Debian's chromium (driven by Playwright with
# executablePath /usr/bin/chromium, so Playwright's own browser download is never used). Idempotent.
set -eu
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: /usr/bin/chromium"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser.sh: need root to apt-get install chromium" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version

#!/bin/sh
# Install what `bgbench run --isolation sandbox` and its tests need: Debian's bubblewrap. Idempotent.
set -eu
if command -v bwrap >/dev/null 2>&1; then
    echo "bubblewrap already installed: $(command -v bwrap)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-bubblewrap.sh: need root to apt-get install bubblewrap" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
# A sandbox that cannot start (no user namespaces, no setuid bwrap) should fail here, not in the tests.
bwrap --ro-bind / / --unshare-all --die-with-parent true
bwrap --version

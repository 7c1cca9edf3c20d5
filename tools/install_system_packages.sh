#!/usr/bin/env bash
# The Debian packages emoscope's optional parts and tests use, installed only where missing:
# espeak-ng (spoken gestures), chromium (the web app's browser test, driven by Playwright),
# xvfb + xauth + x11-apps (the desktop GUI tests on a virtual display), postgresql (the web app's
# PostgreSQL test). A package that cannot be installed is reported; the tests needing it skip with
# a reason, nothing fails here.
set -u
declare -A wanted=(
    [espeak-ng]=espeak-ng
    [chromium]=chromium
    [Xvfb]=xvfb
    [xauth]=xauth
    [xwd]=x11-apps
    [pg_ctl]=postgresql
)
missing=()
for command in "${!wanted[@]}"; do
    if [ "$command" = pg_ctl ]; then
        ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && continue
    fi
    command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing Debian packages: ${missing[*]}"
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/emoscope-apt.log 2>&1; then
    echo "warning: could not install ${missing[*]} (see /tmp/emoscope-apt.log); the tests that need them skip"
fi
exit 0

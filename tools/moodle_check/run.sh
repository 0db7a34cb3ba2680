#!/usr/bin/env bash
# `make moodle-check MOODLE_SRC=<Moodle tree> [BTEC_SRC=<gradingform_btec tree>]`: the PHP extensions a Moodle
# site needs (installed once, as install.sh does for the rest), then the check itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${MOODLE_SRC:-}" ]; then
  echo "usage: make moodle-check MOODLE_SRC=<Moodle source tree> [BTEC_SRC=<gradingform_btec tree>]" >&2; exit 2
fi
# Moodle's installer refuses a site without these; the versions follow the PHP Debian ships (8.2 on bookworm).
PHPV=$(php -r 'echo PHP_MAJOR_VERSION.".".PHP_MINOR_VERSION;')
missing=()
for ext in pgsql intl zip gd soap curl mbstring xml; do
  dpkg-query -W -f='${Status}' "php$PHPV-$ext" 2>/dev/null | grep -q "install ok installed" || missing+=("php$PHPV-$ext")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing PHP packages: ${missing[*]} (run as root, or install them)" >&2; exit 2
  fi
  echo "installing PHP packages: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

exec .venv/bin/python -m tools.moodle_check --moodle-src "$MOODLE_SRC" ${BTEC_SRC:+--btec-src "$BTEC_SRC"} "$@"

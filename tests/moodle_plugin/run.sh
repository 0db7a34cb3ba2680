#!/usr/bin/env bash
# Offline tests of the Moodle plugin: php -l on every file, structure checks, PHPUnit (Moodle stand-ins + SQLite).
# Exits non-zero on any failure. Installs Debian's PHP packages first when they are missing (CI on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/../.."

PACKAGES=(php-cli phpunit php-sqlite3 php-curl php-xml php-mbstring libxml2-utils)
have_tools() {
  command -v php >/dev/null && command -v phpunit >/dev/null && command -v xmllint >/dev/null || return 1
  local modules
  modules=$(php -m 2>/dev/null) || return 1
  for module in pdo_sqlite mbstring dom curl; do
    grep -qx "$module" <<<"$modules" || return 1
  done
}
if ! have_tools; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PHP test tools missing: install ${PACKAGES[*]} (as root)" >&2
    exit 1
  fi
  echo "installing ${PACKAGES[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >/dev/null
fi

echo "== php -l ($(php -r 'echo PHP_VERSION;'))"
failed=0
count=0
while IFS= read -r -d '' file; do
  count=$((count + 1))
  if ! out=$(php -l "$file" 2>&1); then
    echo "$out"
    failed=1
  fi
done < <(find moodle_plugin tests/moodle_plugin -name '*.php' -print0 | sort -z)
if [ "$failed" -ne 0 ]; then
  echo "php -l: syntax errors" >&2
  exit 1
fi
echo "php -l: $count files, no syntax errors"

echo "== install.xml"
xmllint --noout moodle_plugin/db/install.xml
echo "install.xml: well-formed"

echo "== structure checks"
php tests/moodle_plugin/check_structure.php

echo "== phpunit"
phpunit -c tests/moodle_plugin/phpunit.xml "$@"

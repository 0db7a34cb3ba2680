#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (as root), and nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postgresql maven kcat wrk php-cli phpunit php-sqlite3 php-curl php-xml php-mbstring libxml2-utils zip)
# A Java 17+ already on the PATH is as good as the JRE package.
java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || APT_PACKAGES+=(openjdk-17-jre-headless)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]} (run as root, or install them)" >&2; exit 1
  fi
  echo "installing system packages: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "installing Python packages into .venv"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Kafka's jars from Maven Central (cached under .cache/, keyed by the pom).
.venv/bin/python -c "from stack.kafka import ensure_jars; ensure_jars()"

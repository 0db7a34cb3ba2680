#!/usr/bin/env bash
# Builds build/local_moodle_zoho_sync.zip: the plugin in a top-level folder moodle_zoho_sync/, as Moodle's plugin
# installer expects for a local plugin (it unpacks into local/moodle_zoho_sync).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/local_moodle_zoho_sync.zip
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p build "$stage/moodle_zoho_sync"
cp -R moodle_plugin/. "$stage/moodle_zoho_sync/"
# No hidden files, editor backups or patch leftovers in a release.
find "$stage/moodle_zoho_sync" \( -name '.*' -o -name '*~' -o -name '*.orig' -o -name '*.rej' \) -prune -exec rm -rf {} +
find "$stage" -type d -exec chmod 755 {} + && find "$stage" -type f -exec chmod 644 {} +
rm -f "$out"
if command -v zip >/dev/null; then
  (cd "$stage" && zip -qrX "$OLDPWD/$out" moodle_zoho_sync)
else
  python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            zf.write(path, os.path.relpath(path, stage))
PY
fi
version=$(php -r '$plugin = new stdClass(); define("MOODLE_INTERNAL", 1); define("MATURITY_BETA", 100);
  define("MATURITY_STABLE", 200); define("MATURITY_RC", 150); define("MATURITY_ALPHA", 50);
  require "moodle_plugin/version.php"; echo $plugin->version, " (", $plugin->release, ")";' 2>/dev/null || echo "?")
echo "built $out: local_moodle_zoho_sync $version, $(unzip -Z1 "$out" 2>/dev/null | wc -l || echo '?') entries"

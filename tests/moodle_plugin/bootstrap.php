<?php
// PHPUnit bootstrap for the offline tests of local_moodle_zoho_sync (no Moodle checkout needed). GPL v3 or later.

// phpcs:disable

require_once(__DIR__ . '/lib/stubs.php');
require_once(__DIR__ . '/lib/fixture_builder.php');
require_once(__DIR__ . '/lib/plugin_testcase.php');

<?php
// Stand-in of Moodle's lib/clilib.php for the offline CLI tests (same signatures and option syntax).
// Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

/** Moodle's cli_get_params(): --name=value, --flag, -h; returns [options, unrecognised]. */
function cli_get_params(array $longoptions, ?array $shortmapping = null): array {
    $unrecognised = [];
    $options = $longoptions;
    foreach (array_slice($_SERVER['argv'], 1) as $arg) {
        if (preg_match('/^--([^=]+)(?:=(.*))?$/', $arg, $m) && array_key_exists($m[1], $longoptions)) {
            $options[$m[1]] = $m[2] ?? true;
        } else if (preg_match('/^-([a-z])$/', $arg, $m) && isset($shortmapping[$m[1]])) {
            $options[$shortmapping[$m[1]]] = true;
        } else {
            $unrecognised[] = $arg;
        }
    }
    return [$options, $unrecognised];
}

function cli_writeln($text) {
    echo $text, "\n";
}

function cli_error($text, $errorcode = 1) {
    fwrite(STDERR, $text . "\n");
    exit($errorcode);
}

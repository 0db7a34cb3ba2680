<?php
// Structure checks of the Moodle plugin that need no Moodle: version.php fields, lang strings used, observers and tasks
// resolving to classes, install.xml well-formed with valid names, boilerplate and coding style basics.
// Usage: php check_structure.php [plugin dir]. Exits 1 on any problem. Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

$dir = realpath($argv[1] ?? __DIR__ . '/../../moodle_plugin');
if ($dir === false || !is_file("$dir/version.php")) {
    fwrite(STDERR, "No plugin at " . ($argv[1] ?? '') . "\n");
    exit(2);
}

$component = 'local_moodle_zoho_sync';
$problems = [];
$checks = 0;
$check = function (bool $ok, string $message) use (&$problems, &$checks): void {
    $checks++;
    if (!$ok) {
        $problems[] = $message;
    }
};

// Moodle constants and class loading (the plugin's own classes from $dir).
require_once(__DIR__ . '/lib/stubs.php');
spl_autoload_register(function (string $class) use ($dir): void {
    $prefix = 'local_moodle_zoho_sync\\';
    if (str_starts_with($class, $prefix)) {
        $file = $dir . '/classes/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require_once($file);
        }
    }
}, true, true);

$phpfiles = [];
$iterator = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS));
foreach ($iterator as $file) {
    if ($file->getExtension() === 'php') {
        $phpfiles[] = $file->getPathname();
    }
}
sort($phpfiles);
$rel = fn(string $path): string => substr($path, strlen($dir) + 1);

// 1. version.php.
$plugin = new stdClass();
require("$dir/version.php");
$check(($plugin->component ?? null) === $component, "version.php: component must be '$component'");
$check(is_int($plugin->version ?? null) && preg_match('/^20\d{6}\d{2}$/', (string) $plugin->version) === 1,
    'version.php: version must be an int YYYYMMDDXX');
$check(is_int($plugin->requires ?? null) && $plugin->requires >= 2023100900,
    'version.php: requires must be an int >= 2023100900 (Moodle 4.3, needed for table names over 28 characters)');
$check(in_array($plugin->maturity ?? null, [MATURITY_ALPHA, MATURITY_BETA, MATURITY_RC, MATURITY_STABLE], true),
    'version.php: maturity must be a MATURITY_* constant');
$check(is_string($plugin->release ?? null) && $plugin->release !== '', 'version.php: release must be a string');
$check(!isset($plugin->supported) || (is_array($plugin->supported) && count($plugin->supported) === 2
    && $plugin->supported[0] <= $plugin->supported[1]), 'version.php: supported must be [from, to]');

// 2. Lang strings.
$string = [];
require("$dir/lang/en/$component.php");
$check(isset($string['pluginname']), 'lang: pluginname is missing');
$keys = array_keys($string);
$sorted = $keys;
sort($sorted, SORT_STRING);
$check($keys === $sorted, 'lang: strings are not in alphabetical order');
$used = [];
foreach ($phpfiles as $file) {
    $code = file_get_contents($file);
    preg_match_all("/(?:get_string|lang_string)\(\s*'([^']+)'\s*,\s*'$component'/", $code, $m);
    foreach ($m[1] as $id) {
        $used[$id][] = $rel($file);
    }
    // Privacy metadata ids are passed as bare strings.
    preg_match_all("/'(privacy:[a-z_:]+)'/", $code, $m);
    foreach ($m[1] as $id) {
        $used[$id][] = $rel($file);
    }
}
foreach (\local_moodle_zoho_sync\local\config::EVENT_TYPES as $eventtype) {
    $used['event_' . $eventtype][] = 'config::EVENT_TYPES (settings, index.php)';
}
foreach (['pending', 'sent', 'failed'] as $status) {
    $used['status_' . $status][] = 'outbox statuses (index.php)';
}
$capabilities = [];
require("$dir/db/access.php");
foreach ($capabilities as $name => $definition) {
    $check(preg_match('~^local/moodle_zoho_sync:[a-z]+$~', $name) === 1, "access.php: bad capability name $name");
    $check(isset($definition['captype'], $definition['contextlevel']), "access.php: $name needs captype and contextlevel");
    $used[substr($name, strlen('local/'))][] = 'db/access.php';
}
$check(isset($capabilities['local/moodle_zoho_sync:manage']), 'access.php: local/moodle_zoho_sync:manage is missing');
foreach ($used as $id => $where) {
    $check(array_key_exists($id, $string), "lang: string '$id' used in " . implode(', ', array_unique($where)) . ' is missing');
}

// 3. Observers.
$observers = [];
require("$dir/db/events.php");
$check(count($observers) > 0, 'events.php: no observers');
foreach ($observers as $i => $observer) {
    $check(str_starts_with($observer['eventname'] ?? '', '\\'), "events.php: observer $i eventname must start with \\");
    [$class, $method] = array_pad(explode('::', $observer['callback'] ?? ''), 2, '');
    $ok = class_exists($class) && method_exists($class, $method)
        && (new ReflectionMethod($class, $method))->isStatic() && (new ReflectionMethod($class, $method))->isPublic();
    $check($ok, "events.php: callback {$observer['callback']} is not a public static method of an autoloaded class");
    $check(!array_key_exists('internal', $observer) || $observer['internal'] === true,
        "events.php: {$observer['eventname']} must stay internal so the outbox row shares the event's transaction");
}

// 4. Tasks.
$tasks = [];
require("$dir/db/tasks.php");
foreach ($tasks as $task) {
    $class = $task['classname'] ?? '';
    $check(class_exists($class) && is_subclass_of($class, \core\task\scheduled_task::class),
        "tasks.php: $class is not a scheduled_task class");
    foreach (['minute', 'hour', 'day', 'month', 'dayofweek'] as $field) {
        $check(isset($task[$field]), "tasks.php: $class needs $field");
    }
}
foreach (glob("$dir/classes/task/*.php") as $file) {
    $class = '\\local_moodle_zoho_sync\\task\\' . basename($file, '.php');
    $check(class_exists($class) && (is_subclass_of($class, \core\task\adhoc_task::class)
        || is_subclass_of($class, \core\task\scheduled_task::class)), "classes/task: $class is not a task");
}

// 5. install.xml.
$document = new DOMDocument();
$loaded = @$document->load("$dir/db/install.xml");
$check($loaded, 'install.xml is not well-formed XML');
if ($loaded) {
    $root = $document->documentElement;
    $check($root->nodeName === 'XMLDB' && $root->getAttribute('PATH') === 'local/moodle_zoho_sync/db',
        'install.xml: root must be XMLDB with PATH="local/moodle_zoho_sync/db"');
    foreach ($document->getElementsByTagName('TABLE') as $table) {
        $name = $table->getAttribute('NAME');
        $check(preg_match('/^[a-z][a-z0-9_]*$/', $name) === 1, "install.xml: table name $name must be lower case a-z0-9_");
        $check($name === $component || str_starts_with($name, $component . '_'), "install.xml: table $name must start with $component");
        $check(strlen($name) <= 53, "install.xml: table name $name is longer than 53 characters");
        $fields = [];
        foreach ($table->getElementsByTagName('FIELD') as $field) {
            $fname = $field->getAttribute('NAME');
            $fields[] = $fname;
            $check(preg_match('/^[a-z][a-z0-9_]*$/', $fname) === 1 && strlen($fname) <= 63, "install.xml: bad field $name.$fname");
            $check(in_array($field->getAttribute('TYPE'), ['int', 'number', 'float', 'char', 'text', 'binary'], true),
                "install.xml: bad type of $name.$fname");
        }
        $primary = false;
        foreach ($table->getElementsByTagName('KEY') as $key) {
            foreach (array_map('trim', explode(',', $key->getAttribute('FIELDS'))) as $kfield) {
                $check(in_array($kfield, $fields, true), "install.xml: key {$key->getAttribute('NAME')} uses unknown field $kfield");
            }
            $primary = $primary || ($key->getAttribute('TYPE') === 'primary' && $key->getAttribute('FIELDS') === 'id');
        }
        foreach ($table->getElementsByTagName('INDEX') as $index) {
            foreach (array_map('trim', explode(',', $index->getAttribute('FIELDS'))) as $ifield) {
                $check(in_array($ifield, $fields, true), "install.xml: index {$index->getAttribute('NAME')} uses unknown field $ifield");
            }
        }
        $check($primary, "install.xml: $name needs a primary key on id");
    }
}
$check(is_file("$dir/db/upgrade.php") && str_contains(file_get_contents("$dir/db/upgrade.php"),
    'function xmldb_local_moodle_zoho_sync_upgrade('), 'db/upgrade.php must define xmldb_local_moodle_zoho_sync_upgrade()');
$check(is_file("$dir/classes/privacy/provider.php"), 'classes/privacy/provider.php is missing');

// 6. Boilerplate and style on every PHP file.
foreach ($phpfiles as $file) {
    $name = $rel($file);
    $code = file_get_contents($file);
    $check(str_starts_with($code, "<?php\n// This file is part of Moodle - https://moodle.org/"), "$name: GPL header missing");
    $check(str_contains($code, 'GNU General Public License'), "$name: GPL header incomplete");
    $check(preg_match('/\* @package\s+local_moodle_zoho_sync\n/', $code) === 1, "$name: docblock without @package $component");
    $check(str_contains($code, '@license'), "$name: docblock without @license");
    $check(!preg_match('/\barray\s*\(/', $code), "$name: long array syntax array(...)");
    $check(!str_contains($code, '?>'), "$name: closing ?> tag");
    $check(!preg_match('/\b(curl_init|file_put_contents|error_log|var_dump|print_r|sleep)\s*\(/', $code),
        "$name: forbidden function (use \\curl, no sleep/error_log/debug output)");
    if (preg_match('~^(version\.php|db/|lang/)~', $name)) {
        $check(!preg_match('/\brequire(_once)?\s*\(/', $code), "$name: no require in version.php, db/ or lang/");
    }
    if (str_starts_with($name, 'classes/')) {
        $expected = 'local_moodle_zoho_sync' . (dirname($name) === 'classes' ? ''
            : '\\' . str_replace('/', '\\', substr(dirname($name), strlen('classes/'))));
        $check(str_contains($code, "\nnamespace $expected;\n"), "$name: namespace must be $expected");
    }
    foreach (explode("\n", $code) as $n => $line) {
        $line_no = $n + 1;
        if (!str_starts_with($name, 'lang/')) {
            $check(strlen($line) <= 132, "$name:$line_no: line longer than 132 characters");
        }
        $check(!preg_match('/[ \t]+$/', $line), "$name:$line_no: trailing whitespace");
        $check(!str_contains($line, "\t"), "$name:$line_no: tab character");
    }
}

if ($problems) {
    fwrite(STDERR, implode("\n", array_map(fn($p) => "FAIL $p", $problems)) . "\n");
    printf("Structure checks: %d problem(s) in %d checks\n", count($problems), $checks);
    exit(1);
}
printf("Structure checks: OK (%d checks, %d PHP files, %d lang strings)\n", $checks, count($phpfiles), count($string));
exit(0);

<?php
// Moodle stand-ins for the offline tests: just enough of Moodle's API, with Moodle's behaviour where the plugin
// depends on it (exception messages from lang strings, adhoc tasks kept in the database until they finish,
// curl security blocking internal hosts unless ignoresecurity is set).
// This file is part of the test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

define('MOODLE_INTERNAL', true);
define('MATURITY_ALPHA', 50);
define('MATURITY_BETA', 100);
define('MATURITY_RC', 150);
define('MATURITY_STABLE', 200);
define('CONTEXT_SYSTEM', 10);
define('CONTEXT_USER', 30);
define('CONTEXT_COURSECAT', 40);
define('CONTEXT_COURSE', 50);
define('CONTEXT_MODULE', 70);
define('CONTEXT_BLOCK', 80);
define('HOURSECS', 3600);
define('DAYSECS', 86400);
define('MINSECS', 60);
define('SQL_PARAMS_NAMED', 1);
define('SQL_PARAMS_QM', 2);
define('IGNORE_MISSING', 0);
define('IGNORE_MULTIPLE', 1);
define('MUST_EXIST', 2);
define('RISK_MANAGETRUST', 0x0001);
define('RISK_CONFIG', 0x0002);
define('RISK_XSS', 0x0004);
define('RISK_PERSONAL', 0x0008);
define('RISK_SPAM', 0x0010);
define('RISK_DATALOSS', 0x0020);
define('CAP_ALLOW', 1);
define('DEBUG_NORMAL', 15);
define('DEBUG_DEVELOPER', 32767);

global $CFG;
$CFG = new stdClass();
$CFG->wwwroot = 'https://lms.example.edu';
$CFG->dirroot = '/var/www/moodle';
// A stand-in of Moodle's lib/: \curl exists only once lib/filelib.php is loaded, as in Moodle's task runner.
$CFG->libdir = __DIR__ . '/moodle/lib';

/** Plugin directory under test. */
define('LOCAL_MZS_PLUGIN_DIR', realpath(__DIR__ . '/../../../moodle_plugin'));

spl_autoload_register(function (string $class): void {
    $prefix = 'local_moodle_zoho_sync\\';
    if (str_starts_with($class, $prefix)) {
        $file = LOCAL_MZS_PLUGIN_DIR . '/classes/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require_once($file);
        }
    }
});

/** In-memory config_plugins. */
final class test_config {
    public static array $values = [];
}

function get_config($plugin, $name = null) {
    if ($name === null) {
        return (object) (test_config::$values[$plugin] ?? []);
    }
    return test_config::$values[$plugin][$name] ?? false;
}

function unset_config($name, $plugin = null) {
    unset(test_config::$values[$plugin][$name]);
    return true;
}

function set_config($name, $value, $plugin = null) {
    if ($value === null) {
        unset(test_config::$values[$plugin][$name]);
    } else {
        test_config::$values[$plugin][$name] = (string) $value;
    }
    return true;
}

/** Strings of our lang file; other components answer "[identifier,component]". */
function get_string($identifier, $component = '', $a = null) {
    static $strings = null;
    if ($strings === null) {
        $string = [];
        require(LOCAL_MZS_PLUGIN_DIR . '/lang/en/local_moodle_zoho_sync.php');
        $strings = $string;
    }
    if ($component === 'admin' && $identifier === 'curlsecurityurlblocked') {
        return 'The URL is blocked.';
    }
    if ($component !== 'local_moodle_zoho_sync') {
        return "[$identifier,$component]";
    }
    if (!array_key_exists($identifier, $strings)) {
        throw new coding_exception("Missing string $identifier in local_moodle_zoho_sync");
    }
    $text = $strings[$identifier];
    if ($a !== null) {
        if (is_object($a) || is_array($a)) {
            foreach ((array) $a as $key => $value) {
                $text = str_replace('{$a->' . $key . '}', (string) $value, $text);
            }
        } else {
            $text = str_replace('{$a}', (string) $a, $text);
        }
    }
    return $text;
}

/** Moodle's debugging() fails a PHPUnit test when called unexpectedly; so do we. */
function debugging($message = '', $level = DEBUG_NORMAL) {
    throw new coding_exception('Unexpected debugging() call: ' . $message);
}

final class test_mtrace {
    public static array $lines = [];
}

function mtrace($string, $eol = "\n") {
    test_mtrace::$lines[] = $string;
}

class moodle_exception extends Exception {
    public $errorcode;
    public $module;
    public $a;
    public $link;
    public $debuginfo;

    public function __construct($errorcode, $module = '', $link = '', $a = null, $debuginfo = null) {
        $this->errorcode = $errorcode;
        $this->module = $module;
        $this->a = $a;
        $this->link = $link;
        $this->debuginfo = $debuginfo;
        if ($module === 'local_moodle_zoho_sync') {
            $message = get_string($errorcode, $module, $a);
        } else {
            $message = "[$errorcode,$module]";
        }
        parent::__construct($message, 0);
    }
}

class coding_exception extends moodle_exception {
    public function __construct($hint, $debuginfo = null) {
        parent::__construct('codingerror', 'debug', '', $hint, $debuginfo);
        $this->message = 'Coding error detected, it must be fixed by a programmer: ' . $hint;
    }
}

class dml_exception extends moodle_exception {
    public function __construct($errorcode, $a = null, $debuginfo = null) {
        parent::__construct($errorcode, 'error', '', $a, $debuginfo);
        $this->message = "DML error $errorcode: " . (is_scalar($a) ? $a : json_encode($a)) . ' ' . $debuginfo;
    }
}

class dml_missing_record_exception extends dml_exception {
}

class core_text {
    public static function strlen($text) {
        return mb_strlen((string) $text, 'UTF-8');
    }

    public static function substr($text, $start, $len = null) {
        return mb_substr((string) $text, $start, $len, 'UTF-8');
    }

    public static function strtolower($text) {
        return mb_strtolower((string) $text, 'UTF-8');
    }
}

/** Minimal contexts read from the context table. */
abstract class context {
    public $id;
    public $contextlevel;
    public $instanceid;
    public $path;

    public static function instance_by_id($id) {
        global $DB;
        $record = $DB->get_record('context', ['id' => $id], '*', MUST_EXIST);
        $class = match ((int) $record->contextlevel) {
            CONTEXT_SYSTEM => context_system::class,
            CONTEXT_USER => context_user::class,
            CONTEXT_COURSE => context_course::class,
            CONTEXT_MODULE => context_module::class,
            default => throw new coding_exception('unsupported context level'),
        };
        $context = new $class();
        foreach (['id', 'contextlevel', 'instanceid', 'path'] as $field) {
            $context->$field = is_numeric($record->$field) ? (int) $record->$field : $record->$field;
        }
        return $context;
    }

    protected static function by_instance(int $level, int $instanceid) {
        global $DB;
        $id = $DB->get_field('context', 'id', ['contextlevel' => $level, 'instanceid' => $instanceid], MUST_EXIST);
        return static::instance_by_id($id);
    }
}

class context_system extends context {
    public static function instance() {
        return static::by_instance(CONTEXT_SYSTEM, 0);
    }
}

class context_user extends context {
    public static function instance($userid) {
        return static::by_instance(CONTEXT_USER, (int) $userid);
    }
}

class context_course extends context {
    public static function instance($courseid) {
        return static::by_instance(CONTEXT_COURSE, (int) $courseid);
    }
}

class context_module extends context {
    public static function instance($cmid) {
        return static::by_instance(CONTEXT_MODULE, (int) $cmid);
    }
}

/** What the fake \curl (lib/moodle/lib/filelib.php) answers and what it was asked. */
final class test_http {
    /** @var array[] Scripted answers: ['status' => int, 'body' => string] or ['errno' => int, 'error' => string]. */
    public static array $script = [];
    /** @var array[] Requests made: url, headers, body, options, ignoresecurity. */
    public static array $requests = [];

    public static function reset(): void {
        self::$script = [];
        self::$requests = [];
    }
}

require_once(__DIR__ . '/core_stubs.php');
require_once(__DIR__ . '/privacy_stubs.php');
require_once(__DIR__ . '/sqlite_database.php');

/**
 * A fresh SQLite $DB with Moodle's tables (fixtures/core_schema.sql) and the plugin's db/install.xml; without the
 * gradingform_btec tables for a site that does not have that plugin.
 */
function test_new_database(bool $btec = true, ?string $file = null): sqlite_moodle_database {
    $db = new sqlite_moodle_database($file);
    $db->create_from_sql_file(__DIR__ . '/../fixtures/core_schema.sql');
    if (!$btec) {
        $db->drop_table('gradingform_btec_criteria');
        $db->drop_table('gradingform_btec_fillings');
    }
    $db->create_from_install_xml(LOCAL_MZS_PLUGIN_DIR . '/db/install.xml');
    return $db;
}

/** Deliver an event to the observers registered for it in db/events.php, as Moodle's event manager does. */
function test_dispatch_event(\core\event\base $event): int {
    $observers = [];
    require(LOCAL_MZS_PLUGIN_DIR . '/db/events.php');
    $called = 0;
    foreach ($observers as $observer) {
        if ($observer['eventname'] === $event->eventname) {
            call_user_func($observer['callback'], $event);
            $called++;
        }
    }
    return $called;
}

<?php
// Base class of the plugin's offline tests: a fresh SQLite $DB with Moodle's tables and the plugin's install.xml,
// default settings, the fake curl and Moodle-style event dispatch through db/events.php.
// Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

abstract class plugin_testcase extends \PHPUnit\Framework\TestCase {
    /** A Standard Webhooks secret, as the backend would issue it. */
    public const SECRET = 'whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3';

    protected sqlite_moodle_database $db;
    protected fixture_builder $fx;

    protected function setUp(): void {
        global $DB;
        $DB = $this->db = self::new_database();
        $this->fx = new fixture_builder($this->db);
        self::default_config();
        test_http::reset();
        \core\lock\lock_config::$held = [];
        \core_privacy\local\request\writer::reset();
        test_mtrace::$lines = [];
        \local_moodle_zoho_sync\observer::reset_request_memo();
    }

    public static function new_database(): sqlite_moodle_database {
        return test_new_database();
    }

    /** Start over on a site without the gradingform_btec plugin (its tables absent). */
    protected function use_site_without_btec(): void {
        global $DB;
        $DB = $this->db = test_new_database(false);
        $this->fx = new fixture_builder($this->db);
    }

    public static function default_config(): void {
        test_config::$values = [];
        set_config('backendurl', 'https://sync.example.edu/', 'local_moodle_zoho_sync');
        set_config('tenantid', 'college-a', 'local_moodle_zoho_sync');
        set_config('secret', self::SECRET, 'local_moodle_zoho_sync');
        set_config('timeout', 7, 'local_moodle_zoho_sync');
        set_config('maxattempts', 4, 'local_moodle_zoho_sync');
    }

    /** Deliver an event to the observers registered for it in db/events.php, as Moodle's event manager does. */
    public static function dispatch(\core\event\base $event): int {
        return test_dispatch_event($event);
    }

    protected function outbox_rows(): array {
        return array_values($this->db->get_records('local_moodle_zoho_sync_outbox', [], 'id ASC'));
    }

    protected function queued_tasks(): array {
        return array_values($this->db->get_records('task_adhoc', [], 'id ASC'));
    }

    /** Answer the next HTTP request(s). */
    protected function script(array ...$answers): void {
        foreach ($answers as $answer) {
            test_http::$script[] = $answer;
        }
    }

    protected static function accepted(int $offset = 7): array {
        return ['status' => 202, 'body' => json_encode(['request_id' => 'req-' . $offset, 'topic' => 'raw.moodle',
            'partition' => 1, 'offset' => $offset])];
    }

    /** The request headers of a recorded request as name => value. */
    protected static function headers(array $request): array {
        $headers = [];
        foreach ($request['headers'] as $line) {
            [$name, $value] = explode(':', $line, 2);
            $headers[$name] = ltrim($value);
        }
        return $headers;
    }
}

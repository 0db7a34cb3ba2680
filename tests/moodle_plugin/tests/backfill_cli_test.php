<?php
// The backfill CLI script itself, run as Moodle would run it (php .../cli/backfill.php), against a Moodle stand-in
// whose database and config live in files. Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

final class backfill_cli_test extends plugin_testcase {
    private string $root;
    private string $dbfile;
    private string $configfile;

    protected function setUp(): void {
        parent::setUp();
        $this->root = sys_get_temp_dir() . '/mzs-moodle-' . bin2hex(random_bytes(6));
        mkdir($this->root . '/local/moodle_zoho_sync/cli', 0777, true);
        copy(LOCAL_MZS_PLUGIN_DIR . '/cli/backfill.php', $this->root . '/local/moodle_zoho_sync/cli/backfill.php');
        $this->dbfile = $this->root . '/moodle.sqlite';
        $this->configfile = $this->root . '/config.json';
        $stubs = var_export(realpath(__DIR__ . '/../lib/stubs.php'), true);
        $db = var_export($this->dbfile, true);
        $config = var_export($this->configfile, true);
        file_put_contents($this->root . '/config.php', "<?php
require_once($stubs);
global \$DB;
\$DB = new sqlite_moodle_database($db);
test_config::\$values = json_decode(file_get_contents($config), true);
register_shutdown_function(fn() => file_put_contents($config, json_encode(test_config::\$values)));
");
        global $DB;
        $DB = $this->db = test_new_database(true, $this->dbfile);
        $this->fx = new fixture_builder($this->db);
        $course = $this->fx->course();
        for ($i = 0; $i < 5; $i++) {
            $this->fx->enrol($this->fx->user(), $course);
        }
        file_put_contents($this->configfile, json_encode(test_config::$values));
    }

    protected function tearDown(): void {
        foreach (['/local/moodle_zoho_sync/cli/backfill.php', '/config.php', '/moodle.sqlite', '/config.json'] as $file) {
            @unlink($this->root . $file);
        }
        foreach (['/local/moodle_zoho_sync/cli', '/local/moodle_zoho_sync', '/local', ''] as $dir) {
            @rmdir($this->root . $dir);
        }
        parent::tearDown();
    }

    private function cli(string ...$args): array {
        $command = escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg($this->root . '/local/moodle_zoho_sync/cli/backfill.php');
        foreach ($args as $arg) {
            $command .= ' ' . escapeshellarg($arg);
        }
        exec($command . ' 2>&1', $output, $status);
        return [$status, $output];
    }

    public function test_the_cli_queues_in_batches_stops_when_asked_and_resumes(): void {
        [$status, $output] = $this->cli('--batch=2', '--max-batches=2');

        $this->assertSame(0, $status, implode("\n", $output));
        $this->assertSame('users: 2 queued, 0 unchanged, up to id 2, 3 left', $output[0]);
        $this->assertSame('users: 2 queued, 0 unchanged, up to id 4, 1 left', $output[1]);
        $this->assertSame('Stopped after 2 batch(es); run again to go on.', $output[2]);
        $this->assertSame(4, $this->db->count_records('local_moodle_zoho_sync_outbox'));

        [$status, $output] = $this->cli('--batch=2');

        $this->assertSame(0, $status, implode("\n", $output));
        $this->assertSame(['users: 1 queued, 0 unchanged, up to id 5, 0 left',
            'enrolments: 2 queued, 0 unchanged, up to id 2, 3 left',
            'enrolments: 2 queued, 0 unchanged, up to id 4, 1 left',
            'enrolments: 1 queued, 0 unchanged, up to id 5, 0 left',
            'grades: 0 queued, 0 unchanged, up to id 0, 0 left',
            'Backfill done. Cron delivers the queued events; the event log shows them.'], $output);
        $this->assertSame(10, $this->db->count_records('local_moodle_zoho_sync_outbox'));

        [$status, $output] = $this->cli('--restart', '--kinds=users', '--batch=500');

        $this->assertSame(0, $status, implode("\n", $output));
        $this->assertSame(['Cursors cleared: starting from the first record.', 'users: 0 queued, 5 unchanged, up to id 5, 0 left',
            'Backfill done. Cron delivers the queued events; the event log shows them.'], $output);
        $this->assertSame(10, $this->db->count_records('local_moodle_zoho_sync_outbox'));
    }

    public function test_bad_options_are_refused(): void {
        [$status, $output] = $this->cli('--batch=0');
        $this->assertSame(1, $status);
        $this->assertSame(['--batch must be between 1 and 5000'], $output);

        [$status, $output] = $this->cli('--kinds=users,courses');
        $this->assertSame(1, $status);
        $this->assertSame(['Unknown kind(s): courses; expected users, enrolments, grades'], $output);
    }
}

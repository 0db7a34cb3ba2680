<?php
// The structure check passes on the plugin and catches the mistakes it exists for.
// Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

final class structure_check_test extends \PHPUnit\Framework\TestCase {
    private string $copy;

    protected function setUp(): void {
        $this->copy = sys_get_temp_dir() . '/mzs_structure_' . getmypid() . '_' . bin2hex(random_bytes(4));
        exec('cp -r ' . escapeshellarg(LOCAL_MZS_PLUGIN_DIR) . ' ' . escapeshellarg($this->copy));
    }

    protected function tearDown(): void {
        exec('rm -rf ' . escapeshellarg($this->copy));
    }

    private function run_check(string $dir): array {
        $output = [];
        exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(__DIR__ . '/../check_structure.php') . ' '
            . escapeshellarg($dir) . ' 2>&1', $output, $status);
        return [$status, implode("\n", $output)];
    }

    public function test_the_plugin_passes(): void {
        [$status, $output] = $this->run_check(LOCAL_MZS_PLUGIN_DIR);
        $this->assertSame(0, $status, $output);
        $this->assertStringContainsString('Structure checks: OK', $output);
    }

    public function test_a_missing_string_a_bad_table_name_and_a_wrong_callback_are_reported(): void {
        $lang = "$this->copy/lang/en/local_moodle_zoho_sync.php";
        file_put_contents($lang, preg_replace('/^\$string\[\'retryqueued\'\].*\n/m', '', file_get_contents($lang)));
        $xml = "$this->copy/db/install.xml";
        file_put_contents($xml, str_replace('NAME="local_moodle_zoho_sync_outbox"', 'NAME="mzi_Outbox"', file_get_contents($xml)));
        $events = "$this->copy/db/events.php";
        file_put_contents($events, str_replace('observer::user_created', 'observer::user_create', file_get_contents($events)));

        [$status, $output] = $this->run_check($this->copy);

        $this->assertSame(1, $status);
        $this->assertStringContainsString("lang: string 'retryqueued' used in index.php is missing", $output);
        $this->assertStringContainsString('table name mzi_Outbox must be lower case', $output);
        $this->assertStringContainsString('table mzi_Outbox must start with local_moodle_zoho_sync', $output);
        $this->assertStringContainsString('callback \local_moodle_zoho_sync\observer::user_create is not', $output);
    }

    public function test_malformed_install_xml_and_missing_boilerplate_are_reported(): void {
        file_put_contents("$this->copy/db/install.xml", '<XMLDB><TABLES>');
        file_put_contents("$this->copy/classes/local/extra.php", "<?php\nnamespace local_moodle_zoho_sync\\local;\n"
            . "class extra {\n    public \$a = array(1);\n}\n");

        [$status, $output] = $this->run_check($this->copy);

        $this->assertSame(1, $status);
        $this->assertStringContainsString('install.xml is not well-formed XML', $output);
        $this->assertStringContainsString('classes/local/extra.php: GPL header missing', $output);
        $this->assertStringContainsString('classes/local/extra.php: long array syntax', $output);
    }

    public function test_the_admin_page_uses_bootstrap_5_classes_with_their_bootstrap_4_twins(): void {
        $page = file_get_contents(LOCAL_MZS_PLUGIN_DIR . '/index.php');
        // Bootstrap 4 only: gone in Moodle 5 (Bootstrap 5).
        foreach (['badge-success', 'badge-warning', 'badge-danger', 'form-inline'] as $class) {
            $this->assertStringNotContainsString($class, $page);
        }
        foreach (['badge bg-success', 'badge bg-danger', 'me-1', 'me-2', 'form-select', 'visually-hidden'] as $class) {
            $this->assertStringContainsString($class, $page);
        }
        // Moodle 4.3-4.5 ship Bootstrap 4.6, which has no me-*, form-select or visually-hidden.
        foreach (['mr-1 me-1', 'mr-2 me-2', 'custom-select form-select', 'sr-only visually-hidden'] as $pair) {
            $this->assertStringContainsString($pair, $page);
        }
    }
}

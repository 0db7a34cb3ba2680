<?php
// Privacy provider and the admin event log's query. Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use core\event\user_created;
use core_privacy\local\metadata\collection;
use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\userlist;
use core_privacy\local\request\writer;
use local_moodle_zoho_sync\local\outbox;
use local_moodle_zoho_sync\privacy\provider;

final class privacy_and_log_test extends plugin_testcase {
    private stdClass $lina;
    private stdClass $omar;

    protected function setUp(): void {
        parent::setUp();
        $this->lina = $this->fx->user(['firstname' => 'Lina', 'lastname' => 'Haddad', 'email' => 'lina@college.example']);
        $this->omar = $this->fx->user(['firstname' => 'Omar', 'lastname' => 'Saleh', 'email' => 'omar@college.example']);
        foreach ([$this->lina, $this->omar] as $user) {
            self::dispatch(user_created::create(['objectid' => $user->id, 'relateduserid' => $user->id]));
        }
    }

    public function test_metadata_declares_the_outbox_and_the_external_backend_with_existing_strings(): void {
        $items = provider::get_metadata(new collection('local_moodle_zoho_sync'))->get_collection();

        $this->assertSame(['database_table:local_moodle_zoho_sync_outbox', 'external_location:zohobackend'],
            array_map(fn($i) => $i['type'] . ':' . $i['name'], $items));
        $columns = $this->db->get_columns('local_moodle_zoho_sync_outbox');
        foreach (array_keys($items[0]['fields']) as $field) {
            $this->assertContains($field, $columns, "declared field $field exists in the table");
        }
        $this->assertContains('userid', array_keys($items[0]['fields']));
        $this->assertContains('email', array_keys($items[1]['fields']));
        foreach ($items as $item) {
            foreach (array_merge([$item['summary']], array_values($item['fields'])) as $identifier) {
                $this->assertNotSame('', get_string($identifier, 'local_moodle_zoho_sync'));
            }
        }
    }

    public function test_user_context_is_found_exported_and_deleted_for_that_user_only(): void {
        $contextids = provider::get_contexts_for_userid((int) $this->lina->id)->get_contextids();
        $this->assertSame([(int) $this->lina->contextid], $contextids);
        $this->assertSame([], provider::get_contexts_for_userid((int) $this->fx->user()->id)->get_contextids());

        $approved = new approved_contextlist($this->lina, 'local_moodle_zoho_sync', $contextids);
        provider::export_user_data($approved);
        $exported = writer::with_context(context_user::instance($this->lina->id))->exported;
        $events = reset($exported)->events;
        $this->assertCount(1, $events);
        $this->assertSame('user_created', $events[0]->eventtype);

        provider::delete_data_for_user($approved);

        $this->assertSame([(int) $this->omar->id], array_map('intval', array_column($this->outbox_rows(), 'userid')));
    }

    public function test_userlist_and_bulk_delete(): void {
        $context = context_user::instance($this->omar->id);
        $userlist = new userlist($context, 'local_moodle_zoho_sync');
        provider::get_users_in_context($userlist);
        $this->assertSame([(int) $this->omar->id], $userlist->get_userids());

        provider::delete_data_for_users(new approved_userlist($context, 'local_moodle_zoho_sync', [$this->omar->id]));
        $this->assertSame([(int) $this->lina->id], array_map('intval', array_column($this->outbox_rows(), 'userid')));

        provider::delete_data_for_all_users_in_context(context_user::instance($this->lina->id));
        $this->assertSame([], $this->outbox_rows());
    }

    public function test_log_filters_by_status_event_and_user_search_newest_first(): void {
        $rows = $this->outbox_rows();
        $this->db->update_record('local_moodle_zoho_sync_outbox', ['id' => $rows[0]->id, 'status' => 'failed',
            'timecreated' => 100]);
        $this->db->update_record('local_moodle_zoho_sync_outbox', ['id' => $rows[1]->id, 'status' => 'sent',
            'timecreated' => 200]);

        [$all, $total] = outbox::get_log([]);
        $this->assertSame(2, $total);
        $this->assertSame(['Omar', 'Lina'], array_column(array_values($all), 'userfirstname'));

        [$failed] = outbox::get_log(['status' => 'failed']);
        $this->assertSame(['Lina'], array_column(array_values($failed), 'userfirstname'));

        [$found, $count] = outbox::get_log(['search' => 'lina HADDAD']);
        $this->assertSame(1, $count);
        $this->assertSame('lina@college.example', reset($found)->useremail);
        [, $count] = outbox::get_log(['search' => 'omar@college']);
        $this->assertSame(1, $count);
        [, $count] = outbox::get_log(['search' => '100%']);
        $this->assertSame(0, $count);

        [, $count] = outbox::get_log(['eventtype' => 'grade_updated']);
        $this->assertSame(0, $count);

        [$page, $total] = outbox::get_log([], 1, 1);
        $this->assertSame(2, $total);
        $this->assertSame(['Lina'], array_column(array_values($page), 'userfirstname'));
    }

    public function test_retry_all_failed_puts_only_failed_rows_back(): void {
        $rows = $this->outbox_rows();
        $this->db->update_record('local_moodle_zoho_sync_outbox', ['id' => $rows[0]->id, 'status' => 'failed', 'attempts' => 8]);
        $this->db->update_record('local_moodle_zoho_sync_outbox', ['id' => $rows[1]->id, 'status' => 'sent', 'attempts' => 1]);

        $this->assertSame(1, outbox::retry_all_failed());

        $rows = $this->outbox_rows();
        $this->assertSame(['pending', 'sent'], array_column($rows, 'status'));
        $this->assertEquals(0, $rows[0]->attempts);
    }
}

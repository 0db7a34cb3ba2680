<?php
// Delivery: signed POST with Moodle's curl, the answer recorded, retries with backoff, failures in the log.
// Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use core\event\user_created;
use core\event\role_assigned;
use core\event\user_enrolment_created;
use core\task\manager;
use local_moodle_zoho_sync\local\config;
use local_moodle_zoho_sync\local\delivery;
use local_moodle_zoho_sync\local\outbox;
use local_moodle_zoho_sync\local\signer;
use local_moodle_zoho_sync\task\requeue_stuck;

final class delivery_test extends plugin_testcase {
    private const T0 = 1762060000;

    private stdClass $user;
    /** @var int Wall-clock time of the test: rows are due from when they were queued. */
    private int $now;

    protected function setUp(): void {
        parent::setUp();
        $this->now = time();
        $this->user = $this->fx->user(['username' => 'lina.haddad', 'firstname' => 'Lina', 'lastname' => 'Haddad',
            'email' => 'lina.haddad@abchorizon.com', 'idnumber' => 'STU-0001']);
        self::dispatch(user_created::create(['objectid' => $this->user->id, 'relateduserid' => $this->user->id,
            'contextid' => $this->user->contextid, 'timecreated' => self::T0 - 60]));
    }

    private function row(): stdClass {
        return $this->outbox_rows()[0];
    }

    private function cron(int $now): int {
        return manager::run_due_adhoc_tasks($now);
    }

    public function test_success_sends_a_signed_request_and_records_the_answer(): void {
        $this->script(self::accepted(4711));

        $this->cron($this->now + 5);

        $row = $this->row();
        $this->assertSame('sent', $row->status);
        $this->assertEquals(1, $row->attempts);
        $this->assertEquals(202, $row->httpstatus);
        $this->assertSame(['request_id' => 'req-4711', 'topic' => 'raw.moodle', 'partition' => 1, 'offset' => 4711],
            json_decode($row->response, true));
        $this->assertNull($row->lasterror);
        $this->assertNotNull($row->timesent);

        $this->assertCount(1, test_http::$requests);
        $request = test_http::$requests[0];
        $this->assertSame('https://sync.example.edu/webhooks/moodle/user_created', $request['url']);
        $this->assertFalse($request['ignoresecurity']);
        $this->assertSame(7, $request['options']['CURLOPT_TIMEOUT']);

        $headers = self::headers($request);
        $body = json_decode($request['body'], true);
        $this->assertSame($row->eventid, $headers['webhook-id']);
        $this->assertSame($row->eventid, $body['event_id']);
        $this->assertSame('college-a', $headers['X-Tenant-ID']);
        $this->assertSame('application/json', $headers['Content-Type']);
        $this->assertMatchesRegularExpression('/^\d{10}$/', $headers['webhook-timestamp']);
        // Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded key, "id.timestamp.body")).
        $key = base64_decode(substr(self::SECRET, strlen('whsec_')));
        $expected = 'v1,' . base64_encode(hash_hmac('sha256',
            $headers['webhook-id'] . '.' . $headers['webhook-timestamp'] . '.' . $request['body'], $key, true));
        $this->assertSame($expected, $headers['webhook-signature']);

        $this->assertSame('user_created', $body['event_type']);
        $this->assertSame('\core\event\user_created', $body['event_name']);
        $this->assertSame(self::T0 - 60, $body['timestamp']);
        $this->assertSame('lina.haddad@abchorizon.com', $body['data']['email']);
        $this->assertSame([], $this->queued_tasks());
    }

    /**
     * Moodle's adhoc task runner does not load lib/filelib.php: delivery must load it itself.
     *
     * @runInSeparateProcess
     * @preserveGlobalState disabled
     */
    public function test_delivery_loads_filelib_itself_as_under_moodles_task_runner(): void {
        $this->assertFalse(class_exists('curl', false), 'nothing loaded lib/filelib.php before the task');
        $this->script(self::accepted());

        $this->cron($this->now + 5);

        $this->assertSame('sent', $this->row()->status);
        $this->assertTrue(class_exists('curl', false));
    }

    public function test_any_error_during_delivery_is_recorded_on_the_row(): void {
        // No scripted answer: the fake curl throws, as any unexpected Error or exception would.
        $this->assertSame(delivery::RESULT_RETRY, delivery::deliver((int) $this->row()->id, $this->now + 5));

        $row = $this->row();
        $this->assertSame('pending', $row->status);
        $this->assertEquals(1, $row->attempts);
        $this->assertStringContainsString('coding_exception', $row->lasterror);
        $this->assertStringContainsString('no scripted answer', $row->lasterror);
        $this->assertEquals($this->now + 5 + 60, $row->nextattempt);
    }

    public function test_the_signature_uses_the_time_of_sending_not_the_tasks_scheduled_time(): void {
        $this->db->delete_records('task_adhoc');
        $task = new \local_moodle_zoho_sync\task\deliver_event();
        $task->set_custom_data(['outboxid' => (int) $this->row()->id, 'attempt' => 0]);
        // A retry task run hours before its time (forced by an administrator).
        $task->set_next_run_time(time() + 3 * 3600);
        $this->script(self::accepted());

        $before = time();
        $task->execute();

        $timestamp = (int) self::headers(test_http::$requests[0])['webhook-timestamp'];
        $this->assertGreaterThanOrEqual($before, $timestamp);
        $this->assertLessThanOrEqual(time(), $timestamp);
        $this->assertSame(self::T0 - 60, json_decode(test_http::$requests[0]['body'], true)['timestamp'],
            'the body keeps the time of the event');
    }

    public function test_timeout_is_retried_later_with_backoff(): void {
        $this->script(['errno' => 28, 'error' => 'Operation timed out after 7001 milliseconds with 0 bytes received']);

        $this->assertSame(delivery::RESULT_RETRY, delivery::deliver((int) $this->row()->id, $this->now + 5));

        $row = $this->row();
        $this->assertSame('pending', $row->status);
        $this->assertEquals(1, $row->attempts);
        $this->assertNull($row->httpstatus);
        $this->assertStringContainsString('curl error 28: Operation timed out', $row->lasterror);
        $this->assertEquals($this->now + 5 + 60, $row->nextattempt);
        // The retry task waits for the backoff.
        $tasks = $this->queued_tasks();
        $this->assertEquals($this->now + 65, end($tasks)->nextruntime);
        $this->assertSame(delivery::RESULT_SKIPPED, delivery::deliver((int) $row->id, $this->now + 30));
        $this->assertCount(1, test_http::$requests);
    }

    public function test_5xx_then_success_keeps_the_event_id(): void {
        $this->script(['status' => 503, 'body' => '{"error":"the log did not store the body; retry later"}'],
            self::accepted(12));

        $this->cron($this->now + 5);
        $row = $this->row();
        $this->assertSame('pending', $row->status);
        $this->assertEquals(503, $row->httpstatus);
        $this->assertStringContainsString('retry later', $row->response);
        $this->assertSame('The backend answered HTTP 503', $row->lasterror);

        $this->assertSame(0, $this->cron($this->now + 30), 'nothing runs before the backoff');
        $this->cron($this->now + 5 + 60);

        $row = $this->row();
        $this->assertSame('sent', $row->status);
        $this->assertEquals(2, $row->attempts);
        $this->assertEquals(202, $row->httpstatus);
        $this->assertCount(2, test_http::$requests);
        $ids = array_map(fn($r) => self::headers($r)['webhook-id'], test_http::$requests);
        $bodies = array_map(fn($r) => json_decode($r['body'], true)['event_id'], test_http::$requests);
        $this->assertSame([$row->eventid, $row->eventid], $ids);
        $this->assertSame([$row->eventid, $row->eventid], $bodies);
    }

    public function test_exhausted_attempts_end_failed_in_the_log(): void {
        set_config('maxattempts', 3, 'local_moodle_zoho_sync');
        $this->script(['status' => 503, 'body' => 'down'], ['status' => 502, 'body' => 'bad gateway'],
            ['status' => 500, 'body' => 'still down']);

        $this->cron($this->now);
        // The task runs at the later of its scheduled time and the clock, which may have ticked since setUp.
        $this->assertEqualsWithDelta($this->now + 60, $this->row()->nextattempt, 2);
        $this->cron($this->now + 62);
        $this->assertEqualsWithDelta($this->now + 60 + 120, $this->row()->nextattempt, 2);
        $this->cron($this->now + 183);
        $this->cron($this->now + 100000);

        $row = $this->row();
        $this->assertSame('failed', $row->status);
        $this->assertEquals(3, $row->attempts);
        $this->assertEquals(500, $row->httpstatus);
        $this->assertSame('still down', $row->response);
        $this->assertCount(3, test_http::$requests);
        $this->assertSame([], $this->queued_tasks());

        [$failed, $total] = outbox::get_log(['status' => 'failed']);
        $this->assertSame(1, $total);
        $this->assertEquals($row->id, reset($failed)->id);
        $this->assertSame('Lina', reset($failed)->userfirstname);
    }

    public function test_bad_signature_fails_at_once_and_retry_button_sends_again(): void {
        $this->script(['status' => 401, 'body' => '{"error":"invalid webhook signature"}'], self::accepted(3));

        $this->cron($this->now);
        $row = $this->row();
        $this->assertSame('failed', $row->status);
        $this->assertEquals(1, $row->attempts);
        $this->assertStringContainsString('invalid webhook signature', $row->response);

        $this->assertTrue(outbox::retry((int) $row->id));
        $this->assertFalse(outbox::retry((int) $row->id), 'a pending event cannot be retried');
        $this->cron($this->now + 1);

        $this->assertSame('sent', $this->row()->status);
        $this->assertCount(2, test_http::$requests);
    }

    public function test_a_blocked_backend_url_fails_at_once_with_the_reason_and_shows_as_a_configuration_problem(): void {
        set_config('backendurl', 'http://10.0.0.5:8000', 'local_moodle_zoho_sync');
        $this->assertStringContainsString('blocks the backend URL http://10.0.0.5:8000', implode(' ', config::problems()));

        $this->cron($this->now);

        // Configuration, not a network fault: no retry for hours, the reason on the row.
        $row = $this->row();
        $this->assertSame([], test_http::$requests);
        $this->assertSame('failed', $row->status);
        $this->assertEquals(1, $row->attempts);
        $this->assertStringContainsString('curl security blocks the backend URL http://10.0.0.5:8000', $row->lasterror);
        $this->assertStringContainsString('The URL is blocked.', $row->lasterror);
        $this->assertSame([], $this->queued_tasks());

        // The administrator allows it and retries the failed event.
        set_config('allowinternal', 1, 'local_moodle_zoho_sync');
        $this->assertSame([], config::problems());
        $this->script(self::accepted());
        $this->assertTrue(outbox::retry((int) $row->id));
        $this->cron($this->now + 60);

        $this->assertSame('sent', $this->row()->status);
        $this->assertSame('http://10.0.0.5:8000/webhooks/moodle/user_created', test_http::$requests[0]['url']);
        $this->assertTrue(test_http::$requests[0]['ignoresecurity']);
    }

    public function test_configuration_problems_are_listed_for_the_admin_page(): void {
        $this->assertSame([], config::problems());
        set_config('backendurl', '', 'local_moodle_zoho_sync');
        set_config('secret', null, 'local_moodle_zoho_sync');
        $this->assertSame(['The backend URL is not set: events are kept in the outbox and sent once it is.',
            'The shared secret is not set: events are kept in the outbox and sent once it is.'], config::problems());
        set_config('secret', 'whsec_***', 'local_moodle_zoho_sync');
        $this->assertStringContainsString('whsec_ followed by base64', implode(' ', config::problems()));
    }

    public function test_enrolment_role_assigned_after_the_event_completes_the_captured_enrolment(): void {
        $course = $this->fx->course(['idnumber' => 'IT-L3-U1-2026A']);
        // Moodle fires user_enrolment_created before it assigns the role (enrol_user()), then role_assigned.
        $ueid = $this->fx->enrol($this->user, $course, null);
        self::dispatch(user_enrolment_created::create(['objectid' => $ueid, 'relateduserid' => $this->user->id,
            'courseid' => $course->id, 'contextid' => $course->contextid, 'other' => ['enrol' => 'manual']]));
        $this->fx->assign_role($this->user->id, 'editingteacher', $course->contextid);
        self::dispatch(role_assigned::create(['objectid' => $this->fx->roles['editingteacher'],
            'relateduserid' => $this->user->id, 'courseid' => $course->id, 'contextid' => $course->contextid,
            'contextlevel' => CONTEXT_COURSE, 'contextinstanceid' => $course->id]));
        $this->script(self::accepted(1), self::accepted(2));

        $this->cron($this->now + 1);

        $this->assertCount(2, test_http::$requests, 'one enrolment event, completed with its role');
        $enrolment = json_decode(test_http::$requests[1]['body'], true);
        $this->assertSame('https://sync.example.edu/webhooks/moodle/enrollment_created', test_http::$requests[1]['url']);
        $this->assertSame('editingteacher', $enrolment['data']['role']);
    }

    public function test_a_record_deleted_before_delivery_still_delivers_its_last_state(): void {
        $this->db->delete_records('user', ['id' => $this->user->id]);
        $this->script(self::accepted());

        $this->cron($this->now);

        $this->assertSame('sent', $this->row()->status);
        $body = json_decode(test_http::$requests[0]['body'], true);
        $this->assertSame('lina.haddad@abchorizon.com', $body['data']['email']);
    }

    public function test_a_row_queued_before_payloads_were_captured_is_built_at_delivery(): void {
        // Rows written by plugin version 1.0 have no payload; after the upgrade they are still delivered.
        $this->db->set_field('local_moodle_zoho_sync_outbox', 'payload', null, []);
        $this->db->set_field('local_moodle_zoho_sync_outbox', 'entitykey', null, []);
        $this->db->set_field('local_moodle_zoho_sync_outbox', 'sequence', 0, []);
        $this->script(self::accepted());

        $this->cron($this->now);

        $this->assertSame('sent', $this->row()->status);
        $body = json_decode(test_http::$requests[0]['body'], true);
        $this->assertSame('lina.haddad@abchorizon.com', $body['data']['email']);
        $this->assertSame(0, $body['sequence']);
    }

    public function test_a_legacy_row_whose_record_is_gone_fails_without_http(): void {
        $this->db->set_field('local_moodle_zoho_sync_outbox', 'payload', null, []);
        $this->db->delete_records('user', ['id' => $this->user->id]);

        $this->assertSame(delivery::RESULT_FAILED, delivery::deliver((int) $this->row()->id, $this->now));

        $this->assertSame([], test_http::$requests);
        $this->assertStringContainsString('no longer exists (user ' . $this->user->id . ')', $this->row()->lasterror);
    }

    public function test_a_malformed_secret_fails_without_http(): void {
        set_config('secret', 'whsec_***not base64***', 'local_moodle_zoho_sync');

        $this->assertSame(delivery::RESULT_FAILED, delivery::deliver((int) $this->row()->id, $this->now));

        $this->assertSame([], test_http::$requests);
        $this->assertStringContainsString('whsec_ followed by base64', $this->row()->lasterror);
    }

    public function test_scheduled_task_requeues_a_row_whose_task_was_lost_once(): void {
        $this->db->delete_records('task_adhoc');
        $task = new requeue_stuck();
        $task->execute();
        $task->execute();
        $this->assertCount(1, $this->queued_tasks(), 'the second run recognises the queued task');

        $this->script(self::accepted());
        $this->cron($this->now + 1);

        $this->assertSame('sent', $this->row()->status);
    }

    public function test_a_row_being_delivered_by_another_process_is_skipped(): void {
        $lock = \core\lock\lock_config::get_lock_factory('local_moodle_zoho_sync')->get_lock('outbox_' . $this->row()->id, 0);

        $this->assertSame(delivery::RESULT_SKIPPED, delivery::deliver((int) $this->row()->id, $this->now));

        $lock->release();
        $this->assertSame([], test_http::$requests);
        $this->assertSame('pending', $this->row()->status);
    }

    public function test_sent_events_are_not_sent_again(): void {
        $this->script(self::accepted());
        $this->cron($this->now);
        outbox::queue_delivery((int) $this->row()->id, 5);

        $this->cron($this->now + 10);

        $this->assertCount(1, test_http::$requests);
    }

    public function test_backoff_doubles_up_to_six_hours(): void {
        $this->assertSame([60, 120, 240, 480], array_map([outbox::class, 'backoff'], [1, 2, 3, 4]));
        $this->assertSame(6 * 3600, outbox::backoff(30));
    }

    public function test_which_answers_are_retried(): void {
        foreach ([0, 408, 429, 500, 502, 503, 504] as $status) {
            $this->assertTrue(outbox::is_retryable($status), "$status");
        }
        foreach ([400, 401, 404, 413, 415] as $status) {
            $this->assertFalse(outbox::is_retryable($status), "$status");
        }
    }

    public function test_signature_matches_the_standard_webhooks_test_vector(): void {
        $this->assertSame('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            signer::signature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330,
                '{"test": 2432232314}'));
    }
}

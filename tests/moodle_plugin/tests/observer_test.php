<?php
// Observers write the outbox in the event's transaction and never call the network.
// Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use core\event\role_assigned;
use core\event\role_unassigned;
use core\event\user_created;
use core\event\user_deleted;
use core\event\user_graded;
use core\event\user_enrolment_created;
use core\event\user_enrolment_deleted;
use core\event\user_enrolment_updated;
use core\event\user_updated;
use mod_assign\event\submission_graded;

final class observer_test extends plugin_testcase {
    private function user_event(string $class, stdClass $user): \core\event\base {
        return $class::create(['objectid' => $user->id, 'relateduserid' => $user->id, 'contextid' => $user->contextid,
            'contextlevel' => CONTEXT_USER, 'contextinstanceid' => $user->id, 'timecreated' => 1762060000]);
    }

    public function test_every_observed_event_has_exactly_one_observer(): void {
        $user = $this->fx->user();
        foreach ([user_created::class, user_updated::class, user_deleted::class, user_enrolment_created::class,
                user_enrolment_updated::class, user_enrolment_deleted::class, submission_graded::class, user_graded::class,
                role_assigned::class, role_unassigned::class] as $class) {
            $this->assertSame(1, self::dispatch($class::create(['objectid' => 1, 'relateduserid' => $user->id])), $class);
        }
    }

    public function test_user_created_writes_one_outbox_row_and_queues_a_task_without_http(): void {
        $user = $this->fx->user();

        self::dispatch($this->user_event(user_created::class, $user));

        $rows = $this->outbox_rows();
        $this->assertCount(1, $rows);
        $this->assertSame('user_created', $rows[0]->eventtype);
        $this->assertSame('\core\event\user_created', $rows[0]->eventname);
        $this->assertEquals($user->id, $rows[0]->userid);
        $this->assertSame('pending', $rows[0]->status);
        $this->assertEquals(0, $rows[0]->attempts);
        $this->assertEquals(1762060000, $rows[0]->timecreated);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/',
            $rows[0]->eventid);

        $tasks = $this->queued_tasks();
        $this->assertCount(1, $tasks);
        $this->assertSame('\local_moodle_zoho_sync\task\deliver_event', $tasks[0]->classname);
        $this->assertEquals($rows[0]->id, json_decode($tasks[0]->customdata)->outboxid);
        $this->assertSame([], test_http::$requests);
    }

    public function test_user_updated_that_changes_nothing_sent_is_collapsed(): void {
        $user = $this->fx->user();
        self::dispatch($this->user_event(user_created::class, $user));

        // Preferences, language, city: Moodle fires user_updated, the backend would get nothing new.
        $this->db->update_record('user', ['id' => $user->id, 'lang' => 'ar', 'city' => 'Amman']);
        self::dispatch($this->user_event(user_updated::class, $user));
        self::dispatch($this->user_event(user_updated::class, $user));
        $this->assertCount(1, $this->outbox_rows());

        $this->db->update_record('user', ['id' => $user->id, 'email' => 'new.address@college.example']);
        self::dispatch($this->user_event(user_updated::class, $user));
        self::dispatch($this->user_event(user_updated::class, $user));

        $rows = $this->outbox_rows();
        $this->assertSame(['user_created', 'user_updated'], array_column($rows, 'eventtype'));
        $this->assertCount(2, $this->queued_tasks());
    }

    public function test_the_first_update_of_a_user_created_before_the_plugin_is_sent(): void {
        $user = $this->fx->user();

        self::dispatch($this->user_event(user_updated::class, $user));

        $this->assertSame(['user_updated'], array_column($this->outbox_rows(), 'eventtype'));
    }

    public function test_disabled_event_types_are_not_queued(): void {
        set_config('events', 'user_created,grade_updated', 'local_moodle_zoho_sync');
        $user = $this->fx->user();
        $course = $this->fx->course();
        $ueid = $this->fx->enrol($user, $course);

        self::dispatch(user_enrolment_created::create(['objectid' => $ueid, 'relateduserid' => $user->id,
            'courseid' => $course->id, 'contextid' => $course->contextid, 'other' => ['enrol' => 'manual']]));
        self::dispatch($this->user_event(user_updated::class, $user));
        self::dispatch($this->user_event(user_created::class, $user));

        $this->assertSame(['user_created'], array_column($this->outbox_rows(), 'eventtype'));
    }

    public function test_events_before_the_plugin_is_configured_are_kept_and_sent_once_configured(): void {
        set_config('secret', null, 'local_moodle_zoho_sync');
        set_config('backendurl', '', 'local_moodle_zoho_sync');

        self::dispatch($this->user_event(user_created::class, $this->fx->user()));
        \core\task\manager::run_due_adhoc_tasks(time() + 5);
        (new \local_moodle_zoho_sync\task\requeue_stuck())->execute();

        $rows = $this->outbox_rows();
        $this->assertCount(1, $rows);
        $this->assertSame('pending', $rows[0]->status);
        $this->assertEquals(0, $rows[0]->attempts, 'not attempted while unconfigured');
        $this->assertSame([], test_http::$requests);
        $this->assertSame([], $this->queued_tasks(), 'nothing churns while unconfigured');

        self::default_config();
        (new \local_moodle_zoho_sync\task\requeue_stuck())->execute();
        $this->script(self::accepted());
        \core\task\manager::run_due_adhoc_tasks(time() + 5);

        $this->assertSame('sent', $this->outbox_rows()[0]->status);
        $this->assertCount(1, test_http::$requests);
    }

    public function test_a_rolled_back_change_leaves_no_outbox_row_and_no_task(): void {
        $transaction = $this->db->start_delegated_transaction();
        $user = $this->fx->user();
        self::dispatch($this->user_event(user_created::class, $user));
        $this->assertCount(1, $this->outbox_rows());

        try {
            $transaction->rollback(new RuntimeException('user creation failed later'));
        } catch (RuntimeException $e) {
            $this->assertSame('user creation failed later', $e->getMessage());
        }

        $this->assertSame([], $this->outbox_rows());
        $this->assertSame([], $this->queued_tasks());
    }

    public function test_a_committed_change_keeps_its_outbox_row_and_task(): void {
        $transaction = $this->db->start_delegated_transaction();
        self::dispatch($this->user_event(user_created::class, $this->fx->user()));
        $transaction->allow_commit();

        $this->assertCount(1, $this->outbox_rows());
        $this->assertCount(1, $this->queued_tasks());
    }

    public function test_enrolment_deleted_keeps_the_deleted_row_from_the_event(): void {
        $user = $this->fx->user();
        $course = $this->fx->course();
        $ue = ['id' => 77, 'enrolid' => $course->manualenrolid, 'userid' => $user->id, 'status' => 0, 'timestart' => 1,
            'timeend' => 0, 'courseid' => $course->id, 'enrol' => 'manual', 'lastenrol' => true];

        self::dispatch(user_enrolment_deleted::create(['objectid' => 77, 'relateduserid' => $user->id,
            'courseid' => $course->id, 'contextid' => $course->contextid, 'contextlevel' => CONTEXT_COURSE,
            'contextinstanceid' => $course->id, 'other' => ['userenrolment' => $ue, 'enrol' => 'manual']]));

        $row = $this->outbox_rows()[0];
        $this->assertSame('enrollment_deleted', $row->eventtype);
        $this->assertEquals(77, $row->objectid);
        $this->assertEquals($course->id, $row->courseid);
        $this->assertSame($ue, json_decode($row->other, true)['userenrolment']);
    }

    public function test_submission_graded_records_the_assign_grades_id_and_module_context(): void {
        $course = $this->fx->course();
        $student = $this->fx->user();
        $assign = $this->fx->assign($course, 'Unit 3');
        $gradeid = $this->fx->grade($assign, $student, null, 50);

        self::dispatch(submission_graded::create(['objectid' => $gradeid, 'relateduserid' => $student->id,
            'courseid' => $course->id, 'contextid' => $assign->contextid, 'contextlevel' => CONTEXT_MODULE,
            'contextinstanceid' => $assign->cmid]));

        $row = $this->outbox_rows()[0];
        $this->assertSame('grade_updated', $row->eventtype);
        $this->assertEquals($gradeid, $row->objectid);
        $this->assertEquals($student->id, $row->userid);
        $this->assertEquals($assign->contextid, $row->contextid);
        $this->assertEquals($assign->cmid, $row->contextinstanceid);
    }
}

<?php
// Backfill: existing users, enrolments and grades queued in bounded, resumable batches with stable event ids.
// Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use core\task\manager;
use local_moodle_zoho_sync\local\backfill;

final class backfill_test extends plugin_testcase {
    private stdClass $course;
    private array $students = [];
    private stdClass $teacher;
    private stdClass $assign;

    protected function setUp(): void {
        parent::setUp();
        // A site that had data before the plugin: no events were captured for any of it.
        $this->course = $this->fx->course(['idnumber' => 'IT-L3-U1-2026A']);
        $this->teacher = $this->fx->user(['firstname' => 'Omar', 'lastname' => 'Saleh']);
        $this->fx->enrol($this->teacher, $this->course, 'editingteacher');
        for ($i = 0; $i < 3; $i++) {
            $this->students[] = $student = $this->fx->user();
            $this->fx->enrol($student, $this->course, 'student', ['status' => $i === 2 ? 1 : 0]);
        }
        $this->fx->user(['deleted' => 1]);
        $this->assign = $this->fx->assign($this->course, 'Unit 1', -$this->fx->btec_scale(), true);
        $definition = $this->fx->btec_definition($this->assign, ['P1' => 'Explain', 'M1' => 'Compare']);
        $gradeid = $this->fx->grade($this->assign, $this->students[0], $this->teacher, 3);
        $this->fx->grading_instance($definition, $gradeid, $this->teacher->id, 1, ['P1' => [1, 'ok'], 'M1' => [1, 'good']]);
        $this->fx->workflow_state($this->assign, $this->students[0], 'readyforrelease');
        // Not graded yet: nothing to send.
        $this->fx->grade($this->assign, $this->students[1], null, -1);
    }

    private function run_all(int $size): array {
        $log = [];
        foreach (backfill::KINDS as $kind) {
            do {
                $result = backfill::batch($kind, $size);
                $log[] = [$kind, $result['queued'], $result['unchanged'], $result['left']];
            } while (!$result['done']);
        }
        return $log;
    }

    public function test_existing_records_are_queued_in_bounded_batches_with_their_state(): void {
        $log = $this->run_all(2);

        // 4 live users (the deleted one left out), 4 enrolments, 1 graded attempt; at most 2 per batch.
        $this->assertSame([['users', 2, 0, 2], ['users', 2, 0, 0], ['enrolments', 2, 0, 2], ['enrolments', 2, 0, 0],
            ['grades', 1, 0, 0]], $log);
        $rows = $this->outbox_rows();
        $this->assertSame(['user_created', 'user_created', 'user_created', 'user_created', 'enrollment_created',
            'enrollment_created', 'enrollment_created', 'enrollment_created', 'grade_updated'], array_column($rows, 'eventtype'));
        $this->assertSame(['backfill'], array_values(array_unique(array_column($rows, 'eventname'))));
        $this->assertCount(9, $this->queued_tasks());

        $bodies = array_map(fn($row) => json_decode($row->payload, true), $rows);
        $this->assertSame(['editingteacher', 'student', 'student', 'student'],
            array_map(fn($b) => $b['data']['role'], array_slice($bodies, 4, 4)));
        $this->assertSame([0, 0, 0, 1], array_map(fn($b) => $b['data']['status'], array_slice($bodies, 4, 4)));
        $grade = $bodies[8]['data'];
        $this->assertSame(3, $grade['btec_scale_index']);
        $this->assertSame('readyforrelease', $grade['workflow_state']);
        $this->assertFalse($grade['released']);
        $this->assertSame(['P1', 'M1'], array_column($grade['learning_outcomes'], 'code'));
        $this->assertSame('backfill', $bodies[8]['event_name']);
        $this->assertSame($rows[8]->eventid, $bodies[8]['event_id']);
    }

    public function test_an_interrupted_run_resumes_after_its_cursor(): void {
        $first = backfill::batch('users', 3);
        $this->assertSame(3, $first['queued']);
        $this->assertSame(1, $first['left']);

        // A new run (another process) goes on from the stored cursor.
        $second = backfill::batch('users', 3);

        $this->assertSame(['queued' => 1, 'unchanged' => 0, 'cursor' => (int) $this->students[2]->id, 'left' => 0,
            'done' => true], $second);
        $this->assertCount(4, $this->outbox_rows());
    }

    public function test_running_again_skips_unchanged_records_and_queues_changed_ones_with_new_ids(): void {
        $this->run_all(500);
        $ids = array_column($this->outbox_rows(), 'eventid');
        $this->db->update_record('user', ['id' => $this->students[1]->id, 'email' => 'changed@college.example']);

        backfill::restart();
        $log = $this->run_all(500);

        $this->assertSame([['users', 1, 3, 0], ['enrolments', 0, 4, 0], ['grades', 0, 1, 0]], $log);
        $rows = $this->outbox_rows();
        $this->assertCount(10, $rows);
        $this->assertSame($ids, array_slice(array_column($rows, 'eventid'), 0, 9));
        $this->assertSame('changed@college.example', json_decode($rows[9]->payload, true)['data']['email']);
        $this->assertGreaterThan((int) $rows[1]->sequence, (int) $rows[9]->sequence);
    }

    public function test_event_ids_are_stable_uuids_of_the_record_state(): void {
        $data = ['moodle_user_id' => 7, 'email' => 'a@b.example'];
        $id = backfill::event_id('user_created', 7, $data);

        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $id);
        $this->assertSame($id, backfill::event_id('user_created', 7, $data));
        $this->assertNotSame($id, backfill::event_id('user_created', 7, ['email' => 'c@d.example'] + $data));
        $this->assertNotSame($id, backfill::event_id('user_updated', 7, $data));
    }

    public function test_backfilled_events_are_delivered_by_cron(): void {
        $this->run_all(500);
        for ($i = 0; $i < 9; $i++) {
            $this->script(self::accepted($i));
        }

        manager::run_due_adhoc_tasks(time() + 5);

        $this->assertSame(array_fill(0, 9, 'sent'), array_column($this->outbox_rows(), 'status'));
        $this->assertSame('https://sync.example.edu/webhooks/moodle/grade_updated', end(test_http::$requests)['url']);
    }
}

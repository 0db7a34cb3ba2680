<?php
// The body is captured when the event happens, with a per-record sequence: every state arrives, in order, even when
// the record is gone by delivery time. Moodle's call order is copied from lib/enrollib.php and lib/accesslib.php (4.3).
// Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use core\event\role_assigned;
use core\event\role_unassigned;
use core\event\user_deleted;
use core\event\user_enrolment_created;
use core\event\user_enrolment_deleted;
use core\event\user_enrolment_updated;
use core\event\user_graded;
use core\task\manager;
use mod_assign\event\submission_graded;

final class capture_test extends plugin_testcase {
    private stdClass $course;
    private stdClass $student;
    private stdClass $teacher;
    private stdClass $iv;
    private int $now;

    protected function setUp(): void {
        parent::setUp();
        $this->now = time();
        $this->course = $this->fx->course(['idnumber' => 'IT-L3-U1-2026A']);
        $this->student = $this->fx->user(['firstname' => 'Lina', 'lastname' => 'Haddad']);
        $this->teacher = $this->fx->user(['firstname' => 'Omar', 'lastname' => 'Saleh']);
        $this->iv = $this->fx->user(['firstname' => 'Rania', 'lastname' => 'Khoury']);
        $this->fx->enrol($this->teacher, $this->course, 'editingteacher');
        $this->fx->enrol($this->iv, $this->course, 'editingteacher');
        $this->fx->assign_role($this->iv->id, 'internalverifier', $this->course->contextid);
    }

    // Moodle's enrol_plugin::enrol_user(): the row, user_enrolment_created, then role_assign() and role_assigned.
    private function enrol_user(stdClass $user, string $role): int {
        $ueid = $this->fx->enrol($user, $this->course, null);
        self::dispatch(user_enrolment_created::create($this->course_event(['objectid' => $ueid,
            'relateduserid' => $user->id, 'other' => ['enrol' => 'manual']])));
        $this->role_assign($user, $role);
        return $ueid;
    }

    private function role_assign(stdClass $user, string $role): void {
        $this->fx->assign_role($user->id, $role, $this->course->contextid);
        self::dispatch(role_assigned::create($this->course_event(['objectid' => $this->fx->roles[$role],
            'relateduserid' => $user->id])));
    }

    private function role_unassign(stdClass $user, string $role): void {
        $this->db->delete_records('role_assignments', ['userid' => $user->id, 'roleid' => $this->fx->roles[$role],
            'contextid' => $this->course->contextid]);
        self::dispatch(role_unassigned::create($this->course_event(['objectid' => $this->fx->roles[$role],
            'relateduserid' => $user->id])));
    }

    // Moodle's update_user_enrol(): the row changes, then user_enrolment_updated.
    private function update_enrolment(int $ueid, array $fields): void {
        $this->db->update_record('user_enrolments', ['id' => $ueid] + $fields);
        self::dispatch(user_enrolment_updated::create($this->course_event(['objectid' => $ueid,
            'relateduserid' => $this->db->get_field('user_enrolments', 'userid', ['id' => $ueid]),
            'other' => ['enrol' => 'manual']])));
    }

    // Moodle's unenrol_user() for the last enrolment: roles of the enrol component go, the row is deleted, then the
    // remaining (manual) roles go, then user_enrolment_deleted with a copy of the row.
    private function unenrol_user(stdClass $user, int $ueid, array $componentroles, array $otherroles): void {
        foreach ($componentroles as $role) {
            $this->role_unassign($user, $role);
        }
        $ue = (array) $this->db->get_record('user_enrolments', ['id' => $ueid]);
        $this->db->delete_records('user_enrolments', ['id' => $ueid]);
        foreach ($otherroles as $role) {
            $this->role_unassign($user, $role);
        }
        $ue += ['courseid' => $this->course->id, 'enrol' => 'manual', 'lastenrol' => true];
        self::dispatch(user_enrolment_deleted::create($this->course_event(['objectid' => $ueid,
            'relateduserid' => $user->id, 'other' => ['userenrolment' => $ue, 'enrol' => 'manual']])));
    }

    private function course_event(array $data): array {
        return $data + ['courseid' => $this->course->id, 'contextid' => $this->course->contextid,
            'contextlevel' => CONTEXT_COURSE, 'contextinstanceid' => $this->course->id];
    }

    private function graded(stdClass $assign, int $gradeid, stdClass $student): void {
        self::dispatch(submission_graded::create(['objectid' => $gradeid, 'relateduserid' => $student->id,
            'courseid' => $this->course->id, 'contextid' => $assign->contextid, 'contextlevel' => CONTEXT_MODULE,
            'contextinstanceid' => $assign->cmid]));
    }

    /** Bodies of the outbox rows, in row order. */
    private function bodies(): array {
        return array_map(fn($row) => json_decode($row->payload, true), $this->outbox_rows());
    }

    /** Deliver everything due (answering 202) and return the bodies in the order they were sent. */
    private function deliver_all(int $at): array {
        for ($i = 0; $i < 50; $i++) {
            $this->script(self::accepted($i));
        }
        manager::run_due_adhoc_tasks($at);
        test_http::$script = [];
        return array_map(fn($r) => json_decode($r['body'], true), test_http::$requests);
    }

    public function test_suspend_then_reactivate_sends_both_states_in_order_with_growing_sequence(): void {
        $ueid = $this->enrol_user($this->student, 'student');
        $this->update_enrolment($ueid, ['status' => 1]);
        $this->update_enrolment($ueid, ['status' => 0]);

        $sent = $this->deliver_all($this->now + 5);

        $this->assertSame(['enrollment_created', 'enrollment_updated', 'enrollment_updated'],
            array_column($sent, 'event_type'));
        $this->assertSame([0, 1, 0], array_map(fn($b) => $b['data']['status'], $sent));
        $this->assertSame(['student', 'student', 'student'], array_map(fn($b) => $b['data']['role'], $sent));
        $sequences = array_column($sent, 'sequence');
        $this->assertTrue($sequences[0] < $sequences[1] && $sequences[1] < $sequences[2], json_encode($sequences));
        $this->assertGreaterThanOrEqual($this->now * 1000, $sequences[0]);
    }

    public function test_teacher_merit_then_iv_distinction_are_two_payloads(): void {
        $this->enrol_user($this->student, 'student');
        $assign = $this->fx->assign($this->course, 'Unit 1', -$this->fx->btec_scale());
        $definition = $this->fx->btec_definition($assign, ['P1' => 'Explain', 'M1' => 'Compare', 'D1' => 'Evaluate']);
        $gradeid = $this->fx->grade($assign, $this->student, $this->teacher, 3);
        $teacherinstance = $this->fx->grading_instance($definition, $gradeid, $this->teacher->id, 1,
            ['P1' => [1, 'ok'], 'M1' => [1, 'ok'], 'D1' => [0, 'not yet']]);
        $this->graded($assign, $gradeid, $this->student);
        // The IV regrades: the teacher's instance is archived, the IV's is active, the grade becomes Distinction.
        $this->db->set_field('grading_instances', 'status', 3, ['id' => $teacherinstance]);
        $this->fx->grading_instance($definition, $gradeid, $this->iv->id, 1,
            ['P1' => [1, 'ok'], 'M1' => [1, 'ok'], 'D1' => [1, 'now justified']]);
        $this->db->update_record('assign_grades', ['id' => $gradeid, 'grade' => 4, 'grader' => $this->iv->id]);
        $this->graded($assign, $gradeid, $this->student);

        $grades = array_values(array_filter($this->deliver_all($this->now + 5),
            fn($b) => $b['event_type'] === 'grade_updated'));

        $this->assertCount(2, $grades);
        $this->assertSame([3, 4], array_map(fn($b) => $b['data']['btec_scale_index'], $grades));
        $this->assertSame(['teacher', 'iv'], array_map(fn($b) => $b['data']['grader']['role'], $grades));
        $this->assertSame(['Omar Saleh', 'Rania Khoury'], array_map(fn($b) => $b['data']['grader']['full_name'], $grades));
        $this->assertSame(['not yet', 'now justified'], array_map(fn($b) => $b['data']['learning_outcomes'][2]['feedback'],
            $grades));
        $this->assertLessThan($grades[1]['sequence'], $grades[0]['sequence']);
    }

    public function test_an_enrolment_created_and_removed_before_cron_delivers_both_states(): void {
        $ueid = $this->enrol_user($this->student, 'student');
        $this->unenrol_user($this->student, $ueid, [], ['student']);

        $sent = $this->deliver_all($this->now + 5);

        $this->assertSame(['enrollment_created', 'enrollment_deleted'], array_column($sent, 'event_type'));
        $this->assertSame([$ueid, $ueid], array_map(fn($b) => $b['data']['enrolment_id'], $sent));
        $this->assertSame(['student', 'student'], array_map(fn($b) => $b['data']['role'], $sent));
        $this->assertSame(['sent', 'sent'], array_column($this->outbox_rows(), 'status'));
    }

    public function test_an_unenrolled_teacher_is_reported_as_a_teacher(): void {
        $newteacher = $this->fx->user();
        $ueid = $this->enrol_user($newteacher, 'editingteacher');
        $this->deliver_all($this->now + 5);
        test_http::reset();

        // Manual enrolment: core deletes the row, then removes the roles, then fires user_enrolment_deleted.
        $this->unenrol_user($newteacher, $ueid, [], ['editingteacher']);

        $sent = $this->deliver_all($this->now + 10);
        $this->assertSame(['enrollment_deleted'], array_column($sent, 'event_type'));
        $this->assertSame('editingteacher', $sent[0]['data']['role']);
    }

    public function test_roles_removed_while_the_enrolment_still_exists_do_not_send_a_false_role_before_the_unenrolment(): void {
        $newteacher = $this->fx->user();
        $ueid = $this->enrol_user($newteacher, 'editingteacher');
        $this->deliver_all($this->now + 5);
        test_http::reset();

        // An enrolment method with protected roles: its roles go while the row still exists.
        $this->unenrol_user($newteacher, $ueid, ['editingteacher'], []);

        $sent = $this->deliver_all($this->now + 10);
        $this->assertSame(['enrollment_deleted'], array_column($sent, 'event_type'));
        $this->assertSame('editingteacher', $sent[0]['data']['role']);
    }

    public function test_a_role_change_after_enrolment_is_an_enrollment_update_and_an_unchanged_role_is_not(): void {
        $ueid = $this->enrol_user($this->student, 'student');
        $this->deliver_all($this->now + 5);
        test_http::reset();

        $this->role_assign($this->student, 'teacher');
        // A second role below the highest one changes nothing the backend sees.
        $this->role_assign($this->student, 'guest');

        $sent = $this->deliver_all($this->now + 10);
        $this->assertSame(['enrollment_updated'], array_column($sent, 'event_type'));
        $this->assertSame('teacher', $sent[0]['data']['role']);
        $this->assertSame($ueid, $sent[0]['data']['enrolment_id']);
    }

    public function test_marking_workflow_state_and_release_are_sent(): void {
        $assign = $this->fx->assign($this->course, 'Unit 2', 100, true);
        $gradeid = $this->fx->grade($assign, $this->student, $this->teacher, 64);
        $this->fx->workflow_state($assign, $this->student, 'inmarking');
        $this->graded($assign, $gradeid, $this->student);
        $this->fx->workflow_state($assign, $this->student, 'readyforrelease');
        $this->graded($assign, $gradeid, $this->student);
        $this->fx->workflow_state($assign, $this->student, 'released');
        $this->graded($assign, $gradeid, $this->student);
        $plain = $this->fx->assign($this->course, 'Unit 3', 100);
        $plaingrade = $this->fx->grade($plain, $this->student, $this->teacher, 70);
        $this->graded($plain, $plaingrade, $this->student);

        $data = array_map(fn($b) => $b['data'], $this->bodies());

        $this->assertSame(['inmarking', 'readyforrelease', 'released', null], array_column($data, 'workflow_state'));
        $this->assertSame([false, false, true, true], array_column($data, 'released'));
        $this->assertSame([64.0, 64.0, 64.0, 70.0], array_column($data, 'raw_grade'));
    }

    public function test_workflow_without_flags_is_notmarked_and_an_ungraded_submission_is_not_released(): void {
        $assign = $this->fx->assign($this->course, 'Unit 4', 100, true);
        $gradeid = $this->fx->grade($assign, $this->student, $this->teacher, -1);
        $this->graded($assign, $gradeid, $this->student);
        $plain = $this->fx->assign($this->course, 'Unit 5', 100);
        $plaingrade = $this->fx->grade($plain, $this->student, $this->teacher, -1);
        $this->graded($plain, $plaingrade, $this->student);

        $data = array_map(fn($b) => $b['data'], $this->bodies());

        $this->assertSame(['notmarked', null], array_column($data, 'workflow_state'));
        $this->assertSame([false, false], array_column($data, 'released'));
        $this->assertSame([null, null], array_column($data, 'raw_grade'));
    }

    public function test_a_site_without_gradingform_btec_sends_grades_without_learning_outcomes(): void {
        $this->use_site_without_btec();
        $course = $this->fx->course();
        $student = $this->fx->user();
        $teacher = $this->fx->user();
        $this->fx->enrol($teacher, $course, 'editingteacher');
        $assign = $this->fx->assign($course, 'Unit 1', -$this->fx->btec_scale());
        $gradeid = $this->fx->grade($assign, $student, $teacher, 2);
        self::dispatch(submission_graded::create(['objectid' => $gradeid, 'relateduserid' => $student->id,
            'courseid' => $course->id, 'contextid' => $assign->contextid, 'contextlevel' => CONTEXT_MODULE,
            'contextinstanceid' => $assign->cmid]));

        $sent = $this->deliver_all($this->now + 5);

        $this->assertFalse($this->db->table_exists('gradingform_btec_criteria'));
        $this->assertSame(['sent'], array_column($this->outbox_rows(), 'status'));
        $this->assertSame([], $sent[0]['data']['learning_outcomes']);
        $this->assertSame(2, $sent[0]['data']['btec_scale_index']);
        $this->assertSame('teacher', $sent[0]['data']['grader']['role']);
    }

    public function test_delivery_order_is_event_order_per_record_even_when_the_first_attempt_fails(): void {
        $ueid = $this->enrol_user($this->student, 'student');
        $this->update_enrolment($ueid, ['status' => 1]);
        $other = $this->fx->user();
        $this->enrol_user($other, 'student');
        $this->script(['status' => 503, 'body' => 'down'], self::accepted(1));

        manager::run_due_adhoc_tasks($this->now + 5);

        // The student's suspension waits behind the failed creation; another record is not held up.
        $this->assertSame(['pending', 'pending', 'sent'], array_column($this->outbox_rows(), 'status'));
        $this->assertSame([1, 0, 1], array_map('intval', array_column($this->outbox_rows(), 'attempts')));

        $sent = $this->deliver_all($this->now + 5 + 60);

        $this->assertSame(['enrollment_created', 'enrollment_created', 'enrollment_created', 'enrollment_updated'],
            array_column($sent, 'event_type'));
        $this->assertSame([(int) $this->student->id, (int) $other->id, (int) $this->student->id, (int) $this->student->id],
            array_map(fn($b) => $b['data']['moodle_user_id'], $sent));
        $this->assertSame(['sent', 'sent', 'sent'], array_column($this->outbox_rows(), 'status'));
    }

    public function test_the_sequence_keeps_growing_after_the_outbox_was_emptied(): void {
        $ueid = $this->enrol_user($this->student, 'student');
        $first = (int) $this->outbox_rows()[0]->sequence;
        $this->db->delete_records('local_moodle_zoho_sync_outbox');

        $this->update_enrolment($ueid, ['status' => 1]);
        $this->update_enrolment($ueid, ['status' => 0]);

        $sequences = array_map('intval', array_column($this->outbox_rows(), 'sequence'));
        $this->assertGreaterThanOrEqual($first, $sequences[0]);
        $this->assertGreaterThan($sequences[0], $sequences[1]);
    }

    public function test_user_deleted_sends_the_user_as_it_was(): void {
        $user = $this->fx->user(['username' => 'sami.n', 'email' => 'sami.n@college.example', 'idnumber' => 'STU-77',
            'firstname' => 'Sami', 'lastname' => 'Nasser']);
        // Core's delete_user(): the record is scrambled first, the event carries the old values.
        $this->db->update_record('user', ['id' => $user->id, 'deleted' => 1, 'username' => 'sami.n.deleted.1762',
            'email' => md5('sami.n'), 'idnumber' => '']);
        self::dispatch(user_deleted::create(['objectid' => $user->id, 'relateduserid' => $user->id,
            'contextid' => $user->contextid, 'other' => ['username' => 'sami.n', 'email' => 'sami.n@college.example',
            'idnumber' => 'STU-77', 'picture' => 0, 'mnethostid' => 1]]));

        $sent = $this->deliver_all($this->now + 5);

        $this->assertSame('https://sync.example.edu/webhooks/moodle/user_deleted', test_http::$requests[0]['url']);
        $this->assertSame('user_deleted', $sent[0]['event_type']);
        $this->assertSame(['moodle_user_id' => (int) $user->id, 'username' => 'sami.n', 'email' => 'sami.n@college.example',
            'firstname' => 'Sami', 'lastname' => 'Nasser', 'idnumber' => 'STU-77', 'deleted' => true], $sent[0]['data']);
        $this->assertSame('user:' . $user->id, $this->outbox_rows()[0]->entitykey);
    }

    public function test_gradebook_overrides_and_imports_of_activity_grades_are_sent_and_other_gradebook_changes_are_not(): void {
        $assign = $this->fx->assign($this->course, 'Unit 6', 100);
        $gradeid = $this->fx->grade($assign, $this->student, $this->teacher, 40);
        $assignitem = $this->fx->grade_item($this->course, 'mod', 'assign', (int) $assign->id, ['itemname' => 'Unit 6']);
        $quiz = $this->fx->activity($this->course, 'quiz', 31);
        $quizitem = $this->fx->grade_item($this->course, 'mod', 'quiz', 31, ['itemname' => 'Quiz 1', 'grademax' => 10]);
        $courseitem = $this->fx->grade_item($this->course, 'course');
        $graded = function (int $gradegradeid, int $itemid): void {
            self::dispatch(user_graded::create(['objectid' => $gradegradeid, 'relateduserid' => $this->student->id,
                'courseid' => $this->course->id, 'contextid' => $this->course->contextid, 'contextlevel' => CONTEXT_COURSE,
                'contextinstanceid' => $this->course->id, 'other' => ['itemid' => $itemid]]));
        };

        // Activities pushing their own grades (the assignment's already came through submission_graded), and the
        // course total.
        $graded($this->fx->gradebook_grade($assignitem, $this->student, $this->teacher, 40.0), $assignitem);
        $quizgrade = $this->fx->gradebook_grade($quizitem, $this->student, $this->teacher, 6.0);
        $graded($quizgrade, $quizitem);
        $graded($this->fx->gradebook_grade($courseitem, $this->student, null, 40.0, 1762060000), $courseitem);
        $this->assertSame([], $this->outbox_rows());

        // A teacher overrides the assignment's grade in the gradebook; a quiz grade is imported (core marks both
        // overridden: grade_item::update_final_grade()).
        $this->db->execute('UPDATE {grade_grades} SET finalgrade = 55, overridden = 1762060000, usermodified = :iv
                             WHERE itemid = :itemid', ['iv' => $this->iv->id, 'itemid' => $assignitem]);
        $graded((int) $this->db->get_field('grade_grades', 'id', ['itemid' => $assignitem]), $assignitem);
        $this->db->update_record('grade_grades', ['id' => $quizgrade, 'finalgrade' => 8.5, 'overridden' => 1762060001]);
        $graded($quizgrade, $quizitem);

        $data = array_map(fn($b) => $b['data'], $this->deliver_all($this->now + 5));
        $this->assertSame(['grade_updated', 'grade_updated'], array_column($this->bodies(), 'event_type'));
        $this->assertSame([(int) $assign->cmid, (int) $quiz->id], array_column($data, 'assignment_id'));
        $this->assertSame([55.0, 8.5], array_column($data, 'raw_grade'));
        $this->assertSame([100.0, 10.0], array_column($data, 'grade_max'));
        $this->assertSame(['gradebook', 'gradebook'], array_column($data, 'source'));
        $this->assertSame([true, true], array_column($data, 'overridden'));
        $this->assertSame(['iv', 'teacher'], array_map(fn($d) => $d['grader']['role'], $data));
        $this->assertSame([$gradeid, null], array_column($data, 'grade_id'));
        $this->assertSame([true, true], array_column($data, 'released'));
        $this->assertSame(['grade:' . $this->student->id . ':' . $assign->cmid, 'grade:' . $this->student->id . ':' . $quiz->id],
            array_column($this->outbox_rows(), 'entitykey'));
    }
}

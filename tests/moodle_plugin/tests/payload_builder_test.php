<?php
// Payloads built from Moodle-shaped tables by the plugin's real SQL. Test suite of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

use local_moodle_zoho_sync\local\payload_builder;
use local_moodle_zoho_sync\local\payload_unavailable;

final class payload_builder_test extends plugin_testcase {
    private const INCOMPLETE = 0;
    private const ACTIVE = 1;
    private const NEEDUPDATE = 2;
    private const ARCHIVE = 3;

    private stdClass $course;
    private stdClass $student;
    private stdClass $teacher;
    private stdClass $iv;
    private stdClass $assign;
    private array $definition;

    protected function setUp(): void {
        parent::setUp();
        $this->course = $this->fx->course(['idnumber' => 'IT-L3-U1-2026A']);
        $this->student = $this->fx->user(['username' => 'lina.haddad', 'firstname' => 'Lina', 'lastname' => 'Haddad',
            'email' => 'lina.haddad@abchorizon.com', 'idnumber' => 'STU-0001']);
        $this->teacher = $this->fx->user(['firstname' => 'Omar', 'lastname' => 'Saleh']);
        $this->iv = $this->fx->user(['firstname' => 'Rania', 'lastname' => 'Khoury']);
        $this->fx->enrol($this->student, $this->course, 'student');
        $this->fx->enrol($this->teacher, $this->course, 'editingteacher');
        $this->fx->enrol($this->iv, $this->course, 'editingteacher');
        $this->fx->assign_role($this->iv->id, 'internalverifier', $this->course->contextid);

        $scaleid = $this->fx->btec_scale();
        $this->assign = $this->fx->assign($this->course, 'Unit 1 Assignment 1: Networks', -$scaleid);
        $this->definition = $this->fx->btec_definition($this->assign, [
            'P1' => 'Explain the benefits and disadvantages of network types',
            'M1' => 'Compare common networking standards',
            'D1' => 'Evaluate the topology choices for a given scenario',
        ]);
    }

    public function test_learning_outcomes_of_a_graded_submission_come_from_its_active_instance(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->iv, 3, 0, '<p>Merit criteria met.</p>');
        $this->fx->grading_instance($this->definition, $gradeid, $this->iv->id, self::ACTIVE, [
            'P1' => [1, 'Clear'], 'M1' => [1, ''], 'D1' => [0, 'Needs justification'],
        ]);

        $data = payload_builder::grade_data($gradeid);

        $this->assertSame([
            ['code' => 'P1', 'description' => 'Explain the benefits and disadvantages of network types', 'score' => '1.00000',
                'feedback' => 'Clear'],
            ['code' => 'M1', 'description' => 'Compare common networking standards', 'score' => '1.00000', 'feedback' => ''],
            ['code' => 'D1', 'description' => 'Evaluate the topology choices for a given scenario', 'score' => '0.00000',
                'feedback' => 'Needs justification'],
        ], $data['learning_outcomes']);
        $this->assertSame('<p>Merit criteria met.</p>', $data['feedback']);
    }

    public function test_a_criterion_without_filling_is_listed_with_empty_score_and_feedback(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 2);
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ACTIVE, ['P1' => [1, 'Good']]);

        $outcomes = payload_builder::grade_data($gradeid)['learning_outcomes'];

        $this->assertSame(['P1', 'M1', 'D1'], array_column($outcomes, 'code'));
        $this->assertSame(['1.00000', '', ''], array_column($outcomes, 'score'));
        $this->assertSame(['Good', '', ''], array_column($outcomes, 'feedback'));
    }

    public function test_archived_incomplete_and_other_students_instances_are_ignored(): void {
        $other = $this->fx->user();
        $this->fx->enrol($other, $this->course);
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 4);
        $othergradeid = $this->fx->grade($this->assign, $other, $this->teacher, 1);
        // The first marking, archived by the regrade, and an instance waiting for an update: neither is current.
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ARCHIVE,
            ['P1' => [0, 'Old remark'], 'M1' => [0, 'Old'], 'D1' => [0, 'Old']]);
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::NEEDUPDATE,
            ['P1' => [0, 'Stale'], 'M1' => [0, 'Stale'], 'D1' => [0, 'Stale']]);
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ACTIVE,
            ['P1' => [1, 'Now clear'], 'M1' => [1, 'Now compared'], 'D1' => [1, 'Now evaluated']]);
        // A marker opened the form again and left without saving: a newer, incomplete instance.
        $this->fx->grading_instance($this->definition, $gradeid, $this->iv->id, self::INCOMPLETE,
            ['P1' => [0, 'Draft'], 'M1' => [0, 'Draft'], 'D1' => [0, 'Draft']]);
        // Another student's active marking of the same assignment.
        $this->fx->grading_instance($this->definition, $othergradeid, $this->teacher->id, self::ACTIVE,
            ['P1' => [0, 'Other student'], 'M1' => [0, 'Other student'], 'D1' => [0, 'Other student']]);

        $outcomes = payload_builder::grade_data($gradeid)['learning_outcomes'];

        $this->assertSame(['Now clear', 'Now compared', 'Now evaluated'], array_column($outcomes, 'feedback'));
        $this->assertSame(['1.00000', '1.00000', '1.00000'], array_column($outcomes, 'score'));
    }

    public function test_only_archived_instances_give_no_learning_outcomes(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 2);
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ARCHIVE, ['P1' => [1, 'x']]);

        $this->assertSame([], payload_builder::grade_data($gradeid)['learning_outcomes']);
    }

    public function test_instances_are_matched_by_assign_grades_id_not_by_assignment_or_context_id(): void {
        // Make the grade id differ from the assignment id and the context id, then put decoy instances on those ids.
        $this->fx->grade($this->assign, $this->fx->user(), $this->teacher, 1);
        $this->fx->grade($this->assign, $this->fx->user(), $this->teacher, 1);
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 2);
        $this->assertNotEquals($gradeid, $this->assign->id);
        $this->assertNotEquals($gradeid, $this->assign->contextid);
        foreach ([$this->assign->id, $this->assign->contextid, $this->assign->cmid] as $decoy) {
            $this->fx->grading_instance($this->definition, $decoy, $this->teacher->id, self::ACTIVE, ['P1' => [0, 'decoy']]);
        }
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ACTIVE, ['P1' => [1, 'mine']]);

        $outcomes = payload_builder::grade_data($gradeid)['learning_outcomes'];

        $this->assertSame(['mine', '', ''], array_column($outcomes, 'feedback'));
    }

    public function test_learning_outcomes_are_read_with_one_query(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 2);
        $this->fx->grading_instance($this->definition, $gradeid, $this->teacher->id, self::ACTIVE,
            ['P1' => [1, 'a'], 'M1' => [1, 'b'], 'D1' => [0, 'c']]);
        $before = count($this->db->log);

        $outcomes = payload_builder::learning_outcomes($gradeid, $this->assign->contextid);

        $this->assertCount(3, $outcomes);
        $this->assertSame(1, count($this->db->log) - $before);
    }

    public function test_a_rubric_graded_assignment_has_no_btec_outcomes(): void {
        $points = $this->fx->assign($this->course, 'Rubric assignment', 100);
        $rubric = $this->fx->btec_definition($points, ['P1' => 'Looks like BTEC'], 'rubric');
        $gradeid = $this->fx->grade($points, $this->student, $this->teacher, 55);
        $this->fx->grading_instance($rubric, $gradeid, $this->teacher->id, self::ACTIVE, ['P1' => [1, 'x']]);

        $this->assertSame([], payload_builder::grade_data($gradeid)['learning_outcomes']);
    }

    public function test_iv_wins_over_teacher(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->iv, 3);
        $grader = payload_builder::grade_data($gradeid)['grader'];

        $this->assertSame(['moodle_user_id' => (int) $this->iv->id, 'full_name' => 'Rania Khoury', 'role' => 'iv'], $grader);
    }

    public function test_teacher_role_in_the_course_makes_a_teacher(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->teacher, 3);

        $this->assertSame('teacher', payload_builder::grade_data($gradeid)['grader']['role']);
    }

    public function test_iv_role_on_the_assignment_itself_counts(): void {
        $moduleiv = $this->fx->user();
        $this->fx->assign_role($moduleiv->id, 'teacher', $this->course->contextid);
        $this->fx->assign_role($moduleiv->id, 'internalverifier', $this->assign->contextid);
        $gradeid = $this->fx->grade($this->assign, $this->student, $moduleiv, 3);

        $this->assertSame('iv', payload_builder::grade_data($gradeid)['grader']['role']);
    }

    public function test_roles_in_another_course_do_not_count_and_a_manager_is_other(): void {
        $elsewhere = $this->fx->course();
        $manager = $this->fx->user();
        $this->fx->assign_role($manager->id, 'manager', $this->fx->systemcontextid);
        $this->fx->assign_role($manager->id, 'internalverifier', $elsewhere->contextid);
        $this->fx->assign_role($manager->id, 'editingteacher', $elsewhere->contextid);
        $gradeid = $this->fx->grade($this->assign, $this->student, $manager, 3);

        $this->assertSame('other', payload_builder::grade_data($gradeid)['grader']['role']);
    }

    public function test_classify_roles(): void {
        $this->assertSame('iv', payload_builder::classify_roles(['editingteacher', 'InternalVerifier']));
        $this->assertSame('teacher', payload_builder::classify_roles(['student', 'teacher']));
        $this->assertSame('teacher', payload_builder::classify_roles(['editingteacher']));
        $this->assertSame('other', payload_builder::classify_roles(['manager', 'student']));
        $this->assertSame('other', payload_builder::classify_roles([]));
    }

    public function test_iv_roles_are_exact_shortnames_from_the_setting(): void {
        // Shortnames that merely contain "iv" are not internal verifiers.
        $this->assertSame('teacher', payload_builder::classify_roles(['editingteacher', 'IV_Lead', 'privileged', 'archive']));
        $this->assertSame('other', payload_builder::classify_roles(['internalverifier_old']));

        set_config('ivroles', 'IV_Lead, btec_verifier', 'local_moodle_zoho_sync');

        $this->assertSame('iv', payload_builder::classify_roles(['editingteacher', 'iv_lead']));
        $this->assertSame('iv', payload_builder::classify_roles(['btec_verifier']));
        $this->assertSame('teacher', payload_builder::classify_roles(['editingteacher', 'internalverifier']));
    }

    public function test_btec_scale_grade_has_its_index_and_attempt_number_is_one_based(): void {
        $this->fx->grade($this->assign, $this->student, $this->teacher, 1, 0, null, 1762000000);
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->iv, 4, 1, null, 1762064095);

        $data = payload_builder::grade_data($gradeid);

        $this->assertSame(4, $data['btec_scale_index']);
        $this->assertSame(4.0, $data['raw_grade']);
        $this->assertSame(4.0, $data['grade_max']);
        $this->assertSame(2, $data['attempt_number']);
        $this->assertSame(1762064095, $data['time_graded']);
        $this->assertSame($gradeid, $data['grade_id']);
    }

    public function test_points_grade_keeps_raw_grade_and_grade_max_without_a_scale_index(): void {
        $points = $this->fx->assign($this->course, 'Unit 2 quiz-style assignment', 100);
        $gradeid = $this->fx->grade($points, $this->student, $this->teacher, 72.5);

        $data = payload_builder::grade_data($gradeid);

        $this->assertSame(72.5, $data['raw_grade']);
        $this->assertSame(100.0, $data['grade_max']);
        $this->assertArrayNotHasKey('btec_scale_index', $data);
        $this->assertSame((int) $points->cmid, $data['assignment_id']);
        $this->assertSame('Unit 2 quiz-style assignment', $data['assignment_name']);
        $this->assertSame('IT-L3-U1-2026A', $data['course_idnumber']);
        $this->assertSame('lina.haddad@abchorizon.com', $data['user_email']);
    }

    public function test_a_non_btec_scale_gives_no_btec_index(): void {
        $scaleid = $this->db->insert_record('scale', ['name' => 'Competence', 'scale' => 'Not yet competent,Competent']);
        $scaled = $this->fx->assign($this->course, 'Competence check', -$scaleid);
        $gradeid = $this->fx->grade($scaled, $this->student, $this->teacher, 2);

        $data = payload_builder::grade_data($gradeid);

        $this->assertSame(2.0, $data['raw_grade']);
        $this->assertSame(2.0, $data['grade_max']);
        $this->assertArrayNotHasKey('btec_scale_index', $data);
    }

    public function test_grade_payload_has_every_key_and_type_of_the_sample(): void {
        $gradeid = $this->fx->grade($this->assign, $this->student, $this->iv, 3, 0, '<p>ok</p>');
        $this->fx->grading_instance($this->definition, $gradeid, $this->iv->id, self::ACTIVE, ['P1' => [1, 'Clear']]);
        $row = $this->outbox_row('grade_updated', '\mod_assign\event\submission_graded', $gradeid);

        $payload = json_decode(json_encode(payload_builder::build($row), JSON_PRESERVE_ZERO_FRACTION), true);

        $this->assert_same_shape(self::sample('grade_updated'), $payload);
        $this->assertSame('https://lms.example.edu', $payload['site_url']);
        $this->assertSame($row->eventid, $payload['event_id']);
    }

    public function test_user_payload_matches_the_sample(): void {
        $row = $this->outbox_row('user_created', '\core\event\user_created', $this->student->id);

        $payload = payload_builder::build($row);

        $sample = self::sample('user_created');
        $this->assertSame(array_merge($sample['data'], ['moodle_user_id' => (int) $this->student->id]), $payload['data']);
        $this->assert_same_shape($sample, json_decode(json_encode($payload), true));
    }

    public function test_enrolment_payload_reads_the_role_and_dates_at_delivery(): void {
        $newcomer = $this->fx->user();
        $ueid = $this->fx->enrol($newcomer, $this->course, 'student', ['timestart' => 1762060500, 'timeend' => 0]);
        $row = $this->outbox_row('enrollment_created', '\core\event\user_enrolment_created', $ueid, (int) $newcomer->id);

        $payload = json_decode(json_encode(payload_builder::build($row)), true);

        $this->assert_same_shape(self::sample('enrollment_created'), $payload);
        $this->assertSame([
            'moodle_user_id' => (int) $newcomer->id,
            'course_id' => (int) $this->course->id,
            'course_idnumber' => 'IT-L3-U1-2026A',
            'enrolment_id' => $ueid,
            'role' => 'student',
            'time_start' => 1762060500,
            'time_end' => null,
            'status' => 0,
            'enrol_method' => 'manual',
        ], $payload['data']);
    }

    public function test_enrolment_role_is_the_highest_course_role_and_suspension_shows(): void {
        $assistant = $this->fx->user();
        $ueid = $this->fx->enrol($assistant, $this->course, 'student', ['status' => 1, 'timeend' => 1770000000]);
        $this->fx->assign_role($assistant->id, 'teacher', $this->course->contextid);

        $data = payload_builder::enrolment_data($ueid);

        $this->assertSame('teacher', $data['role']);
        $this->assertSame(1, $data['status'], 'suspended');
        $this->assertSame(1770000000, $data['time_end']);
    }

    public function test_enrolment_without_role_falls_back_to_the_enrol_methods_default_role(): void {
        $ueid = $this->fx->enrol($this->fx->user(), $this->course, null);

        $this->assertSame('student', payload_builder::enrolment_data($ueid)['role']);
    }

    public function test_deleted_enrolment_is_built_from_the_event_copy(): void {
        $row = $this->outbox_row('enrollment_deleted', '\core\event\user_enrolment_deleted', 5521, (int) $this->student->id);
        $row->courseid = $this->course->id;
        $row->other = json_encode(['userenrolment' => ['id' => 5521, 'enrolid' => $this->course->manualenrolid,
            'userid' => $this->student->id, 'timestart' => 1762060500, 'timeend' => 0, 'status' => 1,
            'courseid' => $this->course->id, 'enrol' => 'manual', 'lastenrol' => true], 'enrol' => 'manual']);

        $data = payload_builder::build($row)['data'];

        $this->assertSame([
            'moodle_user_id' => (int) $this->student->id,
            'course_id' => (int) $this->course->id,
            'course_idnumber' => 'IT-L3-U1-2026A',
            'enrolment_id' => 5521,
            'role' => 'student',
            'time_start' => 1762060500,
            'time_end' => null,
            'status' => 1,
            'enrol_method' => 'manual',
        ], $data);
    }

    public function test_missing_records_make_the_payload_unavailable(): void {
        $this->expectException(payload_unavailable::class);
        $this->expectExceptionMessage('no longer exists (assign_grades 999)');
        payload_builder::grade_data(999);
    }

    public function test_deleted_user_payload_is_unavailable(): void {
        $this->db->set_field('user', 'deleted', 1, ['id' => $this->student->id]);
        $this->expectException(payload_unavailable::class);
        payload_builder::user_data((int) $this->student->id);
    }

    public function test_fingerprint_changes_only_with_sent_fields(): void {
        $user = $this->db->get_record('user', ['id' => $this->student->id]);
        $before = payload_builder::user_fingerprint($user);
        $user->lang = 'ar';
        $user->city = 'Amman';
        $this->assertSame($before, payload_builder::user_fingerprint($user));
        $user->email = 'lina@new.example';
        $this->assertNotSame($before, payload_builder::user_fingerprint($user));
    }

    private function outbox_row(string $type, string $name, int $objectid, int $userid = 0): stdClass {
        return (object) ['id' => 1, 'eventid' => '3b241101-e2bb-4255-8caf-4136c566a962', 'eventtype' => $type,
            'eventname' => $name, 'objectid' => $objectid, 'userid' => $userid ?: $objectid, 'courseid' => 0,
            'other' => null, 'timecreated' => 1762064100, 'sequence' => 0, 'payload' => null, 'entitykey' => null];
    }

    private static function sample(string $name): array {
        return json_decode(file_get_contents(__DIR__ . "/../fixtures/samples/$name.json"), true, 512, JSON_THROW_ON_ERROR);
    }

    /** Every key of the sample is present with a value of the same JSON type (recursively, lists by first item). */
    private function assert_same_shape(array $sample, array $actual, string $path = ''): void {
        foreach ($sample as $key => $value) {
            $where = $path . '/' . $key;
            if (array_is_list($sample)) {
                $key = 0;
                $where = $path . '/0';
                if (!$actual) {
                    $this->fail("$where: the payload's list is empty, the sample's is not");
                }
            }
            $this->assertArrayHasKey($key, $actual, "missing $where");
            $type = fn($v) => is_float($v) ? 'number' : (is_int($v) ? 'integer' : gettype($v));
            if (is_float($value) && is_float($actual[$key])) {
                continue;
            }
            $this->assertSame($type($value), $type($actual[$key]), "type of $where");
            if (is_array($value)) {
                $this->assert_same_shape($value, $actual[$key], $where);
            }
            if (array_is_list($sample)) {
                break;
            }
        }
    }
}

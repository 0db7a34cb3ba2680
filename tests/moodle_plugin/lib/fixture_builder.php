<?php
// Builds Moodle-shaped data (users, courses, enrolments, assignments, grades, BTEC grading) in the SQLite $DB.
// Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

class fixture_builder {
    /** @var int[] role shortname => id */
    public array $roles = [];
    public int $systemcontextid;
    private int $assignmoduleid;

    public function __construct(private sqlite_moodle_database $db, private int $now = 1762060000) {
        $this->systemcontextid = $this->context(CONTEXT_SYSTEM, 0, '');
        // Moodle's standard roles (sortorder as after install) plus the college's internal verifier role.
        foreach (['manager' => 1, 'coursecreator' => 2, 'editingteacher' => 3, 'teacher' => 4, 'student' => 5,
                'guest' => 6, 'user' => 7, 'internalverifier' => 9] as $shortname => $sortorder) {
            $this->roles[$shortname] = $this->db->insert_record('role',
                ['shortname' => $shortname, 'sortorder' => $sortorder, 'archetype' => $shortname === 'internalverifier' ? '' : $shortname]);
        }
        $this->assignmoduleid = $this->db->insert_record('modules', ['name' => 'assign']);
        $this->db->insert_record('modules', ['name' => 'quiz']);
    }

    private function context(int $level, int $instanceid, string $parentpath): int {
        $id = $this->db->insert_record('context', ['contextlevel' => $level, 'instanceid' => $instanceid]);
        $path = $parentpath . '/' . $id;
        $this->db->update_record('context', ['id' => $id, 'path' => $path, 'depth' => substr_count($path, '/')]);
        return $id;
    }

    public function context_path(int $contextid): string {
        return $this->db->get_field('context', 'path', ['id' => $contextid]);
    }

    public function user(array $fields = []): stdClass {
        static $n = 0;
        $n++;
        $user = (object) array_merge([
            'username' => "student$n", 'firstname' => "First$n", 'lastname' => "Last$n", 'email' => "student$n@college.example",
            'idnumber' => "STU-$n", 'timecreated' => $this->now, 'timemodified' => $this->now,
        ], $fields);
        $user->id = $this->db->insert_record('user', $user);
        $user->contextid = $this->context(CONTEXT_USER, $user->id, '/' . $this->systemcontextid);
        return $user;
    }

    public function course(array $fields = []): stdClass {
        static $n = 0;
        $n++;
        $course = (object) array_merge(['fullname' => "Course $n", 'shortname' => "C$n", 'idnumber' => "COURSE-$n"], $fields);
        $course->id = $this->db->insert_record('course', $course);
        $course->contextid = $this->context(CONTEXT_COURSE, $course->id, '/' . $this->systemcontextid);
        $course->manualenrolid = $this->db->insert_record('enrol',
            ['enrol' => 'manual', 'courseid' => $course->id, 'roleid' => $this->roles['student']]);
        return $course;
    }

    public function assign_role(int $userid, string $shortname, int $contextid): void {
        $this->db->insert_record('role_assignments',
            ['roleid' => $this->roles[$shortname], 'contextid' => $contextid, 'userid' => $userid]);
    }

    /** Enrol like enrol_manual: the user_enrolments row, then the role in the course context. */
    public function enrol(stdClass $user, stdClass $course, ?string $role = 'student', array $fields = []): int {
        $id = $this->db->insert_record('user_enrolments', array_merge([
            'enrolid' => $course->manualenrolid, 'userid' => $user->id, 'timestart' => $this->now, 'timeend' => 0,
            'timecreated' => $this->now, 'timemodified' => $this->now,
        ], $fields));
        if ($role !== null) {
            $this->assign_role($user->id, $role, $course->contextid);
        }
        return $id;
    }

    /** An assignment; $grade > 0 is points out of $grade, < 0 is -scaleid. */
    public function assign(stdClass $course, string $name, int $grade = 100, bool $markingworkflow = false): stdClass {
        $assign = (object) ['course' => $course->id, 'name' => $name, 'grade' => $grade,
            'markingworkflow' => (int) $markingworkflow];
        $assign->id = $this->db->insert_record('assign', $assign);
        $assign->cmid = $this->db->insert_record('course_modules',
            ['course' => $course->id, 'module' => $this->assignmoduleid, 'instance' => $assign->id]);
        $assign->contextid = $this->context(CONTEXT_MODULE, $assign->cmid, $this->context_path($course->contextid));
        $assign->courseid = $course->id;
        return $assign;
    }

    /** The student's marking workflow state in an assignment (assign_user_flags). */
    public function workflow_state(stdClass $assign, stdClass $student, string $state): void {
        $flags = $this->db->get_record('assign_user_flags', ['assignment' => $assign->id, 'userid' => $student->id]);
        if ($flags) {
            $this->db->set_field('assign_user_flags', 'workflowstate', $state, ['id' => $flags->id]);
        } else {
            $this->db->insert_record('assign_user_flags',
                ['assignment' => $assign->id, 'userid' => $student->id, 'workflowstate' => $state]);
        }
    }

    /** The gradebook item of an activity ($module, $instanceid) or of a course/category/manual item. */
    public function grade_item(stdClass $course, string $itemtype, ?string $module = null, ?int $instanceid = null,
            array $fields = []): int {
        return $this->db->insert_record('grade_items', array_merge(['courseid' => $course->id, 'itemtype' => $itemtype,
            'itemmodule' => $module, 'iteminstance' => $instanceid, 'itemnumber' => 0, 'itemname' => "$itemtype item",
            'grademax' => 100, 'gradetype' => 1], $fields));
    }

    /** A gradebook grade. */
    public function gradebook_grade(int $itemid, stdClass $student, ?stdClass $modifier, ?float $finalgrade,
            int $overridden = 0): int {
        return $this->db->insert_record('grade_grades', ['itemid' => $itemid, 'userid' => $student->id,
            'usermodified' => $modifier ? $modifier->id : null, 'finalgrade' => $finalgrade, 'overridden' => $overridden,
            'timecreated' => $this->now, 'timemodified' => $this->now]);
    }

    /** Another activity module (quiz...) in a course, with its module context. */
    public function activity(stdClass $course, string $module, int $instanceid): stdClass {
        $moduleid = $this->db->get_field('modules', 'id', ['name' => $module]);
        $cm = (object) ['course' => $course->id, 'module' => $moduleid, 'instance' => $instanceid];
        $cm->id = $this->db->insert_record('course_modules', $cm);
        $cm->contextid = $this->context(CONTEXT_MODULE, $cm->id, $this->context_path($course->contextid));
        return $cm;
    }

    public function btec_scale(): int {
        return $this->db->insert_record('scale', ['name' => 'BTEC', 'scale' => 'Refer,Pass,Merit,Distinction']);
    }

    public function grade(stdClass $assign, stdClass $student, ?stdClass $grader, float $grade, int $attemptnumber = 0,
            ?string $feedback = null, ?int $time = null): int {
        $id = $this->db->insert_record('assign_grades', [
            'assignment' => $assign->id, 'userid' => $student->id, 'grader' => $grader ? $grader->id : -1, 'grade' => $grade,
            'attemptnumber' => $attemptnumber, 'timecreated' => $time ?? $this->now, 'timemodified' => $time ?? $this->now,
        ]);
        if ($feedback !== null) {
            $this->db->insert_record('assignfeedback_comments',
                ['assignment' => $assign->id, 'grade' => $id, 'commenttext' => $feedback, 'commentformat' => 1]);
        }
        return $id;
    }

    /**
     * A BTEC grading form on the assignment: area (active method btec), definition and criteria.
     *
     * @param array $criteria code => description, in order
     * @return array ['definitionid' => int, 'criteria' => code => criterion id]
     */
    public function btec_definition(stdClass $assign, array $criteria, string $method = 'btec'): array {
        $areaid = $this->db->insert_record('grading_areas', ['contextid' => $assign->contextid, 'component' => 'mod_assign',
            'areaname' => 'submissions', 'activemethod' => $method]);
        $definitionid = $this->db->insert_record('grading_definitions',
            ['areaid' => $areaid, 'method' => $method, 'name' => $assign->name, 'status' => 20]);
        $ids = [];
        $sortorder = 0;
        foreach ($criteria as $code => $description) {
            $ids[$code] = $this->db->insert_record('gradingform_btec_criteria', ['definitionid' => $definitionid,
                'sortorder' => ++$sortorder, 'shortname' => $code, 'description' => $description, 'descriptionformat' => 1]);
        }
        return ['definitionid' => $definitionid, 'criteria' => $ids, 'areaid' => $areaid];
    }

    /**
     * A grading instance for assign_grades.id $gradeid with fillings code => [score, remark].
     */
    public function grading_instance(array $definition, int $gradeid, int $raterid, int $status, array $fillings): int {
        $instanceid = $this->db->insert_record('grading_instances', ['definitionid' => $definition['definitionid'],
            'raterid' => $raterid, 'itemid' => $gradeid, 'status' => $status, 'timemodified' => $this->now]);
        foreach ($fillings as $code => [$score, $remark]) {
            $this->db->insert_record('gradingform_btec_fillings', ['instanceid' => $instanceid,
                'criterionid' => $definition['criteria'][$code], 'score' => $score, 'remark' => $remark, 'remarkformat' => 1]);
        }
        return $instanceid;
    }
}

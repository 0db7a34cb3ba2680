<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

namespace local_moodle_zoho_sync\local;

/**
 * Builds webhook bodies from the current database state, at delivery time.
 *
 * Building late matters: Moodle assigns the enrolment's role after user_enrolment_created fires, and advanced
 * grading fillings are complete only once the grading transaction has committed.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class payload_builder {
    /** @var string[] User fields the backend uses; a user_updated that changes none of them is not sent. */
    public const USER_FIELDS = ['username', 'email', 'firstname', 'lastname', 'idnumber'];

    /** @var int grading_instances.status of the instance in use (gradingform_instance::INSTANCE_STATUS_ACTIVE). */
    public const GRADING_INSTANCE_ACTIVE = 1;

    /**
     * The whole webhook body for an outbox row.
     *
     * @param \stdClass $row The outbox row.
     * @return array
     * @throws payload_unavailable When the record the event is about no longer exists.
     */
    public static function build(\stdClass $row): array {
        global $CFG;

        $data = match ($row->eventtype) {
            'user_created', 'user_updated' => self::user_data((int) $row->userid),
            'enrollment_created', 'enrollment_updated' => self::enrolment_data((int) $row->objectid),
            'enrollment_deleted' => self::deleted_enrolment_data($row),
            'grade_updated' => self::grade_data((int) $row->objectid),
            default => throw new \coding_exception('Unknown event type ' . $row->eventtype),
        };
        return [
            'event_id' => $row->eventid,
            'event_type' => $row->eventtype,
            'event_name' => $row->eventname,
            'timestamp' => (int) $row->timecreated,
            'site_url' => $CFG->wwwroot,
            'data' => $data,
        ];
    }

    /**
     * SHA-256 over the user fields the backend uses.
     *
     * @param \stdClass $user A user record with at least USER_FIELDS.
     * @return string
     */
    public static function user_fingerprint(\stdClass $user): string {
        $values = [];
        foreach (self::USER_FIELDS as $field) {
            $values[$field] = (string) ($user->$field ?? '');
        }
        return hash('sha256', json_encode($values));
    }

    /**
     * Data of a user event.
     *
     * @param int $userid
     * @return array
     */
    public static function user_data(int $userid): array {
        global $DB;

        $user = $DB->get_record('user', ['id' => $userid, 'deleted' => 0], 'id, ' . implode(', ', self::USER_FIELDS));
        if (!$user) {
            throw new payload_unavailable("user $userid");
        }
        return [
            'moodle_user_id' => (int) $user->id,
            'username' => $user->username,
            'email' => $user->email,
            'firstname' => $user->firstname,
            'lastname' => $user->lastname,
            'idnumber' => (string) $user->idnumber,
        ];
    }

    /**
     * Data of an enrolment that still exists.
     *
     * @param int $userenrolmentid user_enrolments.id
     * @return array
     */
    public static function enrolment_data(int $userenrolmentid): array {
        global $DB;

        $sql = "SELECT ue.id, ue.userid, ue.status, ue.timestart, ue.timeend, ue.timecreated,
                       e.enrol, e.courseid, e.roleid, c.idnumber AS courseidnumber
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                  JOIN {course} c ON c.id = e.courseid
                 WHERE ue.id = :id";
        $ue = $DB->get_record_sql($sql, ['id' => $userenrolmentid]);
        if (!$ue) {
            throw new payload_unavailable("user_enrolments $userenrolmentid");
        }
        return [
            'moodle_user_id' => (int) $ue->userid,
            'course_id' => (int) $ue->courseid,
            'course_idnumber' => (string) $ue->courseidnumber,
            'enrolment_id' => (int) $ue->id,
            'role' => self::course_role((int) $ue->userid, (int) $ue->courseid, (int) $ue->roleid),
            'time_start' => (int) ($ue->timestart ?: $ue->timecreated),
            'time_end' => $ue->timeend ? (int) $ue->timeend : null,
            // Moodle's user_enrolments.status: 0 active, 1 suspended.
            'status' => (int) $ue->status,
            'enrol_method' => $ue->enrol,
        ];
    }

    /**
     * Data of a deleted enrolment, from the copy the event carried (the row is gone by then).
     *
     * @param \stdClass $row The outbox row.
     * @return array
     */
    public static function deleted_enrolment_data(\stdClass $row): array {
        global $DB;

        $other = json_decode((string) $row->other, true) ?: [];
        $ue = (object) ($other['userenrolment'] ?? []);
        $courseid = (int) ($ue->courseid ?? $row->courseid);
        $sql = "SELECT c.id, c.idnumber, r.shortname AS roleshortname
                  FROM {course} c
             LEFT JOIN {enrol} e ON e.id = :enrolid AND e.courseid = c.id
             LEFT JOIN {role} r ON r.id = e.roleid
                 WHERE c.id = :courseid";
        $course = $DB->get_record_sql($sql, ['enrolid' => (int) ($ue->enrolid ?? 0), 'courseid' => $courseid]);
        return [
            'moodle_user_id' => (int) ($ue->userid ?? $row->userid),
            'course_id' => $courseid,
            'course_idnumber' => $course ? (string) $course->idnumber : '',
            'enrolment_id' => (int) $row->objectid,
            'role' => $course ? (string) $course->roleshortname : '',
            'time_start' => (int) (($ue->timestart ?? 0) ?: ($ue->timecreated ?? 0)),
            'time_end' => empty($ue->timeend) ? null : (int) $ue->timeend,
            // The status the enrolment had when it was deleted; the event type says it is gone.
            'status' => (int) ($ue->status ?? 0),
            'enrol_method' => (string) ($ue->enrol ?? $other['enrol'] ?? ''),
        ];
    }

    /**
     * The user's role in a course: the highest (lowest sortorder) role assigned in the course context,
     * else the enrolment method's default role.
     *
     * @param int $userid
     * @param int $courseid
     * @param int $defaultroleid enrol.roleid
     * @return string Role shortname, '' when none.
     */
    public static function course_role(int $userid, int $courseid, int $defaultroleid): string {
        global $DB;

        $sql = "SELECT r.id, r.shortname
                  FROM {role_assignments} ra
                  JOIN {role} r ON r.id = ra.roleid
                  JOIN {context} ctx ON ctx.id = ra.contextid
                 WHERE ra.userid = :userid AND ctx.contextlevel = :contextlevel AND ctx.instanceid = :courseid
              ORDER BY r.sortorder ASC";
        $roles = $DB->get_records_sql($sql, ['userid' => $userid, 'contextlevel' => CONTEXT_COURSE, 'courseid' => $courseid],
            0, 1);
        if ($roles) {
            return reset($roles)->shortname;
        }
        return (string) $DB->get_field('role', 'shortname', ['id' => $defaultroleid]);
    }

    /**
     * Data of a graded assignment submission.
     *
     * @param int $gradeid assign_grades.id
     * @return array
     */
    public static function grade_data(int $gradeid): array {
        global $DB;

        $sql = "SELECT ag.id, ag.userid, ag.grade, ag.grader, ag.attemptnumber, ag.timemodified,
                       a.id AS assignid, a.name AS assignname, a.grade AS assigngrade, a.course AS courseid,
                       c.idnumber AS courseidnumber, u.email AS useremail, cm.id AS cmid,
                       ctx.id AS contextid, ctx.path AS contextpath,
                       g.firstname AS graderfirstname, g.lastname AS graderlastname,
                       fc.commenttext AS feedback, s.scale AS scaleitems
                  FROM {assign_grades} ag
                  JOIN {assign} a ON a.id = ag.assignment
                  JOIN {course} c ON c.id = a.course
                  JOIN {user} u ON u.id = ag.userid
                  JOIN {modules} m ON m.name = :modname
                  JOIN {course_modules} cm ON cm.module = m.id AND cm.instance = a.id
                  JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
             LEFT JOIN {user} g ON g.id = ag.grader
             LEFT JOIN {assignfeedback_comments} fc ON fc.grade = ag.id
             LEFT JOIN {scale} s ON a.grade < 0 AND s.id = -a.grade
                 WHERE ag.id = :gradeid";
        $grade = $DB->get_record_sql($sql, ['modname' => 'assign', 'contextlevel' => CONTEXT_MODULE, 'gradeid' => $gradeid]);
        if (!$grade) {
            throw new payload_unavailable("assign_grades $gradeid");
        }

        $graded = $grade->grade !== null && (float) $grade->grade >= 0;
        $graderid = max(0, (int) $grade->grader);
        $data = [
            'moodle_user_id' => (int) $grade->userid,
            'user_email' => $grade->useremail,
            'course_id' => (int) $grade->courseid,
            'course_idnumber' => (string) $grade->courseidnumber,
            'assignment_id' => (int) $grade->cmid,
            'assignment_name' => $grade->assignname,
            'grade_id' => (int) $grade->id,
            'raw_grade' => $graded ? (float) $grade->grade : null,
            'grade_max' => (float) $grade->assigngrade,
            'attempt_number' => (int) $grade->attemptnumber + 1,
            'time_graded' => (int) $grade->timemodified,
            'grader' => [
                // 0 when Moodle recorded no grader (e.g. a grade pushed by a web service).
                'moodle_user_id' => $graderid,
                'full_name' => trim($grade->graderfirstname . ' ' . $grade->graderlastname),
                'role' => $graderid > 0 ? self::grader_role($graderid, (string) $grade->contextpath) : 'other',
            ],
            'feedback' => (string) $grade->feedback,
            'learning_outcomes' => self::learning_outcomes((int) $grade->id, (int) $grade->contextid),
        ];
        if ((float) $grade->assigngrade < 0) {
            // A scale: the grade is the 1-based index of the scale item.
            $items = $grade->scaleitems === null ? [] : array_map('trim', explode(',', $grade->scaleitems));
            $data['grade_max'] = (float) count($items);
            if ($graded && self::is_btec_scale($items)) {
                $data['btec_scale_index'] = (int) $grade->grade;
            }
        }
        return $data;
    }

    /**
     * Whether scale items are the BTEC scale (Refer, Pass, Merit, Distinction).
     *
     * @param string[] $items
     * @return bool
     */
    public static function is_btec_scale(array $items): bool {
        $letters = array_map(fn(string $item): string => strtoupper(substr(trim($item), 0, 1)), $items);
        return $letters === ['R', 'P', 'M', 'D'];
    }

    /**
     * Learning outcomes of a graded submission, one per BTEC criterion, in one query.
     *
     * Joins the assignment's grading area to its BTEC definition, the active grading instance for this grade
     * (grading_instances.itemid is assign_grades.id) and the criteria, with their fillings where present. Archived
     * instances (earlier gradings) are ignored; a criterion without filling is kept with empty score and feedback.
     *
     * @param int $gradeid assign_grades.id
     * @param int $contextid The assignment's module context id.
     * @return array[] [{code, description, score, feedback}]
     */
    public static function learning_outcomes(int $gradeid, int $contextid): array {
        global $DB;

        $sql = "SELECT bc.id, bc.shortname, bc.description, bf.score, bf.remark
                  FROM {grading_areas} ga
                  JOIN {grading_definitions} gd ON gd.areaid = ga.id AND gd.method = ga.activemethod
                  JOIN {grading_instances} gi ON gi.definitionid = gd.id
                  JOIN {gradingform_btec_criteria} bc ON bc.definitionid = gd.id
             LEFT JOIN {gradingform_btec_fillings} bf ON bf.instanceid = gi.id AND bf.criterionid = bc.id
                 WHERE ga.contextid = :contextid AND ga.component = :component AND ga.areaname = :areaname
                       AND gd.method = :method
                       AND gi.id = (SELECT MAX(gi2.id)
                                      FROM {grading_instances} gi2
                                     WHERE gi2.definitionid = gd.id AND gi2.itemid = :itemid AND gi2.status = :active)
              ORDER BY bc.sortorder ASC, bc.id ASC";
        $params = [
            'contextid' => $contextid,
            'component' => 'mod_assign',
            'areaname' => 'submissions',
            'method' => 'btec',
            'itemid' => $gradeid,
            'active' => self::GRADING_INSTANCE_ACTIVE,
        ];
        $outcomes = [];
        foreach ($DB->get_records_sql($sql, $params) as $criterion) {
            $outcomes[] = [
                'code' => $criterion->shortname,
                'description' => (string) $criterion->description,
                'score' => $criterion->score === null ? '' : sprintf('%.5F', (float) $criterion->score),
                'feedback' => (string) $criterion->remark,
            ];
        }
        return $outcomes;
    }

    /**
     * The grader's role where the grade was given: "iv" (internal verifier) wins over "teacher", else "other".
     *
     * Looks at the roles assigned to the grader in the grade's context and its parents (course, category, site).
     *
     * @param int $graderid
     * @param string $contextpath context.path of the assignment's module context, e.g. "/1/3/16/40".
     * @return string
     */
    public static function grader_role(int $graderid, string $contextpath): string {
        global $DB;

        $contextids = array_values(array_filter(array_map('intval', explode('/', $contextpath))));
        if (!$contextids) {
            return 'other';
        }
        [$insql, $params] = $DB->get_in_or_equal($contextids, SQL_PARAMS_NAMED, 'ctx');
        $sql = "SELECT DISTINCT r.shortname
                  FROM {role_assignments} ra
                  JOIN {role} r ON r.id = ra.roleid
                 WHERE ra.userid = :userid AND ra.contextid $insql";
        $params['userid'] = $graderid;
        return self::classify_roles($DB->get_fieldset_sql($sql, $params));
    }

    /**
     * Classify role shortnames: any containing "iv" is an internal verifier, which wins over any containing "teacher".
     *
     * @param string[] $shortnames
     * @return string "iv", "teacher" or "other"
     */
    public static function classify_roles(array $shortnames): string {
        $role = 'other';
        foreach ($shortnames as $shortname) {
            $shortname = \core_text::strtolower((string) $shortname);
            if (str_contains($shortname, 'iv')) {
                return 'iv';
            }
            if (str_contains($shortname, 'teacher')) {
                $role = 'teacher';
            }
        }
        return $role;
    }
}

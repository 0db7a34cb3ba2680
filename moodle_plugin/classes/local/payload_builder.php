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
 * Builds webhook bodies from the database, when the event happens (the observers store them in the outbox).
 *
 * The observers run inside the transaction of the change, so the body is the state the event describes: a
 * suspension and a later reactivation are two different bodies, and a record deleted before delivery still has
 * its last state sent. Advanced grading fillings are saved before submission_graded fires; the role of a new
 * enrolment is assigned just after user_enrolment_created, which the observer for role_assigned completes.
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

    /** @var string[] mod_assign marking workflow states (ASSIGN_MARKING_WORKFLOW_STATE_*), in workflow order. */
    public const WORKFLOW_STATES = ['notmarked', 'inmarking', 'readyforreview', 'inreview', 'readyforrelease', 'released'];

    /** @var string The BTEC grading form's criteria table (plugin gradingform_btec, optional). */
    public const BTEC_CRITERIA_TABLE = 'gradingform_btec_criteria';

    /** @var int grade_items.gradetype of a scale (GRADE_TYPE_SCALE). */
    private const GRADE_TYPE_SCALE = 2;

    /**
     * The whole webhook body.
     *
     * @param string $eventid The event id (also the webhook-id).
     * @param string $eventtype Backend event type.
     * @param string $eventname Moodle event class, or "backfill".
     * @param int $timecreated When the event happened.
     * @param int $sequence Per-record order.
     * @param array $data The event's data.
     * @return array
     */
    public static function envelope(string $eventid, string $eventtype, string $eventname, int $timecreated, int $sequence,
            array $data): array {
        global $CFG;

        return [
            'event_id' => $eventid,
            'event_type' => $eventtype,
            'event_name' => $eventname,
            'timestamp' => $timecreated,
            'sequence' => $sequence,
            'site_url' => $CFG->wwwroot,
            'data' => $data,
        ];
    }

    /**
     * The body of an outbox row queued before payloads were captured at the event (plugin versions before 1.1),
     * built from the current database.
     *
     * @param \stdClass $row The outbox row.
     * @return array
     * @throws payload_unavailable When the record the event is about no longer exists.
     */
    public static function build(\stdClass $row): array {
        $data = match ($row->eventtype) {
            'user_created', 'user_updated' => self::user_data((int) $row->userid),
            'enrollment_created', 'enrollment_updated' => self::enrolment_data((int) $row->objectid),
            'enrollment_deleted' => self::deleted_enrolment_data(json_decode((string) $row->other, true) ?: [],
                (int) $row->objectid, (int) $row->userid, (int) $row->courseid, null),
            'grade_updated' => self::grade_data((int) $row->objectid),
            default => throw new \coding_exception('Unknown event type ' . $row->eventtype),
        };
        return self::envelope($row->eventid, $row->eventtype, $row->eventname, (int) $row->timecreated,
            (int) $row->sequence, $data);
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
     * @param array $other The event's other data: ['userenrolment' => the deleted row + courseid, enrol, ...].
     * @param int $userenrolmentid user_enrolments.id
     * @param int $userid
     * @param int $courseid
     * @param string|null $role The role the user had (core removes it before the event fires); null: the enrolment
     *     method's default role.
     * @return array
     */
    public static function deleted_enrolment_data(array $other, int $userenrolmentid, int $userid, int $courseid,
            ?string $role): array {
        global $DB;

        $ue = (object) ($other['userenrolment'] ?? []);
        $courseid = (int) ($ue->courseid ?? $courseid);
        $sql = "SELECT c.id, c.idnumber, r.shortname AS roleshortname
                  FROM {course} c
             LEFT JOIN {enrol} e ON e.id = :enrolid AND e.courseid = c.id
             LEFT JOIN {role} r ON r.id = e.roleid
                 WHERE c.id = :courseid";
        $course = $DB->get_record_sql($sql, ['enrolid' => (int) ($ue->enrolid ?? 0), 'courseid' => $courseid]);
        return [
            'moodle_user_id' => (int) ($ue->userid ?? $userid),
            'course_id' => $courseid,
            'course_idnumber' => $course ? (string) $course->idnumber : '',
            'enrolment_id' => $userenrolmentid,
            'role' => $role ?? ($course ? (string) $course->roleshortname : ''),
            'time_start' => (int) (($ue->timestart ?? 0) ?: ($ue->timecreated ?? 0)),
            'time_end' => empty($ue->timeend) ? null : (int) $ue->timeend,
            // The status the enrolment had when it was deleted; the event type says it is gone.
            'status' => (int) ($ue->status ?? 0),
            'enrol_method' => (string) ($ue->enrol ?? $other['enrol'] ?? ''),
        ];
    }

    /**
     * Data of a deleted user, from the copy the event carried: core has already replaced the username and email.
     *
     * @param int $userid
     * @param array $other The event's other data (username, email, idnumber as they were).
     * @return array
     */
    public static function deleted_user_data(int $userid, array $other): array {
        global $DB;

        $names = $DB->get_record('user', ['id' => $userid], 'id, firstname, lastname');
        return [
            'moodle_user_id' => $userid,
            'username' => (string) ($other['username'] ?? ''),
            'email' => (string) ($other['email'] ?? ''),
            'firstname' => $names ? (string) $names->firstname : '',
            'lastname' => $names ? (string) $names->lastname : '',
            'idnumber' => (string) ($other['idnumber'] ?? ''),
            'deleted' => true,
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
                       a.markingworkflow, uf.workflowstate,
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
             LEFT JOIN {assign_user_flags} uf ON uf.assignment = a.id AND uf.userid = ag.userid
             LEFT JOIN {user} g ON g.id = ag.grader
             LEFT JOIN {assignfeedback_comments} fc ON fc.grade = ag.id
             LEFT JOIN {scale} s ON a.grade < 0 AND s.id = -a.grade
                 WHERE ag.id = :gradeid";
        $grade = $DB->get_record_sql($sql, ['modname' => 'assign', 'contextlevel' => CONTEXT_MODULE, 'gradeid' => $gradeid],
            IGNORE_MULTIPLE);
        if (!$grade) {
            throw new payload_unavailable("assign_grades $gradeid");
        }

        $graded = $grade->grade !== null && (float) $grade->grade >= 0;
        $graderid = max(0, (int) $grade->grader);
        $workflowstate = self::workflow_state((bool) $grade->markingworkflow, $grade->workflowstate);
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
            'workflow_state' => $workflowstate,
            // What the student sees: without marking workflow a set grade is visible at once; with it, only once released.
            'released' => $graded && ($workflowstate === null || $workflowstate === 'released'),
            'source' => 'assign',
        ];
        if ((float) $grade->assigngrade < 0) {
            self::add_scale($data, $grade->scaleitems, $graded ? (int) $grade->grade : null);
        }
        return $data;
    }

    /**
     * Data of a gradebook grade of an activity (an override or import in the gradebook: core's user_graded).
     *
     * @param int $gradegradeid grade_grades.id
     * @return array|null Null for grades that are not an activity's (course total, category, manual item).
     */
    public static function gradebook_grade_data(int $gradegradeid): ?array {
        global $DB;

        $sql = "SELECT gg.id, gg.userid, gg.finalgrade, gg.usermodified, gg.overridden, gg.hidden, gg.feedback,
                       gg.timemodified, gi.itemmodule, gi.iteminstance, gi.itemname, gi.grademax, gi.gradetype,
                       gi.hidden AS itemhidden, c.id AS courseid, c.idnumber AS courseidnumber, u.email AS useremail,
                       cm.id AS cmid, ctx.path AS contextpath, g.firstname AS graderfirstname, g.lastname AS graderlastname,
                       s.scale AS scaleitems
                  FROM {grade_grades} gg
                  JOIN {grade_items} gi ON gi.id = gg.itemid
                  JOIN {course} c ON c.id = gi.courseid
                  JOIN {user} u ON u.id = gg.userid
                  JOIN {modules} m ON m.name = gi.itemmodule
                  JOIN {course_modules} cm ON cm.module = m.id AND cm.instance = gi.iteminstance AND cm.course = gi.courseid
                  JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
             LEFT JOIN {user} g ON g.id = gg.usermodified
             LEFT JOIN {scale} s ON s.id = gi.scaleid
                 WHERE gg.id = :id AND gi.itemtype = :itemtype";
        $grade = $DB->get_record_sql($sql, ['contextlevel' => CONTEXT_MODULE, 'id' => $gradegradeid, 'itemtype' => 'mod']);
        if (!$grade) {
            return null;
        }
        $graded = $grade->finalgrade !== null;
        $graderid = max(0, (int) $grade->usermodified);
        // The assignment's latest attempt carries the learning outcomes the gradebook value was given for.
        $assigngrade = null;
        if ($grade->itemmodule === 'assign') {
            $attempts = $DB->get_records('assign_grades', ['assignment' => $grade->iteminstance, 'userid' => $grade->userid],
                'attemptnumber DESC', 'id, attemptnumber', 0, 1);
            $assigngrade = reset($attempts) ?: null;
        }
        $now = time();
        $visible = fn($hidden): bool => (int) $hidden === 0 || ((int) $hidden > 1 && (int) $hidden <= $now);
        $data = [
            'moodle_user_id' => (int) $grade->userid,
            'user_email' => $grade->useremail,
            'course_id' => (int) $grade->courseid,
            'course_idnumber' => (string) $grade->courseidnumber,
            'assignment_id' => (int) $grade->cmid,
            'assignment_name' => (string) $grade->itemname,
            'grade_id' => $assigngrade ? (int) $assigngrade->id : null,
            'raw_grade' => $graded ? (float) $grade->finalgrade : null,
            'grade_max' => (float) $grade->grademax,
            'attempt_number' => $assigngrade ? (int) $assigngrade->attemptnumber + 1 : 1,
            'time_graded' => (int) $grade->timemodified,
            'grader' => [
                'moodle_user_id' => $graderid,
                'full_name' => trim($grade->graderfirstname . ' ' . $grade->graderlastname),
                'role' => $graderid > 0 ? self::grader_role($graderid, (string) $grade->contextpath) : 'other',
            ],
            'feedback' => (string) $grade->feedback,
            'learning_outcomes' => $assigngrade ? self::learning_outcomes((int) $assigngrade->id,
                (int) self::module_context_id($grade->contextpath)) : [],
            // The gradebook value is outside the assignment's marking workflow: visible unless hidden.
            'workflow_state' => null,
            'released' => $graded && $visible($grade->hidden) && $visible($grade->itemhidden),
            'source' => 'gradebook',
            'overridden' => (int) $grade->overridden > 0,
            'module' => (string) $grade->itemmodule,
        ];
        if ((int) $grade->gradetype === self::GRADE_TYPE_SCALE) {
            self::add_scale($data, $grade->scaleitems, $graded ? (int) round((float) $grade->finalgrade) : null);
        }
        return $data;
    }

    /**
     * The last context id of a context path ("/1/3/16/40" -> 40).
     *
     * @param string $path
     * @return int
     */
    private static function module_context_id(string $path): int {
        $ids = explode('/', $path);
        return (int) end($ids);
    }

    /**
     * Scale grades: grade_max is the number of items; a BTEC scale also gets its index (1 Refer ... 4 Distinction).
     *
     * @param array $data The grade data, changed in place.
     * @param string|null $scaleitems scale.scale, comma-separated.
     * @param int|null $index The grade, the 1-based index of the scale item; null when not graded.
     */
    private static function add_scale(array &$data, ?string $scaleitems, ?int $index): void {
        $items = $scaleitems === null ? [] : array_map('trim', explode(',', $scaleitems));
        $data['grade_max'] = (float) count($items);
        if ($index !== null && self::is_btec_scale($items)) {
            $data['btec_scale_index'] = $index;
        }
    }

    /**
     * The marking workflow state the payload reports.
     *
     * @param bool $markingworkflow Whether the assignment uses marking workflow.
     * @param string|null $state assign_user_flags.workflowstate ('' or null before any marking).
     * @return string|null One of WORKFLOW_STATES, null when the assignment has no marking workflow.
     */
    public static function workflow_state(bool $markingworkflow, ?string $state): ?string {
        if (!$markingworkflow) {
            return null;
        }
        return in_array($state, self::WORKFLOW_STATES, true) ? $state : 'notmarked';
    }

    /**
     * Whether the BTEC grading form (gradingform_btec) is installed on this site.
     *
     * @return bool
     */
    public static function btec_installed(): bool {
        global $DB;

        return $DB->get_manager()->table_exists(self::BTEC_CRITERIA_TABLE);
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
     * Learning outcomes of a graded submission, one per BTEC criterion, in one query; none when the site has no
     * gradingform_btec or the assignment is not graded with it.
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

        if (!self::btec_installed()) {
            // A site without gradingform_btec: grades go out without learning outcomes.
            return [];
        }
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
     * Classify role shortnames: one of the internal verifier roles set in the plugin's settings (exact shortname) is
     * "iv", which wins over any shortname containing "teacher" ("teacher", "editingteacher").
     *
     * @param string[] $shortnames
     * @return string "iv", "teacher" or "other"
     */
    public static function classify_roles(array $shortnames): string {
        $ivroles = config::iv_roles();
        $role = 'other';
        foreach ($shortnames as $shortname) {
            $shortname = \core_text::strtolower((string) $shortname);
            if (in_array($shortname, $ivroles, true)) {
                return 'iv';
            }
            if (str_contains($shortname, 'teacher')) {
                $role = 'teacher';
            }
        }
        return $role;
    }
}

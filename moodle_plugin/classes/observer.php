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

namespace local_moodle_zoho_sync;

use local_moodle_zoho_sync\local\config;
use local_moodle_zoho_sync\local\outbox;
use local_moodle_zoho_sync\local\payload_builder;
use local_moodle_zoho_sync\local\payload_unavailable;

/**
 * Event observers. They never call the network: each captures the body the backend will get, as the record is now,
 * into one outbox row and queues its delivery, inside the transaction of the change that fired the event.
 *
 * Events are captured whether or not the backend is configured yet; delivery waits for the configuration.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class observer {
    /** @var int Most entries kept in each per-request memo (a bulk operation in one request clears them). */
    private const MEMO_LIMIT = 1000;

    /**
     * @var array Rows this request captured, entity key => outbox id: role events of the same Moodle operation
     *     complete them (enrol_user() assigns the role after user_enrolment_created fires).
     */
    private static array $captured = [];

    /**
     * @var array Roles this request removed, "userid:courseid" => ['roles' => role ids, 'rows' => outbox ids]:
     *     unenrol_user() removes the roles before user_enrolment_deleted fires, and that event should carry them.
     */
    private static array $unassigned = [];

    /**
     * A user was created.
     *
     * @param \core\event\user_created $event
     */
    public static function user_created(\core\event\user_created $event): void {
        self::record_user_event($event);
    }

    /**
     * A user was updated. Moodle fires this for many changes the backend does not use (preferences, editor,
     * language, login profile sync...): those are collapsed by comparing a fingerprint of the fields we send.
     *
     * @param \core\event\user_updated $event
     */
    public static function user_updated(\core\event\user_updated $event): void {
        self::record_user_event($event);
    }

    /**
     * A user was deleted; core has already replaced the username and email, the event's other data has them.
     *
     * @param \core\event\user_deleted $event
     */
    public static function user_deleted(\core\event\user_deleted $event): void {
        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        $userid = (int) $event->objectid;
        outbox::enqueue($eventtype, $event, outbox::entity_key('user', $userid),
            payload_builder::deleted_user_data($userid, (array) $event->other));
    }

    /**
     * A user was enrolled in a course.
     *
     * @param \core\event\user_enrolment_created $event
     */
    public static function user_enrolment_created(\core\event\user_enrolment_created $event): void {
        self::record_enrolment($event);
    }

    /**
     * A user's enrolment was changed (dates, suspension).
     *
     * @param \core\event\user_enrolment_updated $event
     */
    public static function user_enrolment_updated(\core\event\user_enrolment_updated $event): void {
        self::record_enrolment($event);
    }

    /**
     * A user was unenrolled; the event carries the deleted row in other['userenrolment'].
     *
     * @param \core\event\user_enrolment_deleted $event
     */
    public static function user_enrolment_deleted(\core\event\user_enrolment_deleted $event): void {
        $userid = (int) $event->relateduserid;
        $courseid = (int) $event->courseid;
        $key = outbox::entity_key('enrolment', (int) $event->objectid);
        $memo = self::$unassigned["$userid:$courseid"] ?? ['roles' => [], 'rows' => []];
        unset(self::$unassigned["$userid:$courseid"]);

        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        // Role changes written while core took the roles away are not states the enrolment had: this row replaces them.
        foreach ($memo['rows'] as $id) {
            outbox::discard($id);
        }
        $role = self::role_before_unenrolment($userid, $courseid, $key, $memo['roles']);
        outbox::enqueue($eventtype, $event, $key, payload_builder::deleted_enrolment_data((array) $event->other,
            (int) $event->objectid, $userid, $courseid, $role));
    }

    /**
     * A role was assigned: in a course, it changes the role of the user's enrolments there.
     *
     * @param \core\event\role_assigned $event
     */
    public static function role_assigned(\core\event\role_assigned $event): void {
        self::course_role_changed($event);
    }

    /**
     * A role was unassigned: remembered for an unenrolment in the same request, else the enrolments' role changes.
     *
     * @param \core\event\role_unassigned $event
     */
    public static function role_unassigned(\core\event\role_unassigned $event): void {
        if ((int) $event->contextlevel !== CONTEXT_COURSE) {
            return;
        }
        $memokey = (int) $event->relateduserid . ':' . (int) $event->contextinstanceid;
        self::bound(self::$unassigned);
        self::$unassigned[$memokey]['roles'][] = (int) $event->objectid;
        self::$unassigned[$memokey]['rows'] = array_merge(self::$unassigned[$memokey]['rows'] ?? [],
            self::course_role_changed($event));
    }

    /**
     * An assignment submission was graded or its marking workflow state changed (objectid = assign_grades.id).
     *
     * @param \mod_assign\event\submission_graded $event
     */
    public static function submission_graded(\mod_assign\event\submission_graded $event): void {
        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        try {
            $data = payload_builder::grade_data((int) $event->objectid);
        } catch (payload_unavailable $e) {
            // Gone again within the same transaction: there is no state to capture.
            return;
        }
        outbox::enqueue($eventtype, $event, outbox::entity_key('grade', $data['moodle_user_id'], $data['assignment_id']),
            $data);
    }

    /**
     * A gradebook grade changed (objectid = grade_grades.id). Sent for activity grades overridden or imported in the
     * gradebook (both mark the grade overridden); an activity pushing its own grade is not sent (an assignment's
     * grading already arrives through submission_graded), and course or category totals and manual items are not
     * activity grades.
     *
     * @param \core\event\user_graded $event
     */
    public static function user_graded(\core\event\user_graded $event): void {
        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        $data = payload_builder::gradebook_grade_data((int) $event->objectid);
        if ($data === null || !$data['overridden']) {
            return;
        }
        outbox::enqueue($eventtype, $event, outbox::entity_key('grade', $data['moodle_user_id'], $data['assignment_id']),
            $data);
    }

    /**
     * Forget what this request captured: for long-running scripts between independent operations.
     */
    public static function reset_request_memo(): void {
        self::$captured = [];
        self::$unassigned = [];
    }

    /**
     * Queue a user event unless nothing the backend uses changed since the last one queued for this user.
     *
     * @param \core\event\base $event
     */
    private static function record_user_event(\core\event\base $event): void {
        global $DB;

        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        $userid = (int) ($event->relateduserid ?: $event->objectid);
        $fields = 'id, deleted, ' . implode(', ', payload_builder::USER_FIELDS);
        $user = $DB->get_record('user', ['id' => $userid], $fields);
        if (!$user || $user->deleted) {
            return;
        }
        $fingerprint = payload_builder::user_fingerprint($user);
        if ($eventtype === 'user_updated' && outbox::last_user_fingerprint($userid) === $fingerprint) {
            return;
        }
        outbox::enqueue($eventtype, $event, outbox::entity_key('user', $userid), payload_builder::user_data($userid),
            $fingerprint);
    }

    /**
     * Capture an enrolment as it is now.
     *
     * @param \core\event\base $event user_enrolment_created or user_enrolment_updated.
     */
    private static function record_enrolment(\core\event\base $event): void {
        $eventtype = self::wanted($event);
        if ($eventtype === null) {
            return;
        }
        try {
            $data = payload_builder::enrolment_data((int) $event->objectid);
        } catch (payload_unavailable $e) {
            // Gone again within the same transaction: there is no state to capture.
            return;
        }
        $key = outbox::entity_key('enrolment', (int) $event->objectid);
        self::bound(self::$captured);
        self::$captured[$key] = outbox::enqueue($eventtype, $event, $key, $data);
    }

    /**
     * A course role of a user changed: each of the user's enrolments in the course gets its new role. A row of the
     * same request (the enrolment just created) is completed; otherwise a role that differs from the last one
     * captured is an enrollment_updated.
     *
     * @param \core\event\base $event role_assigned or role_unassigned.
     * @return int[] Outbox ids of the enrollment_updated rows written.
     */
    private static function course_role_changed(\core\event\base $event): array {
        global $DB;

        if ((int) $event->contextlevel !== CONTEXT_COURSE) {
            return [];
        }
        $sql = "SELECT ue.id
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                 WHERE ue.userid = :userid AND e.courseid = :courseid";
        $ueids = $DB->get_fieldset_sql($sql, ['userid' => (int) $event->relateduserid,
            'courseid' => (int) $event->contextinstanceid]);
        $written = [];
        foreach ($ueids as $ueid) {
            $key = outbox::entity_key('enrolment', (int) $ueid);
            $data = payload_builder::enrolment_data((int) $ueid);
            $latest = outbox::latest($key);
            if (isset(self::$captured[$key]) && $latest && (int) $latest->id === self::$captured[$key]
                    && outbox::complete((int) $latest->id, $data)) {
                continue;
            }
            $last = $latest ? outbox::data($latest) : null;
            if ($last !== null && ($last['role'] ?? null) === $data['role']) {
                continue;
            }
            if (config::is_event_enabled('enrollment_updated')) {
                $written[] = outbox::enqueue('enrollment_updated', $event, $key, $data);
            }
        }
        return $written;
    }

    /**
     * The role a user had in a course before an unenrolment: the highest of the roles core removed in this request,
     * else the highest course role left, else the role last captured for the enrolment; null when none is known (the
     * enrolment method's default role is then reported).
     *
     * @param int $userid
     * @param int $courseid
     * @param string $key The enrolment's entity key.
     * @param int[] $removed Role ids removed in this request.
     * @return string|null
     */
    private static function role_before_unenrolment(int $userid, int $courseid, string $key, array $removed): ?string {
        global $DB;

        if ($removed) {
            [$insql, $params] = $DB->get_in_or_equal($removed, SQL_PARAMS_NAMED, 'role');
            $roles = $DB->get_records_select('role', "id $insql", $params, 'sortorder ASC', 'id, shortname', 0, 1);
            if ($roles) {
                return reset($roles)->shortname;
            }
        }
        $current = payload_builder::course_role($userid, $courseid, 0);
        if ($current !== '') {
            return $current;
        }
        $latest = outbox::latest($key);
        $last = $latest ? outbox::data($latest) : null;
        return isset($last['role']) && $last['role'] !== '' ? (string) $last['role'] : null;
    }

    /**
     * Keep a per-request memo bounded.
     *
     * @param array $memo
     */
    private static function bound(array &$memo): void {
        if (count($memo) >= self::MEMO_LIMIT) {
            $memo = [];
        }
    }

    /**
     * The backend event type for a Moodle event, or null when the administrator turned that type off.
     *
     * @param \core\event\base $event
     * @return string|null
     */
    private static function wanted(\core\event\base $event): ?string {
        $eventtype = config::EVENT_TYPES[$event->eventname] ?? null;
        if ($eventtype === null || !config::is_event_enabled($eventtype)) {
            return null;
        }
        return $eventtype;
    }
}

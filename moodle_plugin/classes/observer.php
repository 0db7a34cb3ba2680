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

/**
 * Event observers. They never call the network: each writes one outbox row and queues its delivery task,
 * inside the transaction of the change that fired the event.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class observer {
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
     * A user was enrolled in a course.
     *
     * @param \core\event\user_enrolment_created $event
     */
    public static function user_enrolment_created(\core\event\user_enrolment_created $event): void {
        self::record($event);
    }

    /**
     * A user's enrolment was changed (dates, suspension).
     *
     * @param \core\event\user_enrolment_updated $event
     */
    public static function user_enrolment_updated(\core\event\user_enrolment_updated $event): void {
        self::record($event);
    }

    /**
     * A user was unenrolled; the event carries the deleted row in other['userenrolment'].
     *
     * @param \core\event\user_enrolment_deleted $event
     */
    public static function user_enrolment_deleted(\core\event\user_enrolment_deleted $event): void {
        self::record($event);
    }

    /**
     * An assignment submission was graded (objectid = assign_grades.id).
     *
     * @param \mod_assign\event\submission_graded $event
     */
    public static function submission_graded(\mod_assign\event\submission_graded $event): void {
        self::record($event);
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
        outbox::enqueue($eventtype, $event, $fingerprint);
    }

    /**
     * Queue an event if its type is enabled.
     *
     * @param \core\event\base $event
     */
    private static function record(\core\event\base $event): void {
        $eventtype = self::wanted($event);
        if ($eventtype !== null) {
            outbox::enqueue($eventtype, $event);
        }
    }

    /**
     * The backend event type for a Moodle event, or null when the plugin is not configured or the type is not enabled.
     *
     * @param \core\event\base $event
     * @return string|null
     */
    private static function wanted(\core\event\base $event): ?string {
        $eventtype = config::EVENT_TYPES[$event->eventname] ?? null;
        if ($eventtype === null || !config::is_configured() || !config::is_event_enabled($eventtype)) {
            return null;
        }
        return $eventtype;
    }
}

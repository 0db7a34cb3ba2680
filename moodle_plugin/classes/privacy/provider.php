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

namespace local_moodle_zoho_sync\privacy;

use core_privacy\local\metadata\collection;
use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\contextlist;
use core_privacy\local\request\transform;
use core_privacy\local\request\userlist;
use core_privacy\local\request\writer;
use local_moodle_zoho_sync\local\outbox;

/**
 * Privacy provider: the outbox stores which events about a user were sent, and the backend receives personal data.
 *
 * Outbox rows belong to the user context of the user they are about.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class provider implements
        \core_privacy\local\metadata\provider,
        \core_privacy\local\request\plugin\provider,
        \core_privacy\local\request\core_userlist_provider {

    /**
     * Describe the stored and exported personal data.
     *
     * @param collection $collection
     * @return collection
     */
    public static function get_metadata(collection $collection): collection {
        $collection->add_database_table(outbox::TABLE, [
            'eventid' => 'privacy:metadata:outbox:eventid',
            'eventtype' => 'privacy:metadata:outbox:eventtype',
            'userid' => 'privacy:metadata:outbox:userid',
            'courseid' => 'privacy:metadata:outbox:courseid',
            'other' => 'privacy:metadata:outbox:other',
            'payload' => 'privacy:metadata:outbox:payload',
            'status' => 'privacy:metadata:outbox:status',
            'lasterror' => 'privacy:metadata:outbox:lasterror',
            'response' => 'privacy:metadata:outbox:response',
            'timecreated' => 'privacy:metadata:outbox:timecreated',
        ], 'privacy:metadata:outbox');

        $collection->add_external_location_link('zohobackend', [
            'moodle_user_id' => 'privacy:metadata:zohobackend:moodle_user_id',
            'username' => 'privacy:metadata:zohobackend:username',
            'email' => 'privacy:metadata:zohobackend:email',
            'firstname' => 'privacy:metadata:zohobackend:firstname',
            'lastname' => 'privacy:metadata:zohobackend:lastname',
            'idnumber' => 'privacy:metadata:zohobackend:idnumber',
            'enrolment' => 'privacy:metadata:zohobackend:enrolment',
            'grade' => 'privacy:metadata:zohobackend:grade',
            'feedback' => 'privacy:metadata:zohobackend:feedback',
            'learning_outcomes' => 'privacy:metadata:zohobackend:learning_outcomes',
            'grader' => 'privacy:metadata:zohobackend:grader',
        ], 'privacy:metadata:zohobackend');

        return $collection;
    }

    /**
     * The user context of a user who has outbox rows.
     *
     * @param int $userid
     * @return contextlist
     */
    public static function get_contexts_for_userid(int $userid): contextlist {
        $contextlist = new contextlist();
        $sql = "SELECT ctx.id
                  FROM {context} ctx
                 WHERE ctx.contextlevel = :contextlevel AND ctx.instanceid = :userid
                       AND EXISTS (SELECT 1 FROM {" . outbox::TABLE . "} o WHERE o.userid = :userid2)";
        $contextlist->add_from_sql($sql, ['contextlevel' => CONTEXT_USER, 'userid' => $userid, 'userid2' => $userid]);
        return $contextlist;
    }

    /**
     * The user of a user context, when they have outbox rows.
     *
     * @param userlist $userlist
     */
    public static function get_users_in_context(userlist $userlist) {
        $context = $userlist->get_context();
        if ($context->contextlevel != CONTEXT_USER) {
            return;
        }
        $sql = "SELECT userid FROM {" . outbox::TABLE . "} WHERE userid = :userid";
        $userlist->add_from_sql('userid', $sql, ['userid' => $context->instanceid]);
    }

    /**
     * Export the user's outbox rows.
     *
     * @param approved_contextlist $contextlist
     */
    public static function export_user_data(approved_contextlist $contextlist) {
        global $DB;

        $userid = (int) $contextlist->get_user()->id;
        foreach ($contextlist->get_contexts() as $context) {
            if ($context->contextlevel != CONTEXT_USER || (int) $context->instanceid !== $userid) {
                continue;
            }
            $events = [];
            foreach ($DB->get_records(outbox::TABLE, ['userid' => $userid], 'timecreated ASC, id ASC') as $row) {
                $events[] = (object) [
                    'eventid' => $row->eventid,
                    'eventtype' => $row->eventtype,
                    'courseid' => $row->courseid,
                    'payload' => $row->payload === null ? null : json_decode($row->payload),
                    'status' => $row->status,
                    'attempts' => $row->attempts,
                    'lasterror' => $row->lasterror,
                    'response' => $row->response,
                    'timecreated' => transform::datetime($row->timecreated),
                    'timesent' => $row->timesent ? transform::datetime($row->timesent) : null,
                ];
            }
            if ($events) {
                writer::with_context($context)->export_data(
                    [get_string('privacy:path:events', 'local_moodle_zoho_sync')], (object) ['events' => $events]);
            }
        }
    }

    /**
     * Delete the outbox rows of the user whose context this is.
     *
     * @param \context $context
     */
    public static function delete_data_for_all_users_in_context(\context $context) {
        global $DB;

        if ($context->contextlevel == CONTEXT_USER) {
            $DB->delete_records(outbox::TABLE, ['userid' => $context->instanceid]);
        }
    }

    /**
     * Delete the user's outbox rows.
     *
     * @param approved_contextlist $contextlist
     */
    public static function delete_data_for_user(approved_contextlist $contextlist) {
        global $DB;

        $userid = (int) $contextlist->get_user()->id;
        foreach ($contextlist->get_contexts() as $context) {
            if ($context->contextlevel == CONTEXT_USER && (int) $context->instanceid === $userid) {
                $DB->delete_records(outbox::TABLE, ['userid' => $userid]);
            }
        }
    }

    /**
     * Delete the outbox rows of the approved users of a user context.
     *
     * @param approved_userlist $userlist
     */
    public static function delete_data_for_users(approved_userlist $userlist) {
        global $DB;

        $context = $userlist->get_context();
        if ($context->contextlevel == CONTEXT_USER && in_array((int) $context->instanceid, $userlist->get_userids())) {
            $DB->delete_records(outbox::TABLE, ['userid' => $context->instanceid]);
        }
    }
}

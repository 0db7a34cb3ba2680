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

/**
 * Event observers: each one writes an outbox row inside the event's transaction; no HTTP here.
 *
 * The observers are internal (the default), so they run inside any open transaction and the
 * outbox row is committed, or rolled back, together with the change it describes.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$observers = [
    [
        'eventname' => '\core\event\user_created',
        'callback' => '\local_moodle_zoho_sync\observer::user_created',
    ],
    [
        'eventname' => '\core\event\user_updated',
        'callback' => '\local_moodle_zoho_sync\observer::user_updated',
    ],
    [
        'eventname' => '\core\event\user_deleted',
        'callback' => '\local_moodle_zoho_sync\observer::user_deleted',
    ],
    [
        'eventname' => '\core\event\user_enrolment_created',
        'callback' => '\local_moodle_zoho_sync\observer::user_enrolment_created',
    ],
    [
        'eventname' => '\core\event\user_enrolment_updated',
        'callback' => '\local_moodle_zoho_sync\observer::user_enrolment_updated',
    ],
    [
        'eventname' => '\core\event\user_enrolment_deleted',
        'callback' => '\local_moodle_zoho_sync\observer::user_enrolment_deleted',
    ],
    [
        'eventname' => '\mod_assign\event\submission_graded',
        'callback' => '\local_moodle_zoho_sync\observer::submission_graded',
    ],
    [
        'eventname' => '\core\event\user_graded',
        'callback' => '\local_moodle_zoho_sync\observer::user_graded',
    ],
    [
        // Completes the enrolment captured just before (enrol_user() assigns the role after the event) or sends the
        // enrolment's new role.
        'eventname' => '\core\event\role_assigned',
        'callback' => '\local_moodle_zoho_sync\observer::role_assigned',
    ],
    [
        // Core removes roles before user_enrolment_deleted fires: remembered so the unenrolment carries the role.
        'eventname' => '\core\event\role_unassigned',
        'callback' => '\local_moodle_zoho_sync\observer::role_unassigned',
    ],
];

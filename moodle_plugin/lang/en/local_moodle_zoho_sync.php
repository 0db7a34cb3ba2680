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
 * English strings of the Moodle to Zoho sync plugin.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

$string['alleventtypes'] = 'All events';
$string['allowinternal'] = 'Allow a backend on an internal host or port';
$string['allowinternal_desc'] = 'Moodle\'s curl security blocks private networks (10.0.0.0/8, 127.0.0.0/8, 192.168.0.0/16, localhost...) and ports other than 80 and 443. Tick this only when the backend really runs on such a host or port (for example http://10.0.0.5:8000); requests to the backend then bypass the blocked hosts and allowed ports lists.';
$string['allstatuses'] = 'All statuses';
$string['backendheading'] = 'Integration backend';
$string['backendheading_desc'] = 'Events are captured in an outbox when they happen and sent by cron, signed per the Standard Webhooks specification. Events that happen before the backend URL and the shared secret are set are kept and sent once they are.';
$string['backendurl'] = 'Backend URL';
$string['backendurl_desc'] = 'Base URL of the integration backend, for example https://sync.example.edu. Events are sent to {URL}/webhooks/moodle/{event}.';
$string['col_actions'] = 'Actions';
$string['col_answer'] = 'Backend answer';
$string['col_attempts'] = 'Attempts';
$string['col_event'] = 'Event';
$string['col_status'] = 'Status';
$string['col_time'] = 'Time';
$string['col_user'] = 'User';
$string['error:blockedurl'] = 'Moodle\'s curl security blocks the backend URL {$a}: a private address (10.x, 127.x, 192.168.x, localhost...) or a port other than 80 and 443. Allow it under Site administration > General > Security > HTTP security, or tick "Allow a backend on an internal host or port" in this plugin\'s settings, then retry the failed events.';
$string['error:http'] = 'The backend answered HTTP {$a}';
$string['error:nosecret'] = 'The shared secret is not set: events are kept in the outbox and sent once it is.';
$string['error:nourl'] = 'The backend URL is not set: events are kept in the outbox and sent once it is.';
$string['error:payloadunavailable'] = 'The record this event is about no longer exists ({$a})';
$string['error:secretformat'] = 'The secret must be whsec_ followed by base64, as the backend shows it.';
$string['error:transport'] = 'No answer from the backend (curl error {$a->errno}: {$a->error})';
$string['event_enrollment_created'] = 'User enrolled';
$string['event_enrollment_deleted'] = 'User unenrolled';
$string['event_enrollment_updated'] = 'Enrolment updated';
$string['event_grade_updated'] = 'Assignment graded';
$string['event_user_created'] = 'User created';
$string['event_user_deleted'] = 'User deleted';
$string['event_user_updated'] = 'User updated';
$string['eventcount'] = '{$a} events';
$string['eventlog'] = 'Zoho sync event log';
$string['events'] = 'Events to send';
$string['events_desc'] = 'Only the ticked events are captured and sent. User updates that change none of the sent fields (username, email, names, ID number) are never sent. "Assignment graded" also covers activity grades overridden or imported in the gradebook.';
$string['filter'] = 'Filter';
$string['ivroles'] = 'Internal verifier roles';
$string['ivroles_desc'] = 'Shortnames of the roles held by internal verifiers, separated by commas (exact names, case ignored). A grade given by a holder of one of these roles, in the assignment, its course or above, is sent as graded by the IV.';
$string['maxattempts'] = 'Maximum attempts';
$string['maxattempts_desc'] = 'Delivery attempts before an event is marked failed. Retries wait 1, 2, 4, 8... minutes (at most 6 hours). Answers that a retry cannot fix (bad signature, unknown event, body too large) fail at once.';
$string['moodle_zoho_sync:manage'] = 'View the Zoho sync event log and retry failed events';
$string['nextattempt'] = 'Next attempt {$a}';
$string['noevents'] = 'No events match the filter.';
$string['notconfigured'] = 'Events are kept in the outbox but not sent until this is fixed:';
$string['pluginname'] = 'Moodle to Zoho sync';
$string['privacy:metadata:outbox'] = 'Events about a user that are queued for, or were sent to, the integration backend, with its answer.';
$string['privacy:metadata:outbox:courseid'] = 'The course of an enrolment or grade event';
$string['privacy:metadata:outbox:eventid'] = 'The unique id of the event';
$string['privacy:metadata:outbox:eventtype'] = 'The kind of event (user, enrolment or grade)';
$string['privacy:metadata:outbox:lasterror'] = 'The last delivery error';
$string['privacy:metadata:outbox:other'] = 'Details of a deleted enrolment';
$string['privacy:metadata:outbox:payload'] = 'The body sent to the backend: the user, enrolment or grade as it was when the event happened';
$string['privacy:metadata:outbox:response'] = 'The backend\'s answer';
$string['privacy:metadata:outbox:status'] = 'Whether the event is pending, sent or failed';
$string['privacy:metadata:outbox:timecreated'] = 'When the event happened';
$string['privacy:metadata:outbox:userid'] = 'The user the event is about';
$string['privacy:metadata:zohobackend'] = 'User, enrolment and grade data is sent to the college\'s integration backend, which keeps it and writes it to Zoho CRM.';
$string['privacy:metadata:zohobackend:email'] = 'Email address';
$string['privacy:metadata:zohobackend:enrolment'] = 'Course enrolments, their role, dates and status';
$string['privacy:metadata:zohobackend:feedback'] = 'Assignment feedback';
$string['privacy:metadata:zohobackend:firstname'] = 'First name';
$string['privacy:metadata:zohobackend:grade'] = 'Assignment grades and attempt numbers';
$string['privacy:metadata:zohobackend:grader'] = 'The id, name and role of the person who graded';
$string['privacy:metadata:zohobackend:idnumber'] = 'ID number';
$string['privacy:metadata:zohobackend:lastname'] = 'Last name';
$string['privacy:metadata:zohobackend:learning_outcomes'] = 'BTEC learning outcome scores and remarks';
$string['privacy:metadata:zohobackend:moodle_user_id'] = 'Moodle user id';
$string['privacy:metadata:zohobackend:username'] = 'Username';
$string['privacy:path:events'] = 'Zoho sync events';
$string['retry'] = 'Retry';
$string['retryall'] = 'Retry all failed events';
$string['retryallqueued'] = '{$a} failed events queued for delivery again.';
$string['retrynotpossible'] = 'Only failed events can be retried.';
$string['retryqueued'] = 'The event is queued for delivery again.';
$string['search'] = 'Name, email or username';
$string['secret'] = 'Shared secret';
$string['secret_desc'] = 'The tenant\'s Standard Webhooks secret (whsec_...), given by the backend. Each request is signed with it.';
$string['sentat'] = 'Sent {$a}';
$string['settings'] = 'Settings';
$string['status_failed'] = 'Failed';
$string['status_pending'] = 'Pending';
$string['status_sent'] = 'Sent';
$string['task_deliver_event'] = 'Deliver an event to the Zoho integration backend';
$string['task_requeue_stuck'] = 'Re-queue Zoho sync events waiting for delivery';
$string['tenantid'] = 'Tenant id';
$string['tenantid_desc'] = 'This college\'s tenant id in the backend, sent as X-Tenant-ID. Leave empty to use the backend\'s default tenant.';
$string['timeout'] = 'Timeout (seconds)';
$string['timeout_desc'] = 'How long one delivery attempt may take before it counts as failed.';

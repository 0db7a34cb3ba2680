<?php
// Prints signed webhook requests built by the plugin's own code (observers -> outbox -> delivery::build_request) from a
// Moodle-shaped SQLite fixture: a BTEC course, a student, an IV, a graded BTEC assignment with learning outcomes,
// enrolments. Used by the pytest contract test to post real plugin output to the Python ingress.
//
// Usage: php emit_payload.php --secret=whsec_... [--tenant=default] [--backend=http://127.0.0.1:8000]
//                             [--event=user_created,...|all] [--timestamp=<epoch s>]
// Output: JSON list of {"event", "url", "path", "headers": {name: value}, "body": "<exact body>"}.
// Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

require_once(__DIR__ . '/lib/stubs.php');
require_once(__DIR__ . '/lib/fixture_builder.php');

use core\event\role_assigned;
use core\event\user_created;
use core\event\user_deleted;
use core\event\user_enrolment_created;
use core\event\user_enrolment_deleted;
use core\event\user_enrolment_updated;
use core\event\user_updated;
use local_moodle_zoho_sync\local\delivery;
use mod_assign\event\submission_graded;

$options = getopt('', ['secret:', 'tenant::', 'backend::', 'event::', 'timestamp::']);
if (empty($options['secret'])) {
    fwrite(STDERR, "usage: php emit_payload.php --secret=whsec_... [--tenant=] [--backend=] [--event=] [--timestamp=]\n");
    exit(2);
}
$events = ($options['event'] ?? 'all') === 'all' ? \local_moodle_zoho_sync\local\config::event_types()
    : explode(',', $options['event']);

global $DB;
$DB = test_new_database();
set_config('backendurl', $options['backend'] ?? 'http://127.0.0.1:8000', 'local_moodle_zoho_sync');
set_config('tenantid', $options['tenant'] ?? '', 'local_moodle_zoho_sync');
set_config('secret', $options['secret'], 'local_moodle_zoho_sync');
set_config('events', implode(',', $events), 'local_moodle_zoho_sync');

$now = time();
$signedat = isset($options['timestamp']) ? (int) $options['timestamp'] : $now;
$requests = [];
$built = 0;
// Build the queued rows' requests, as cron would deliver them before the next changes.
$flush = function () use (&$requests, &$built, $signedat): void {
    global $DB;
    foreach ($DB->get_records_select('local_moodle_zoho_sync_outbox', 'id > :built', ['built' => $built], 'id ASC') as $row) {
        $request = delivery::build_request($row, $signedat);
        $requests[] = [
            'event' => $row->eventtype,
            'url' => $request['url'],
            'path' => parse_url($request['url'], PHP_URL_PATH),
            'headers' => $request['headers'],
            'body' => $request['body'],
        ];
        $built = (int) $row->id;
    }
};
$fx = new fixture_builder($DB, $now - 600);
$course = $fx->course(['fullname' => 'IT Level 3 Unit 1: Networks', 'idnumber' => 'IT-L3-U1-2026A']);
$student = $fx->user(['username' => 'lina.haddad', 'firstname' => 'Lina', 'lastname' => 'Haddad',
    'email' => 'lina.haddad@abchorizon.com', 'idnumber' => 'STU-0001']);
$iv = $fx->user(['username' => 'rania.khoury', 'firstname' => 'Rania', 'lastname' => 'Khoury',
    'email' => 'rania.khoury@abchorizon.com', 'idnumber' => 'T-19']);

// User created, then a real change (email) and a noisy one (language) that is collapsed.
$userevent = fn(string $class) => $class::create(['objectid' => $student->id, 'relateduserid' => $student->id,
    'contextid' => $student->contextid, 'contextlevel' => CONTEXT_USER, 'contextinstanceid' => $student->id,
    'timecreated' => $now - 500]);
test_dispatch_event($userevent(user_created::class));
$DB->update_record('user', ['id' => $student->id, 'email' => 'l.haddad@abchorizon.com']);
test_dispatch_event($userevent(user_updated::class));
$DB->update_record('user', ['id' => $student->id, 'lang' => 'ar']);
test_dispatch_event($userevent(user_updated::class));

// Enrolment: the event fires before the role is assigned, then role_assigned, as in enrol_user().
$ueid = $fx->enrol($student, $course, null, ['timestart' => $now - 400, 'timeend' => 0]);
$enrolevent = fn(string $class, array $other = []) => $class::create(['objectid' => $ueid, 'relateduserid' => $student->id,
    'courseid' => $course->id, 'contextid' => $course->contextid, 'contextlevel' => CONTEXT_COURSE,
    'contextinstanceid' => $course->id, 'other' => ['enrol' => 'manual'] + $other, 'timecreated' => $now - 400]);
test_dispatch_event($enrolevent(user_enrolment_created::class));
$fx->assign_role($student->id, 'student', $course->contextid);
test_dispatch_event(role_assigned::create(['objectid' => $fx->roles['student'], 'relateduserid' => $student->id,
    'courseid' => $course->id, 'contextid' => $course->contextid, 'contextlevel' => CONTEXT_COURSE,
    'contextinstanceid' => $course->id, 'timecreated' => $now - 400]));
$fx->enrol($iv, $course, 'editingteacher');
$fx->assign_role($iv->id, 'internalverifier', $course->contextid);
$DB->update_record('user_enrolments', ['id' => $ueid, 'timeend' => $now + 180 * 86400]);
test_dispatch_event($enrolevent(user_enrolment_updated::class));

// A BTEC-graded assignment with marking workflow, second attempt, graded by the IV with learning outcomes, released.
$scaleid = $fx->btec_scale();
$assign = $fx->assign($course, 'Unit 1 Assignment 1: Networks', -$scaleid, true);
$fx->workflow_state($assign, $student, 'released');
$definition = $fx->btec_definition($assign, [
    'P1' => 'Explain the benefits and disadvantages of network types',
    'M1' => 'Compare common networking standards',
    'D1' => 'Evaluate the topology choices for a given scenario',
]);
$first = $fx->grade($assign, $student, $iv, 1, 0, '<p>Refer: P1 missing.</p>', $now - 300);
$fx->grading_instance($definition, $first, $iv->id, 3, ['P1' => [0, 'Missing']]);
$gradeid = $fx->grade($assign, $student, $iv, 3, 1, '<p>Merit criteria met; D1 needs justification.</p>', $now - 200);
$fx->grading_instance($definition, $gradeid, $iv->id, 1,
    ['P1' => [1, 'Clear'], 'M1' => [1, ''], 'D1' => [0, 'Needs justification — «تبرير»']]);
test_dispatch_event(submission_graded::create(['objectid' => $gradeid, 'relateduserid' => $student->id,
    'courseid' => $course->id, 'contextid' => $assign->contextid, 'contextlevel' => CONTEXT_MODULE,
    'contextinstanceid' => $assign->cmid, 'timecreated' => $now - 200]));

$flush();

// Unenrolment: Moodle deletes the row and passes a copy in other['userenrolment'].
$ue = (array) $DB->get_record('user_enrolments', ['id' => $ueid]);
$ue += ['courseid' => $course->id, 'enrol' => 'manual', 'lastenrol' => true];
$DB->delete_records('role_assignments', ['userid' => $student->id, 'contextid' => $course->contextid]);
$DB->delete_records('user_enrolments', ['id' => $ueid]);
test_dispatch_event($enrolevent(user_enrolment_deleted::class, ['userenrolment' => $ue]));

// A user deleted: core scrambles the record, the event carries the old values.
$leaver = $fx->user(['username' => 'sami.nasser', 'firstname' => 'Sami', 'lastname' => 'Nasser',
    'email' => 'sami.nasser@abchorizon.com', 'idnumber' => 'STU-0002']);
$DB->update_record('user', ['id' => $leaver->id, 'deleted' => 1, 'username' => 'sami.nasser@abchorizon.com.' . $now,
    'email' => md5('sami.nasser'), 'idnumber' => '']);
test_dispatch_event(user_deleted::create(['objectid' => $leaver->id, 'relateduserid' => $leaver->id,
    'contextid' => $leaver->contextid, 'contextlevel' => CONTEXT_USER, 'contextinstanceid' => $leaver->id,
    'other' => ['username' => 'sami.nasser', 'email' => 'sami.nasser@abchorizon.com', 'idnumber' => 'STU-0002',
        'picture' => 0, 'mnethostid' => 1], 'timecreated' => $now - 100]));

$flush();
echo json_encode($requests, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";

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
 * Event log: what the plugin sent to the backend, the backend's answer, and a retry button for failed events.
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../config.php');
require_once($CFG->libdir . '/adminlib.php');

use local_moodle_zoho_sync\local\config;
use local_moodle_zoho_sync\local\outbox;

$status = optional_param('status', '', PARAM_ALPHA);
$eventtype = optional_param('eventtype', '', PARAM_ALPHAEXT);
$search = optional_param('search', '', PARAM_NOTAGS);
$page = optional_param('page', 0, PARAM_INT);
$retry = optional_param('retry', 0, PARAM_INT);
$retryall = optional_param('retryall', 0, PARAM_BOOL);
$perpage = 50;

admin_externalpage_setup('local_moodle_zoho_sync_log');
require_capability('local/moodle_zoho_sync:manage', context_system::instance());

$statuses = [outbox::STATUS_PENDING, outbox::STATUS_SENT, outbox::STATUS_FAILED];
if (!in_array($status, $statuses, true)) {
    $status = '';
}
if (!in_array($eventtype, config::event_types(), true)) {
    $eventtype = '';
}
$filter = array_filter(['status' => $status, 'eventtype' => $eventtype, 'search' => $search]);
$baseurl = new moodle_url('/local/moodle_zoho_sync/index.php', $filter);
$PAGE->set_url($baseurl, ['page' => $page]);

if ($retry) {
    require_sesskey();
    if (outbox::retry($retry)) {
        redirect($baseurl, get_string('retryqueued', 'local_moodle_zoho_sync'), null, \core\output\notification::NOTIFY_SUCCESS);
    }
    redirect($baseurl, get_string('retrynotpossible', 'local_moodle_zoho_sync'), null,
        \core\output\notification::NOTIFY_WARNING);
}
if ($retryall) {
    require_sesskey();
    $count = outbox::retry_all_failed();
    redirect($baseurl, get_string('retryallqueued', 'local_moodle_zoho_sync', $count), null,
        \core\output\notification::NOTIFY_SUCCESS);
}

[$rows, $total] = outbox::get_log($filter, $page, $perpage);

echo $OUTPUT->header();
echo $OUTPUT->heading(get_string('eventlog', 'local_moodle_zoho_sync'));

$problems = config::problems();
if ($problems) {
    $items = html_writer::alist(array_map('s', $problems));
    echo $OUTPUT->notification(get_string('notconfigured', 'local_moodle_zoho_sync') . $items,
        \core\output\notification::NOTIFY_ERROR, false);
}

// Filter form (GET, no side effects). Markup works with Bootstrap 4.6 (Moodle 4.x) and 5 (Moodle 5.x): Bootstrap 5
// classes (me-*, form-select, visually-hidden, bg-*) next to their Bootstrap 4 twins where 4.6 lacks them.
$statusoptions = ['' => get_string('allstatuses', 'local_moodle_zoho_sync')];
foreach ($statuses as $value) {
    $statusoptions[$value] = get_string('status_' . $value, 'local_moodle_zoho_sync');
}
$eventoptions = ['' => get_string('alleventtypes', 'local_moodle_zoho_sync')];
foreach (config::event_types() as $value) {
    $eventoptions[$value] = get_string('event_' . $value, 'local_moodle_zoho_sync');
}
echo html_writer::start_tag('form', ['method' => 'get', 'action' => $PAGE->url->out_omit_querystring(),
    'class' => 'mb-3 d-flex flex-wrap align-items-center']);
echo html_writer::label(get_string('col_status', 'local_moodle_zoho_sync'), 'local_moodle_zoho_sync-status', false,
    ['class' => 'mr-1 me-1']);
echo html_writer::select($statusoptions, 'status', $status, false,
    ['id' => 'local_moodle_zoho_sync-status', 'class' => 'custom-select form-select w-auto mr-2 me-2']);
echo html_writer::label(get_string('col_event', 'local_moodle_zoho_sync'), 'local_moodle_zoho_sync-eventtype', false,
    ['class' => 'mr-1 me-1']);
echo html_writer::select($eventoptions, 'eventtype', $eventtype, false,
    ['id' => 'local_moodle_zoho_sync-eventtype', 'class' => 'custom-select form-select w-auto mr-2 me-2']);
echo html_writer::label(get_string('search', 'local_moodle_zoho_sync'), 'local_moodle_zoho_sync-search', false,
    ['class' => 'sr-only visually-hidden']);
echo html_writer::empty_tag('input', ['type' => 'text', 'name' => 'search', 'value' => $search,
    'id' => 'local_moodle_zoho_sync-search', 'class' => 'form-control w-auto mr-2 me-2',
    'placeholder' => get_string('search', 'local_moodle_zoho_sync')]);
echo html_writer::empty_tag('input', ['type' => 'submit', 'class' => 'btn btn-secondary',
    'value' => get_string('filter', 'local_moodle_zoho_sync')]);
echo html_writer::end_tag('form');

if ($status === outbox::STATUS_FAILED && $total > 0) {
    echo $OUTPUT->single_button(new moodle_url($baseurl, ['retryall' => 1]),
        get_string('retryall', 'local_moodle_zoho_sync'), 'post');
}

if (!$rows) {
    echo $OUTPUT->notification(get_string('noevents', 'local_moodle_zoho_sync'), \core\output\notification::NOTIFY_INFO);
    echo $OUTPUT->footer();
    die();
}

$badges = [
    outbox::STATUS_PENDING => 'badge bg-warning text-dark',
    outbox::STATUS_SENT => 'badge bg-success text-white',
    outbox::STATUS_FAILED => 'badge bg-danger text-white',
];
$table = new html_table();
$table->attributes['class'] = 'generaltable table-sm';
$table->head = [
    get_string('col_event', 'local_moodle_zoho_sync'),
    get_string('col_user', 'local_moodle_zoho_sync'),
    get_string('col_time', 'local_moodle_zoho_sync'),
    get_string('col_attempts', 'local_moodle_zoho_sync'),
    get_string('col_status', 'local_moodle_zoho_sync'),
    get_string('col_answer', 'local_moodle_zoho_sync'),
    get_string('col_actions', 'local_moodle_zoho_sync'),
];
foreach ($rows as $row) {
    $event = html_writer::div(s(get_string('event_' . $row->eventtype, 'local_moodle_zoho_sync')))
        . html_writer::div(s($row->eventid), 'small text-muted');

    if ($row->useremail !== null) {
        $name = trim($row->userfirstname . ' ' . $row->userlastname);
        $user = html_writer::link(new moodle_url('/user/profile.php', ['id' => $row->userid]), s($name))
            . html_writer::div(s($row->useremail), 'small text-muted');
    } else {
        $user = s($row->userid);
    }

    $time = userdate($row->timecreated, get_string('strftimedatetimeshort', 'langconfig'));
    if ($row->status === outbox::STATUS_PENDING && $row->attempts > 0) {
        $time .= html_writer::div(get_string('nextattempt', 'local_moodle_zoho_sync',
            userdate($row->nextattempt, get_string('strftimedatetimeshort', 'langconfig'))), 'small text-muted');
    } else if ($row->timesent) {
        $time .= html_writer::div(get_string('sentat', 'local_moodle_zoho_sync',
            userdate($row->timesent, get_string('strftimedatetimeshort', 'langconfig'))), 'small text-muted');
    }

    $answer = '';
    if ($row->httpstatus !== null) {
        $answer .= html_writer::tag('strong', 'HTTP ' . (int) $row->httpstatus) . ' ';
    }
    if ($row->response !== null && $row->response !== '') {
        $answer .= html_writer::tag('code', s(shorten_text($row->response, 300)), ['title' => s($row->response)]);
    }
    if ($row->status !== outbox::STATUS_SENT && $row->lasterror !== null) {
        $answer .= html_writer::div(s($row->lasterror), 'small text-danger');
    }

    $actions = '';
    if ($row->status === outbox::STATUS_FAILED) {
        $actions = $OUTPUT->single_button(new moodle_url($baseurl, ['retry' => $row->id, 'page' => $page]),
            get_string('retry', 'local_moodle_zoho_sync'), 'post');
    }

    $table->data[] = [
        $event,
        $user,
        $time,
        (int) $row->attempts,
        html_writer::span(get_string('status_' . $row->status, 'local_moodle_zoho_sync'), $badges[$row->status] ?? 'badge'),
        $answer,
        $actions,
    ];
}

echo html_writer::tag('p', get_string('eventcount', 'local_moodle_zoho_sync', $total));
echo html_writer::table($table);
echo $OUTPUT->paging_bar($total, $page, $perpage, $baseurl);
echo $OUTPUT->footer();

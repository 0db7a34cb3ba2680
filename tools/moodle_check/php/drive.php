<?php
// This file is part of the Moodle ↔ Zoho sync project's real-Moodle check (tools/moodle_check).
//
// It is not part of the plugin: it drives a scratch Moodle site through core APIs, as a teacher,
// an internal verifier and an administrator would through the web UI, and prints what it created
// as one JSON object on the last line of stdout.
//
// Usage: MOODLE_ROOT=<site> php -d max_input_vars=5000 drive.php <action> [<json state>]

define('CLI_SCRIPT', true);

require(getenv('MOODLE_ROOT') . '/config.php');
require_once($CFG->libdir . '/clilib.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->libdir . '/enrollib.php');
require_once($CFG->dirroot . '/mod/assign/locallib.php');
require_once($CFG->dirroot . '/grade/grading/lib.php');
require_once($CFG->libdir . '/testing/generator/lib.php');

const PASSWORD = 'Check#Passw0rd';
const BTEC_CRITERIA = [
    ['P1', 'Explain the principles of network design'],
    ['P2', 'Configure a small network to a given specification'],
    ['M1', 'Justify the choice of components against the specification'],
    ['D1', 'Evaluate the network against its requirements and propose improvements'],
];

/**
 * A Moodle user made as the admin's "Add a new user" page makes one (fires user_created).
 */
function check_user(string $key, string $first, string $last): int {
    global $CFG;
    return (int) user_create_user((object) [
        'username' => 'mc.' . $key, 'email' => "mc.$key@students.college.example", 'firstname' => $first,
        'lastname' => $last, 'password' => PASSWORD, 'auth' => 'manual', 'confirmed' => 1,
        'mnethostid' => $CFG->mnet_localhost_id, 'idnumber' => 'MC-' . strtoupper($key),
    ]);
}

function role_id(string $shortname): int {
    global $DB;
    return (int) $DB->get_field('role', 'id', ['shortname' => $shortname], MUST_EXIST);
}

function manual_instance(int $courseid): stdClass {
    global $DB;
    return $DB->get_record('enrol', ['courseid' => $courseid, 'enrol' => 'manual'], '*', MUST_EXIST);
}

function enrol(int $courseid, int $userid, string $role): void {
    enrol_get_plugin('manual')->enrol_user(manual_instance($courseid), $userid, role_id($role));
}

function new_course(string $shortname, string $fullname): int {
    return (int) create_course((object) ['fullname' => $fullname, 'shortname' => $shortname, 'category' => 1,
        'idnumber' => $shortname])->id;
}

function new_assignment(int $courseid, string $name, int $grade, bool $workflow): int {
    $generator = new testing_data_generator();
    $assign = $generator->create_module('assign', [
        'course' => $courseid, 'name' => $name, 'grade' => $grade, 'markingworkflow' => $workflow ? 1 : 0,
        'assignsubmission_onlinetext_enabled' => 1, 'assignfeedback_comments_enabled' => 1,
    ]);
    return (int) $assign->cmid;
}

function assign_of(int $cmid): assign {
    [$course, $cm] = get_course_and_cm_from_cmid($cmid, 'assign');
    return new assign(context_module::instance($cm->id), $cm, $course);
}

/**
 * The BTEC grading form on an assignment: active method 'btec', a ready definition with P1, P2, M1, D1.
 */
function make_btec(int $cmid): array {
    global $DB;
    $context = context_module::instance($cmid);
    $manager = get_grading_manager($context, 'mod_assign', 'submissions');
    $manager->set_active_method('btec');
    $controller = $manager->get_controller('btec');
    $criteria = [];
    foreach (BTEC_CRITERIA as $i => [$code, $text]) {
        $criteria['NEWID' . ($i + 1)] = ['sortorder' => $i + 1, 'shortname' => $code, 'description' => $text,
            'descriptionmarkers' => ''];
    }
    $definition = (object) [
        'name' => 'Unit 7 assignment 1', 'status' => gradingform_controller::DEFINITION_STATUS_READY,
        'description_editor' => ['text' => '', 'format' => FORMAT_HTML, 'itemid' => file_get_unused_draft_itemid()],
        'btec' => ['criteria' => $criteria],
    ];
    $controller->update_definition($definition);
    $definitionid = (int) $controller->get_definition(true)->id;
    $ids = [];
    foreach ($DB->get_records('gradingform_btec_criteria', ['definitionid' => $definitionid], 'sortorder') as $c) {
        $ids[$c->shortname] = (int) $c->id;
    }
    return $ids;
}

function as_user(int $userid): void {
    global $DB;
    \core\session\manager::set_user($DB->get_record('user', ['id' => $userid], '*', MUST_EXIST));
}

/**
 * Grade as the grading form does: a points grade or a BTEC filling, with a workflow state when given.
 */
function grade(int $cmid, int $studentid, array $form): void {
    $data = (object) array_merge(['attemptnumber' => -1, 'applytoall' => 0, 'sendstudentnotifications' => 0,
        'assignfeedbackcomments_editor' => ['text' => $form['feedback'] ?? '', 'format' => FORMAT_HTML]], $form);
    unset($data->feedback);
    assign_of($cmid)->save_grade($studentid, $data);
}

function btec_filling(array $criterionids, array $achieved): array {
    $criteria = [];
    foreach ($criterionids as $code => $id) {
        $ok = in_array($code, $achieved, true);
        $criteria[$id] = ['score' => $ok ? 1 : 0, 'remark' => $ok ? "$code achieved" : "$code not yet"];
    }
    return ['criteria' => $criteria];
}


/**
 * A role allowed at system level with exactly these capabilities, and allowed to assign these roles.
 */
function ws_role(string $shortname, array $capabilities, array $assignable): int {
    $system = context_system::instance();
    $roleid = create_role("Zoho sync ($shortname)", $shortname, 'Web-service user of the Moodle sink');
    set_role_contextlevels($roleid, [CONTEXT_SYSTEM]);
    foreach ($capabilities as $capability) {
        assign_capability($capability, CAP_ALLOW, $roleid, $system->id, true);
    }
    foreach ($assignable as $role) {
        core_role_set_assign_allowed($roleid, role_id($role));
    }
    return $roleid;
}

/**
 * A dedicated web-service user holding the role at system level, and a permanent token for the service.
 */
function ws_token(string $username, int $roleid, stdClass $service): string {
    global $CFG;
    $userid = (int) user_create_user((object) [
        'username' => $username, 'email' => "$username@college.example", 'firstname' => 'Zoho', 'lastname' => 'Sync',
        'password' => PASSWORD, 'auth' => 'manual', 'confirmed' => 1, 'mnethostid' => $CFG->mnet_localhost_id,
    ]);
    role_assign($roleid, $userid, context_system::instance()->id);
    return \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $service, $userid, context_system::instance());
}

/**
 * An external service holding exactly these functions, for any user with a token for it.
 */
function ws_service(string $shortname, array $functions): stdClass {
    global $DB;
    $id = $DB->insert_record('external_services', ['name' => "Zoho sync ($shortname)", 'shortname' => $shortname,
        'enabled' => 1, 'restrictedusers' => 0, 'downloadfiles' => 0, 'uploadfiles' => 0, 'timecreated' => time()]);
    foreach ($functions as $function) {
        $DB->insert_record('external_services_functions', ['externalserviceid' => $id, 'functionname' => $function]);
    }
    return $DB->get_record('external_services', ['id' => $id], '*', MUST_EXIST);
}

$action = $argv[1] ?? '';
$state = isset($argv[2]) ? json_decode($argv[2], true, 512, JSON_THROW_ON_ERROR) : [];
\core\session\manager::set_user(get_admin());
$out = [];

switch ($action) {
    case 'setup':
        // The site as it was before the plugin: staff, one student with an enrolment and a grade, and the
        // courses the scenarios use. Nothing here is observed by the plugin (it is not installed yet).
        $iv = create_role('Internal verifier', 'iv', 'Checks a sample of the teachers\' grades', 'editingteacher');
        reset_role_capabilities($iv);
        set_role_contextlevels($iv, [CONTEXT_COURSE, CONTEXT_MODULE]);
        $out['teacher'] = check_user('teacher', 'Tarek', 'Teacher');
        $out['iv'] = check_user('iv', 'Ines', 'Verifier');
        $out['legacy'] = check_user('legacy', 'Layla', 'Legacy');
        $out['course_legacy'] = new_course('MC-LEG', 'Legacy unit (before the plugin)');
        $out['course_enrol'] = new_course('MC-ENR', 'Enrolment unit');
        $out['course_points'] = new_course('MC-PTS', 'Points-graded unit');
        enrol($out['course_legacy'], $out['legacy'], 'student');
        enrol($out['course_legacy'], $out['teacher'], 'editingteacher');
        $out['assign_legacy'] = new_assignment($out['course_legacy'], 'Legacy assignment', 100, false);
        as_user($out['teacher']);
        grade($out['assign_legacy'], $out['legacy'], ['grade' => 64.0, 'feedback' => 'Graded before the plugin']);
        as_user(get_admin()->id);
        foreach (['course_points'] as $course) {
            enrol($out[$course], $out['teacher'], 'editingteacher');
            enrol($out[$course], $out['iv'], 'iv');
        }
        $out['assign_points'] = new_assignment($out['course_points'], 'Points assignment', 100, true);
        $out['btec'] = core_component::get_component_directory('gradingform_btec') !== null;
        if ($out['btec']) {
            $out['course_btec'] = new_course('MC-BTC', 'BTEC-graded unit');
            enrol($out['course_btec'], $out['teacher'], 'editingteacher');
            enrol($out['course_btec'], $out['iv'], 'iv');
            $scale = (int) $DB->get_field('scale', 'id', ['name' => 'BTEC', 'courseid' => 0], MUST_EXIST);
            $out['assign_btec'] = new_assignment($out['course_btec'], 'BTEC assignment', -$scale, true);
            $out['btec_criteria'] = make_btec($out['assign_btec']);
        }
        break;

    case 'users':
        $out['alice'] = check_user('alice', 'Alice', 'Anders');
        user_update_user((object) ['id' => $out['alice'], 'lastname' => 'Anders-Updated'], false, true);
        // Bob is created and deleted before cron runs; Carol is deleted after her creation was delivered.
        $out['bob'] = check_user('bob', 'Bob', 'Brief');
        delete_user($DB->get_record('user', ['id' => $out['bob']], '*', MUST_EXIST));
        $out['carol'] = check_user('carol', 'Carol', 'Later');
        break;

    case 'delete_carol':
        delete_user($DB->get_record('user', ['id' => $state['carol']], '*', MUST_EXIST));
        break;

    case 'enrolments':
        $out['sam'] = check_user('sam', 'Sam', 'Student');
        $course = (int) $state['course_enrol'];
        $instance = manual_instance($course);
        $plugin = enrol_get_plugin('manual');
        enrol($course, $out['sam'], 'student');
        $plugin->update_user_enrol($instance, $out['sam'], ENROL_USER_SUSPENDED);
        $plugin->update_user_enrol($instance, $out['sam'], ENROL_USER_ACTIVE);
        $out['sam_enrolment'] = (int) $DB->get_field('user_enrolments', 'id',
            ['enrolid' => $instance->id, 'userid' => $out['sam']]);
        enrol($course, (int) $state['teacher'], 'editingteacher');
        $out['teacher_enrolment'] = (int) $DB->get_field('user_enrolments', 'id',
            ['enrolid' => $instance->id, 'userid' => $state['teacher']]);
        $plugin->unenrol_user($instance, (int) $state['teacher']);
        break;

    case 'grades':
        $out['gina'] = check_user('gina', 'Gina', 'Graded');
        enrol((int) $state['course_points'], $out['gina'], 'student');
        // Points: the teacher marks (in marking), sends it for release, the IV releases it.
        as_user((int) $state['teacher']);
        $cm = (int) $state['assign_points'];
        grade($cm, $out['gina'], ['grade' => 58.0, 'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_INMARKING,
            'feedback' => 'First marking']);
        grade($cm, $out['gina'], ['grade' => 72.0, 'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_READYFORRELEASE,
            'feedback' => 'Marked']);
        as_user((int) $state['iv']);
        grade($cm, $out['gina'], ['grade' => 72.0, 'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_RELEASED,
            'feedback' => 'Marked']);
        // A second student's grade ready for release but not released: not the students' to see yet.
        as_user(get_admin()->id);
        $out['hana'] = check_user('hana', 'Hana', 'Held');
        enrol((int) $state['course_points'], $out['hana'], 'student');
        as_user((int) $state['teacher']);
        grade($cm, $out['hana'], ['grade' => 66.0, 'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_READYFORRELEASE,
            'feedback' => 'Awaiting release']);
        if (!empty($state['btec'])) {
            // BTEC: the teacher's Merit, then the IV's regrade to Distinction, released.
            as_user(get_admin()->id);
            enrol((int) $state['course_btec'], $out['gina'], 'student');
            $cm = (int) $state['assign_btec'];
            $ids = $state['btec_criteria'];
            as_user((int) $state['teacher']);
            grade($cm, $out['gina'], ['advancedgrading' => btec_filling($ids, ['P1', 'P2', 'M1']),
                'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_READYFORREVIEW, 'feedback' => 'Merit: D1 not yet']);
            as_user((int) $state['iv']);
            grade($cm, $out['gina'], ['advancedgrading' => btec_filling($ids, ['P1', 'P2', 'M1', 'D1']),
                'workflowstate' => ASSIGN_MARKING_WORKFLOW_STATE_RELEASED, 'feedback' => 'IV: D1 met']);
            $out['btec_grade'] = (int) assign_of($cm)->get_user_grade($out['gina'], false)->grade;
        }
        $out['points_grade'] = (float) assign_of((int) $state['assign_points'])->get_user_grade($out['gina'], false)->grade;
        break;


    case 'webservice':
        // What a college's administrator sets up for the Moodle sink (docs/moodle-sink.md, "A least-privilege
        // token"): web services and REST on, one service with exactly the sink's functions, a role with exactly
        // the listed capabilities, a user holding it and a token. A second user lacks `moodle/user:create`, for
        // the comparison of Moodle's refusals with the emulator's. `functions`/`capabilities` come from the check.
        set_config('enablewebservices', 1);
        set_config('webserviceprotocols', 'rest');
        $service = ws_service('moodle_zoho_sync', $state['functions']);
        $full = ws_role('zohosync', $state['capabilities'], ['student', 'editingteacher']);
        $limited = ws_role('zohosynclimited', array_values(array_diff($state['capabilities'], ['moodle/user:create'])),
            ['student', 'editingteacher']);
        $out['token'] = ws_token('zohosync', $full, $service);
        $out['limited_token'] = ws_token('zohosynclimited', $limited, $service);
        break;

    case 'grade_in_course':
        // The course's editing teacher (enrolled by the sink) sets an assignment and grades a student in it.
        $cm = new_assignment((int) $state['courseid'], 'Provisioned course assignment 1', 100, false);
        as_user((int) $state['teacher']);
        grade($cm, (int) $state['student'], ['grade' => 75.0, 'feedback' => 'Well done']);
        as_user(get_admin()->id);
        $out['assignment'] = $cm;
        break;

    case 'accounts':
        // Accounts and a course the college made by hand before the sync: to be linked, never duplicated.
        $out['accounts'] = [];
        foreach ($state['accounts'] as $account) {
            $out['accounts'][] = (int) user_create_user((object) array_merge(['password' => PASSWORD,
                'auth' => 'manual', 'confirmed' => 1, 'mnethostid' => $CFG->mnet_localhost_id], $account));
        }
        $out['courses'] = [];
        foreach ($state['courses'] as $course) {
            $out['courses'][] = (int) create_course((object) array_merge(['category' => 1], $course))->id;
        }
        break;

    case 'site':
        // The site's users, categories, courses and manual enrolments, for the provisioning checks and to seed the
        // emulator with the same data before the sink's calls are replayed against it.
        $out['users'] = array_values(array_map(fn($u) => ['id' => (int) $u->id, 'username' => $u->username,
            'email' => $u->email, 'idnumber' => $u->idnumber, 'firstname' => $u->firstname,
            'lastname' => $u->lastname, 'auth' => $u->auth, 'suspended' => (int) $u->suspended],
            $DB->get_records_select('user', 'deleted = 0 AND id > 1', null, 'id')));
        $out['categories'] = array_values(array_map(fn($c) => ['id' => (int) $c->id, 'name' => $c->name,
            'idnumber' => (string) $c->idnumber, 'parent' => (int) $c->parent],
            $DB->get_records('course_categories', null, 'id')));
        $out['courses'] = array_values(array_map(fn($c) => ['id' => (int) $c->id, 'fullname' => $c->fullname,
            'shortname' => $c->shortname, 'idnumber' => (string) $c->idnumber, 'categoryid' => (int) $c->category,
            'startdate' => (int) $c->startdate, 'enddate' => (int) $c->enddate],
            $DB->get_records_select('course', 'id > 1', null, 'id')));
        $rows = $DB->get_records_sql("SELECT ue.id, ue.userid, e.courseid, ue.status, ue.timestart, ue.timeend
                                        FROM {user_enrolments} ue JOIN {enrol} e ON e.id = ue.enrolid
                                       WHERE e.enrol = 'manual' ORDER BY ue.id");
        $out['enrolments'] = [];
        foreach ($rows as $r) {
            $roles = $DB->get_fieldset_sql("SELECT r.shortname FROM {role_assignments} ra JOIN {role} r ON r.id = ra.roleid
                                             WHERE ra.userid = ? AND ra.contextid = ? ORDER BY r.shortname",
                [$r->userid, context_course::instance($r->courseid)->id]);
            $out['enrolments'][] = ['userid' => (int) $r->userid, 'courseid' => (int) $r->courseid,
                'status' => (int) $r->status, 'timestart' => (int) $r->timestart, 'timeend' => (int) $r->timeend,
                'roles' => $roles];
        }
        break;

    case 'outbox':
        // What the plugin's outbox holds, for the delivery check and for diagnosis.
        $rows = $DB->get_records('local_moodle_zoho_sync_outbox', null, 'id');
        $out['rows'] = array_values(array_map(fn($r) => array_intersect_key((array) $r,
            array_flip(['id', 'eventtype', 'status', 'attempts', 'lasterror', 'httpstatus'])), $rows));
        $out['adhoc'] = $DB->count_records_select('task_adhoc', $DB->sql_like('classname', ':c'),
            ['c' => '%moodle_zoho_sync%']);
        break;

    default:
        cli_error("unknown action '$action'");
}

echo json_encode($out), "\n";

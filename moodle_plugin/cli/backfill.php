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
 * Backfill: queue the users, enrolments and assignment grades a site already has, for a college's first day.
 *
 * Usage: php local/moodle_zoho_sync/cli/backfill.php [--batch=500] [--kinds=users,enrolments,grades]
 *            [--max-batches=0] [--restart]
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

define('CLI_SCRIPT', true);

require(__DIR__ . '/../../../config.php');
require_once($CFG->libdir . '/clilib.php');

use local_moodle_zoho_sync\local\backfill;

[$options, $unrecognised] = cli_get_params(
    ['batch' => 500, 'kinds' => implode(',', backfill::KINDS), 'max-batches' => 0, 'restart' => false, 'help' => false],
    ['h' => 'help']
);
if ($unrecognised) {
    cli_error('Unknown option(s): ' . implode(', ', $unrecognised));
}
if ($options['help']) {
    cli_writeln('Queue the users, enrolments and assignment grades this site already has for the Zoho sync backend.

Records are queued in batches of --batch (at most ' . backfill::MAX_BATCH . '), in id order, each batch in one
transaction together with its cursor: stop at any time (or use --max-batches) and run again to go on. --restart
starts from the first record again; records queued before with the same data are skipped, and the backend
deduplicates them by event id. Cron sends the queued events.

Options:
--batch=N          Records per batch (default 500).
--kinds=LIST       Any of users,enrolments,grades (default all, in that order).
--max-batches=N    Stop after N batches in total (default 0: until done).
--restart          Forget the cursors and start from the first record.
-h, --help         This help.');
    exit(0);
}
$kinds = array_filter(array_map('trim', explode(',', (string) $options['kinds'])));
$unknown = array_diff($kinds, backfill::KINDS);
if ($unknown) {
    cli_error('Unknown kind(s): ' . implode(', ', $unknown) . '; expected ' . implode(', ', backfill::KINDS));
}
$batch = (int) $options['batch'];
if ($batch < 1 || $batch > backfill::MAX_BATCH) {
    cli_error('--batch must be between 1 and ' . backfill::MAX_BATCH);
}
if ($options['restart']) {
    backfill::restart();
    cli_writeln('Cursors cleared: starting from the first record.');
}

$maxbatches = max(0, (int) $options['max-batches']);
$batches = 0;
foreach (backfill::KINDS as $kind) {
    if (!in_array($kind, $kinds, true)) {
        continue;
    }
    do {
        if ($maxbatches && $batches >= $maxbatches) {
            cli_writeln("Stopped after $batches batch(es); run again to go on.");
            exit(0);
        }
        $result = backfill::batch($kind, $batch);
        $batches++;
        cli_writeln(sprintf('%s: %d queued, %d unchanged, up to id %d, %d left', $kind, $result['queued'],
            $result['unchanged'], $result['cursor'], $result['left']));
    } while (!$result['done']);
}
cli_writeln('Backfill done. Cron delivers the queued events; the event log shows them.');

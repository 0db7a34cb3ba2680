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

namespace local_moodle_zoho_sync\task;

use local_moodle_zoho_sync\local\outbox;

/**
 * Scheduled task: queue delivery for due pending rows whose adhoc task was lost (failed cron, deleted task, restore).
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class requeue_stuck extends \core\task\scheduled_task {
    /**
     * Name shown in the scheduled tasks page.
     *
     * @return string
     */
    public function get_name(): string {
        return get_string('task_requeue_stuck', 'local_moodle_zoho_sync');
    }

    /**
     * Re-queue due pending rows; duplicates of tasks still queued are skipped by the task manager.
     */
    public function execute() {
        $count = outbox::requeue_due(time());
        mtrace("local_moodle_zoho_sync: $count pending event(s) queued for delivery");
    }
}

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

use local_moodle_zoho_sync\local\delivery;

/**
 * Adhoc task delivering one outbox row; custom data {outboxid, attempt}.
 *
 * Failures are recorded on the outbox row, which schedules its own retry with backoff, so this task does not throw
 * for a failed delivery (that would make the task API retry it a second time).
 *
 * @package    local_moodle_zoho_sync
 * @copyright  2026 BTEC Integration Team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class deliver_event extends \core\task\adhoc_task {
    /**
     * Name shown in the task logs.
     *
     * @return string
     */
    public function get_name(): string {
        return get_string('task_deliver_event', 'local_moodle_zoho_sync');
    }

    /**
     * Deliver the row.
     */
    public function execute() {
        $data = $this->get_custom_data();
        $id = (int) ($data->outboxid ?? 0);
        if ($id <= 0) {
            return;
        }
        // A retry task runs once its time has come, which is the row's next attempt time. The signature uses the
        // clock at sending whatever this time is (a task forced to run early must not sign with a future timestamp).
        $result = delivery::deliver($id, max(time(), (int) $this->get_next_run_time()));
        mtrace("local_moodle_zoho_sync: outbox row $id: $result");
    }
}

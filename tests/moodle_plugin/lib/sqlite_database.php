<?php
// A Moodle-like $DB over SQLite: runs the plugin's real SQL with {table} prefixing and named or ? parameters,
// checks parameters the way moodle_database::fix_sql_params does, returns values as strings like Moodle's drivers,
// and creates the plugin's tables from its own db/install.xml. Test tooling of local_moodle_zoho_sync, GPL v3 or later.

// phpcs:disable

class sqlite_moodle_database {
    public PDO $pdo;
    private string $prefix = 'mdl_';
    private int $transactiondepth = 0;
    private int $inorequaluniqueindex = 1;
    /** @var array<string, string[]> column names by table */
    private array $columns = [];
    /** @var string[] every statement run, for tests that count queries */
    public array $log = [];

    /** @param string|null $file A database file shared with another process (CLI tests); in memory when null. */
    public function __construct(?string $file = null) {
        $this->pdo = new PDO('sqlite:' . ($file ?? ':memory:'));
        $this->pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $this->pdo->setAttribute(PDO::ATTR_STRINGIFY_FETCHES, true);
        $this->pdo->setAttribute(PDO::ATTR_DEFAULT_FETCH_MODE, PDO::FETCH_OBJ);
    }

    /** Create tables from a Moodle XMLDB install.xml. */
    public function create_from_install_xml(string $file): void {
        $xml = simplexml_load_file($file);
        if ($xml === false) {
            throw new RuntimeException("install.xml is not well-formed: $file");
        }
        foreach ($xml->TABLES->TABLE as $table) {
            $name = (string) $table['NAME'];
            $cols = [];
            foreach ($table->FIELDS->FIELD as $field) {
                $fname = (string) $field['NAME'];
                $type = match ((string) $field['TYPE']) {
                    'int' => 'INTEGER',
                    'number', 'float' => 'NUMERIC',
                    'char', 'text' => 'TEXT',
                    'binary' => 'BLOB',
                    default => throw new RuntimeException("Unknown XMLDB type {$field['TYPE']}"),
                };
                if ((string) $field['SEQUENCE'] === 'true') {
                    $cols[] = "$fname INTEGER PRIMARY KEY AUTOINCREMENT";
                    continue;
                }
                $def = "$fname $type";
                if ((string) $field['NOTNULL'] === 'true') {
                    $def .= ' NOT NULL';
                }
                if (isset($field['DEFAULT'])) {
                    $def .= ' DEFAULT ' . $this->pdo->quote((string) $field['DEFAULT']);
                }
                $cols[] = $def;
            }
            $this->exec_raw("CREATE TABLE {$this->prefix}$name (" . implode(', ', $cols) . ')');
            foreach ($table->KEYS->KEY ?? [] as $key) {
                if ((string) $key['TYPE'] === 'unique') {
                    $this->exec_raw("CREATE UNIQUE INDEX {$this->prefix}{$name}_{$key['NAME']} ON {$this->prefix}$name ("
                        . $key['FIELDS'] . ')');
                }
            }
            foreach ($table->INDEXES->INDEX ?? [] as $index) {
                $unique = (string) $index['UNIQUE'] === 'true' ? 'UNIQUE ' : '';
                $iname = str_replace('-', '_', (string) $index['NAME']);
                $this->exec_raw("CREATE {$unique}INDEX {$this->prefix}{$name}_$iname ON {$this->prefix}$name ("
                    . $index['FIELDS'] . ')');
            }
        }
    }

    /** Like Moodle's database_manager, as far as the plugin uses it. */
    public function get_manager(): sqlite_database_manager {
        return new sqlite_database_manager($this);
    }

    /** Whether a table (without prefix) exists. */
    public function table_exists(string $table): bool {
        $statement = $this->pdo->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
        $statement->execute([$this->prefix . $table]);
        return (bool) $statement->fetchColumn();
    }

    /** Drop a table (fixtures of sites without a plugin). */
    public function drop_table(string $table): void {
        $this->exec_raw("DROP TABLE {$this->prefix}$table");
    }

    /** Run a schema script with {table} placeholders. */
    public function create_from_sql_file(string $file): void {
        foreach (array_filter(array_map('trim', explode(';', file_get_contents($file)))) as $statement) {
            $this->exec_raw($this->prefix_tables($statement));
        }
    }

    private function exec_raw(string $sql): void {
        $this->pdo->exec($sql);
        $this->columns = [];
    }

    private function prefix_tables(string $sql): string {
        return preg_replace('/\{([a-z][a-z0-9_]*)\}/', $this->prefix . '$1', $sql);
    }

    /** moodle_database::fix_sql_params: all named params used once, none missing, none extra; or ? params. */
    private function fix_sql_params(string $sql, ?array $params): array {
        $params = (array) $params;
        $sql = $this->prefix_tables($sql);
        foreach ($params as $key => $value) {
            if (is_bool($value)) {
                $params[$key] = (int) $value;
            } else if (is_object($value) || is_array($value)) {
                throw new dml_exception('invalidqueryparam', $key);
            }
        }
        $namedcount = preg_match_all('/(?<!:):[a-z][a-z0-9_]*/', $sql, $matches);
        $qcount = substr_count($sql, '?');
        if ($namedcount && $qcount) {
            throw new dml_exception('mixedtypesqlparam');
        }
        if ($namedcount) {
            $final = [];
            foreach ($matches[0] as $match) {
                $key = substr($match, 1);
                if (!array_key_exists($key, $params)) {
                    throw new dml_exception('missingkeyinsql', $key, $sql);
                }
                if (strlen($key) > 30) {
                    throw new dml_exception('toolongparamname', $key);
                }
                if (array_key_exists($key, $final)) {
                    throw new dml_exception('duplicateparaminsql', $key, $sql);
                }
                $final[$key] = $params[$key];
            }
            if (count($final) !== count($params)) {
                throw new dml_exception('extraparamsinsql', implode(',', array_diff(array_keys($params), array_keys($final))),
                    $sql);
            }
            return [$sql, $final];
        }
        if ($qcount !== count($params)) {
            throw new dml_exception('invalidqueryparam', "expected $qcount parameters, got " . count($params), $sql);
        }
        return [$sql, array_values($params)];
    }

    private function query(string $sql, ?array $params = null): PDOStatement {
        [$sql, $params] = $this->fix_sql_params($sql, $params);
        $this->log[] = $sql;
        $statement = $this->pdo->prepare($sql);
        $statement->execute($params);
        return $statement;
    }

    private function where(array $conditions): array {
        if (!$conditions) {
            return ['', []];
        }
        $where = [];
        $params = [];
        $i = 0;
        foreach ($conditions as $field => $value) {
            if ($value === null) {
                $where[] = "$field IS NULL";
                continue;
            }
            $where[] = "$field = :cond$i";
            $params['cond' . $i++] = $value;
        }
        return [implode(' AND ', $where), $params];
    }

    private function limit(string $sql, int $from, int $num): string {
        if ($num > 0 || $from > 0) {
            $sql .= ' LIMIT ' . ($num > 0 ? $num : -1) . ' OFFSET ' . max(0, $from);
        }
        return $sql;
    }

    public function get_columns(string $table): array {
        if (!isset($this->columns[$table])) {
            $statement = $this->pdo->query("PRAGMA table_info({$this->prefix}$table)");
            $this->columns[$table] = array_map(fn($c) => $c->name, $statement->fetchAll());
            if (!$this->columns[$table]) {
                throw new dml_exception('ddltablenotexist', $table);
            }
        }
        return $this->columns[$table];
    }

    public function get_records_sql($sql, ?array $params = null, $limitfrom = 0, $limitnum = 0) {
        $rows = $this->query($this->limit($sql, (int) $limitfrom, (int) $limitnum), $params)->fetchAll();
        $result = [];
        foreach ($rows as $row) {
            $key = reset($row);
            if (array_key_exists($key, $result)) {
                throw new coding_exception("Did you remember to make the first column something unique? Duplicate value '$key' "
                    . "found in column first column of '$sql'.");
            }
            $result[$key] = $row;
        }
        return $result;
    }

    public function get_records_select($table, $select, ?array $params = null, $sort = '', $fields = '*', $limitfrom = 0,
            $limitnum = 0) {
        $sql = "SELECT $fields FROM {" . $table . "}" . ($select ? " WHERE $select" : '') . ($sort ? " ORDER BY $sort" : '');
        return $this->get_records_sql($sql, $params, $limitfrom, $limitnum);
    }

    public function get_records($table, array $conditions = [], $sort = '', $fields = '*', $limitfrom = 0, $limitnum = 0) {
        [$select, $params] = $this->where($conditions);
        return $this->get_records_select($table, $select, $params, $sort, $fields, $limitfrom, $limitnum);
    }

    public function get_record_sql($sql, ?array $params = null, $strictness = IGNORE_MISSING) {
        $rows = $this->query($sql, $params)->fetchAll();
        if (!$rows) {
            if ($strictness == MUST_EXIST) {
                throw new dml_missing_record_exception('invalidrecord', $sql);
            }
            return false;
        }
        if (count($rows) > 1 && $strictness != IGNORE_MULTIPLE) {
            throw new coding_exception('Error: mdb->get_record() found more than one record!');
        }
        return $rows[0];
    }

    public function get_record_select($table, $select, ?array $params = null, $fields = '*', $strictness = IGNORE_MISSING) {
        $sql = "SELECT $fields FROM {" . $table . "}" . ($select ? " WHERE $select" : '');
        return $this->get_record_sql($sql, $params, $strictness);
    }

    public function get_record($table, array $conditions, $fields = '*', $strictness = IGNORE_MISSING) {
        [$select, $params] = $this->where($conditions);
        return $this->get_record_select($table, $select, $params, $fields, $strictness);
    }

    public function get_field_sql($sql, ?array $params = null, $strictness = IGNORE_MISSING) {
        $record = $this->get_record_sql($sql, $params, $strictness);
        return $record ? reset($record) : false;
    }

    public function get_field($table, $return, array $conditions, $strictness = IGNORE_MISSING) {
        [$select, $params] = $this->where($conditions);
        return $this->get_field_sql("SELECT $return FROM {" . $table . "}" . ($select ? " WHERE $select" : ''), $params,
            $strictness);
    }

    public function get_fieldset_sql($sql, ?array $params = null) {
        return $this->query($sql, $params)->fetchAll(PDO::FETCH_COLUMN, 0);
    }

    public function get_fieldset_select($table, $return, $select, ?array $params = null) {
        return $this->get_fieldset_sql("SELECT $return FROM {" . $table . "}" . ($select ? " WHERE $select" : ''), $params);
    }

    public function count_records_sql($sql, ?array $params = null) {
        return (int) $this->get_field_sql($sql, $params);
    }

    public function count_records_select($table, $select, ?array $params = null) {
        return $this->count_records_sql("SELECT COUNT(1) FROM {" . $table . "}" . ($select ? " WHERE $select" : ''), $params);
    }

    public function count_records($table, array $conditions = []) {
        [$select, $params] = $this->where($conditions);
        return $this->count_records_select($table, $select, $params);
    }

    public function record_exists_select($table, $select, ?array $params = null) {
        return (bool) $this->get_records_select($table, $select, $params, '', 'id', 0, 1);
    }

    public function record_exists($table, array $conditions) {
        [$select, $params] = $this->where($conditions);
        return $this->record_exists_select($table, $select, $params);
    }

    public function insert_record($table, $dataobject, $returnid = true, $bulk = false) {
        $columns = $this->get_columns($table);
        $data = [];
        foreach ((array) $dataobject as $field => $value) {
            if ($field === 'id' || !in_array($field, $columns, true)) {
                continue;
            }
            $data[$field] = is_bool($value) ? (int) $value : $value;
        }
        if (!$data) {
            throw new coding_exception('insert_record() no fields found.');
        }
        $names = implode(', ', array_keys($data));
        $placeholders = implode(', ', array_map(fn($f) => ":$f", array_keys($data)));
        $this->query("INSERT INTO {" . $table . "} ($names) VALUES ($placeholders)", $data);
        return $returnid ? (int) $this->pdo->lastInsertId() : true;
    }

    public function update_record($table, $dataobject, $bulk = false) {
        $dataobject = (array) $dataobject;
        if (empty($dataobject['id'])) {
            throw new coding_exception('update_record() needs an id');
        }
        $columns = $this->get_columns($table);
        $sets = [];
        $params = ['id' => $dataobject['id']];
        foreach ($dataobject as $field => $value) {
            if ($field === 'id' || !in_array($field, $columns, true)) {
                continue;
            }
            $sets[] = "$field = :$field";
            $params[$field] = is_bool($value) ? (int) $value : $value;
        }
        if ($sets) {
            $this->query("UPDATE {" . $table . "} SET " . implode(', ', $sets) . ' WHERE id = :id', $params);
        }
        return true;
    }

    public function set_field($table, $newfield, $newvalue, array $conditions = []) {
        [$select, $params] = $this->where($conditions);
        $params['newvalue'] = $newvalue;
        $this->query("UPDATE {" . $table . "} SET $newfield = :newvalue" . ($select ? " WHERE $select" : ''), $params);
        return true;
    }

    public function delete_records_select($table, $select, ?array $params = null) {
        $this->query("DELETE FROM {" . $table . "}" . ($select ? " WHERE $select" : ''), $params);
        return true;
    }

    public function delete_records($table, array $conditions = []) {
        [$select, $params] = $this->where($conditions);
        return $this->delete_records_select($table, $select, $params);
    }

    public function execute($sql, ?array $params = null) {
        $this->query($sql, $params);
        return true;
    }

    public function get_in_or_equal($items, $type = SQL_PARAMS_QM, $prefix = 'param', $equal = true, $onemptyitems = false) {
        $items = array_values((array) $items);
        if (!$items) {
            throw new coding_exception('get_in_or_equal() does not accept empty arrays');
        }
        if ($type == SQL_PARAMS_QM) {
            $sql = count($items) === 1 ? ($equal ? '= ?' : '<> ?')
                : ($equal ? '' : 'NOT ') . 'IN (' . implode(',', array_fill(0, count($items), '?')) . ')';
            return [$sql, $items];
        }
        $params = [];
        foreach ($items as $item) {
            $params[$prefix . $this->inorequaluniqueindex++] = $item;
        }
        $names = array_map(fn($k) => ":$k", array_keys($params));
        $sql = count($items) === 1 ? ($equal ? '= ' : '<> ') . $names[0]
            : ($equal ? '' : 'NOT ') . 'IN (' . implode(',', $names) . ')';
        return [$sql, $params];
    }

    public function sql_like($fieldname, $param, $casesensitive = true, $accentsensitive = true, $notlike = false,
            $escapechar = '\\') {
        $not = $notlike ? 'NOT ' : '';
        if ($casesensitive) {
            return "$fieldname {$not}LIKE $param ESCAPE '$escapechar'";
        }
        return "LOWER($fieldname) {$not}LIKE LOWER($param) ESCAPE '$escapechar'";
    }

    public function sql_like_escape($text, $escapechar = '\\') {
        return str_replace([$escapechar, '_', '%'], [$escapechar . $escapechar, $escapechar . '_', $escapechar . '%'], $text);
    }

    public function sql_concat(...$elements) {
        return '(' . implode(' || ', $elements) . ')';
    }

    public function start_delegated_transaction() {
        if ($this->transactiondepth === 0) {
            $this->pdo->beginTransaction();
        }
        $this->transactiondepth++;
        return new sqlite_moodle_transaction($this);
    }

    public function is_transaction_started() {
        return $this->transactiondepth > 0;
    }

    /** @internal used by sqlite_moodle_transaction */
    public function commit_delegated_transaction(): void {
        $this->transactiondepth--;
        if ($this->transactiondepth === 0) {
            $this->pdo->commit();
        }
    }

    /** @internal used by sqlite_moodle_transaction: like Moodle, any rollback rolls back the whole transaction. */
    public function rollback_delegated_transaction(): void {
        if ($this->transactiondepth > 0) {
            $this->transactiondepth = 0;
            $this->pdo->rollBack();
        }
    }
}

class sqlite_database_manager {
    public function __construct(private sqlite_moodle_database $db) {
    }

    public function table_exists($table) {
        return $this->db->table_exists(is_string($table) ? $table : $table->getName());
    }
}

class sqlite_moodle_transaction {
    private bool $disposed = false;

    public function __construct(private sqlite_moodle_database $db) {
    }

    public function allow_commit() {
        if ($this->disposed) {
            throw new coding_exception('Transaction already disposed');
        }
        $this->disposed = true;
        $this->db->commit_delegated_transaction();
    }

    public function rollback($e = null) {
        $this->disposed = true;
        $this->db->rollback_delegated_transaction();
        if ($e) {
            throw $e;
        }
    }
}

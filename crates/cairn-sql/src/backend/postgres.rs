//! PostgreSQL: the server a user outgrows SQLite with.
//!
//! Row-level BEFORE triggers in PL/pgSQL stamp every new row version and copy every old
//! one into the history table, for any client's writes (psql, psycopg, an ORM). The
//! ledger transaction is the database transaction: `cairn_ledger_stamp()` records it in
//! `cairn_ledger_transactions` on its first write and hands out its sequence numbers. A transaction's row becomes visible only when it
//! commits, so a block collects exactly the committed transactions.
//!
//! Row hashes are not computed in the triggers (pgcrypto could): the Rust engine
//! computes them when a block closes, from the same canonical encoding on both backends,
//! so the two can never disagree on the bytes. The protection is the same as SQL
//! Server's: it starts at the digest that covers the block.

use std::error::Error;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls};

use super::{Backend, Rows, column_list, view_ddl};
use crate::error::SqlError;
use crate::schema::{
    ColumnType, END_SEQ, END_TXN, START_SEQ, START_TXN, TableKind, TableSchema, Value,
};

/// A ledger database on a PostgreSQL server.
pub struct PostgresBackend {
    client: Client,
}

impl PostgresBackend {
    /// Connects to `postgresql://…` (no TLS: meant for a local or tunnelled server).
    pub fn connect(url: &str) -> Result<Self, SqlError> {
        let client = Client::connect(url, NoTls).map_err(SqlError::postgres("connecting"))?;
        Ok(Self { client })
    }

    /// The underlying client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Boolean(b) => b.to_sql(ty, out),
            Value::Integer(i) => match *ty {
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Real(r) => r.to_sql(ty, out),
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Numbers `?` placeholders as `$1`, `$2`, … (outside string literals).
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            _ => out.push(c),
        }
    }
    out
}

fn value_at(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Value::Null, Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(Value::Null, |v| Value::Real(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, Value::Boolean),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
    })
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.client
            .batch_execute(sql)
            .map_err(SqlError::postgres("running statements"))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .execute(number_placeholders(sql).as_str(), &refs)
            .map_err(SqlError::postgres(format!("running {}", first_words(sql))))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let context = || format!("querying {}", first_words(sql));
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let stmt = self
            .client
            .prepare(&number_placeholders(sql))
            .map_err(SqlError::postgres(context()))?;
        let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
        let rows = self
            .client
            .query(&stmt, &refs)
            .map_err(SqlError::postgres(context()))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(value_at(row, i).map_err(SqlError::postgres(context()))?);
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    fn begin_block_close(&mut self) -> Result<(), SqlError> {
        // The lock keeps a second closer out; REPEATABLE READ gives one snapshot, taken at
        // the first query after the lock, of which transactions committed.
        self.batch(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             LOCK TABLE cairn_ledger_blocks IN EXCLUSIVE MODE;",
        )
    }

    fn begin_user(&mut self) -> Result<(), SqlError> {
        self.batch("BEGIN")
    }

    fn commit_user(&mut self) -> Result<(), SqlError> {
        self.batch("COMMIT")
    }

    fn enable_ddl(&self) -> String {
        ENABLE_DDL.to_owned()
    }

    fn create_table_ddl(&self, table: &TableSchema) -> String {
        create_table_ddl(table)
    }

    fn drop_table_ddl(&self, table: &TableSchema, new: &TableSchema) -> String {
        // Lets this transaction past the drop guard (see ENABLE_DDL).
        let mut sql = "SET LOCAL cairn.ledger_ddl = 'on';\n".to_owned();
        sql.push_str(&format!("DROP VIEW {};\n", table.view_name));
        sql.push_str(&format!(
            "ALTER TABLE {} RENAME TO {};\n",
            table.table_name, new.table_name
        ));
        if table.kind == TableKind::Updatable {
            sql.push_str(&format!(
                "ALTER TABLE {} RENAME TO {};\n",
                table.history_name, new.history_name
            ));
        }
        // The trigger function names the history table: make it again for the new name.
        sql.push_str(&format!(
            "DROP TRIGGER {t}__ledger ON {nt};\nDROP FUNCTION {t}__ledger();\n",
            t = table.table_name,
            nt = new.table_name
        ));
        sql.push_str(&format!(
            "DROP TRIGGER {t}__ledger_truncate ON {nt};\n",
            t = table.table_name,
            nt = new.table_name
        ));
        if table.kind == TableKind::Updatable {
            sql.push_str(&format!(
                "DROP TRIGGER {h}__ledger_frozen ON {nh};\n",
                h = table.history_name,
                nh = new.history_name
            ));
        }
        sql.push_str(&triggers_ddl(new));
        sql.push_str(&view_ddl(new, new.kind == TableKind::Updatable));
        sql.push_str("SET LOCAL cairn.ledger_ddl = 'off';\n");
        sql
    }

    fn table_exists(&mut self, name: &str) -> Result<bool, SqlError> {
        let rows = self.query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
            &[Value::Text(name.to_owned())],
        )?;
        Ok(rows.rows.first().and_then(|r| r.first()) == Some(&Value::Integer(1)))
    }

    fn is_enabled(&mut self) -> Result<bool, SqlError> {
        self.table_exists("cairn_ledger_transactions")
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

const ENABLE_DDL: &str = r#"
CREATE TABLE IF NOT EXISTS cairn_ledger_transactions (
  transaction_id bigserial PRIMARY KEY,
  xid xid8 NOT NULL UNIQUE DEFAULT pg_current_xact_id(),
  commit_time text NOT NULL,
  principal_name text NOT NULL,
  block_id bigint,
  transactional_ordinal bigint
);
CREATE TABLE IF NOT EXISTS cairn_ledger_blocks (
  block_id bigint PRIMARY KEY,
  transactions_root_hash bytea NOT NULL,
  block_size bigint NOT NULL,
  previous_block_hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS cairn_ledger_table_hashes (
  transaction_id bigint NOT NULL,
  table_id bigint NOT NULL,
  hash bytea NOT NULL,
  PRIMARY KEY (transaction_id, table_id)
);
CREATE TABLE IF NOT EXISTS cairn_ledger_row_hashes (
  table_id bigint NOT NULL,
  transaction_id bigint NOT NULL,
  sequence_number bigint NOT NULL,
  operation bigint NOT NULL,
  row_key text NOT NULL,
  hash bytea NOT NULL,
  PRIMARY KEY (table_id, transaction_id, sequence_number)
);
CREATE TABLE IF NOT EXISTS cairn_ledger_tables (
  table_id bigint PRIMARY KEY,
  name text NOT NULL,
  kind text NOT NULL,
  columns text NOT NULL,
  table_name text NOT NULL,
  history_name text NOT NULL,
  view_name text NOT NULL,
  dropped bigint NOT NULL
);
-- The ledger transaction of the current database transaction and its next sequence
-- number live in transaction-local settings (reset at commit or rollback, and undone
-- with a rolled-back savepoint, like the row that records the transaction); the
-- xid check makes a stale or hand-set value start a new ledger transaction.
CREATE OR REPLACE FUNCTION cairn_ledger_stamp() RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE t bigint; s bigint; x text := pg_current_xact_id()::text;
BEGIN
  IF current_setting('cairn.ledger_xid', true) IS DISTINCT FROM x THEN
    INSERT INTO cairn_ledger_transactions (commit_time, principal_name)
      VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), session_user)
      RETURNING transaction_id INTO t;
    s := 0;
    PERFORM set_config('cairn.ledger_xid', x, true);
    PERFORM set_config('cairn.ledger_txn', t::text, true);
  ELSE
    t := current_setting('cairn.ledger_txn')::bigint;
    s := current_setting('cairn.ledger_seq')::bigint;
  END IF;
  PERFORM set_config('cairn.ledger_seq', (s + 1)::text, true);
  RETURN ARRAY[t, s];
END $$;
CREATE OR REPLACE FUNCTION cairn_ledger_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS cairn_ledger_blocks_frozen ON cairn_ledger_blocks;
CREATE TRIGGER cairn_ledger_blocks_frozen BEFORE UPDATE OR DELETE OR TRUNCATE ON cairn_ledger_blocks
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_ledger_frozen('cairn_ledger_blocks is append-only: closed blocks cannot change');
-- Dropping a ledger table, its history or one of its triggers from any client is refused;
-- Cairn's own drop (a rename) sets cairn.ledger_ddl for its transaction.
CREATE OR REPLACE FUNCTION cairn_ledger_guard_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE o record;
BEGIN
  IF coalesce(current_setting('cairn.ledger_ddl', true), '') = 'on' THEN
    RETURN;
  END IF;
  FOR o IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF o.object_type = 'table' AND EXISTS (SELECT 1 FROM cairn_ledger_tables
         WHERE o.object_name IN (table_name, history_name)) THEN
      RAISE EXCEPTION 'ledger table %: DROP is refused; use `cairn sql drop-table`, which renames and keeps it', o.object_name
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF o.object_type = 'trigger' AND o.object_identity LIKE '%\_\_ledger%' THEN
      RAISE EXCEPTION 'trigger % keeps a ledger table ledgered: DROP is refused', o.object_identity
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
END $$;
-- Event triggers need a superuser; without one the guard is skipped (verification
-- still reports a dropped table as table_missing).
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    DROP EVENT TRIGGER IF EXISTS cairn_ledger_guard_drop;
    CREATE EVENT TRIGGER cairn_ledger_guard_drop ON sql_drop EXECUTE FUNCTION cairn_ledger_guard_drop();
  END IF;
END $$;
DROP TRIGGER IF EXISTS cairn_ledger_row_hashes_frozen ON cairn_ledger_row_hashes;
CREATE TRIGGER cairn_ledger_row_hashes_frozen BEFORE UPDATE OR DELETE OR TRUNCATE ON cairn_ledger_row_hashes
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_ledger_frozen('cairn_ledger_row_hashes is append-only');
"#;

fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "bigint",
        ColumnType::Real => "double precision",
        ColumnType::Text => "text",
        ColumnType::Blob => "bytea",
        ColumnType::Boolean => "boolean",
    }
}

fn create_table_ddl(table: &TableSchema) -> String {
    let mut defs: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut d = format!("{} {}", c.name, sql_type(c.ty));
            if c.not_null {
                d.push_str(" NOT NULL");
            }
            d
        })
        .collect();
    let mut main = defs.clone();
    main.push(format!("{START_TXN} bigint"));
    main.push(format!("{START_SEQ} bigint"));
    let keys: Vec<&str> = table.key_columns().map(|c| c.name.as_str()).collect();
    main.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    let mut sql = format!("CREATE TABLE {} ({});\n", table.table_name, main.join(", "));
    if table.kind == TableKind::Updatable {
        for col in [START_TXN, START_SEQ, END_TXN, END_SEQ] {
            defs.push(format!("{col} bigint"));
        }
        sql.push_str(&format!(
            "CREATE TABLE {} ({});\n",
            table.history_name,
            defs.join(", ")
        ));
    }
    sql.push_str(&triggers_ddl(table));
    sql.push_str(&view_ddl(table, table.kind == TableKind::Updatable));
    sql
}

fn triggers_ddl(table: &TableSchema) -> String {
    let t = &table.table_name;
    let h = &table.history_name;
    let name = &table.name;
    let (update, delete) = match table.kind {
        TableKind::AppendOnly => (
            format!(
                "RAISE EXCEPTION 'ledger table {name} is append-only: UPDATE is refused (append-only ledger tables accept INSERT only)' USING ERRCODE = 'insufficient_privilege';"
            ),
            format!(
                "RAISE EXCEPTION 'ledger table {name} is append-only: DELETE is refused (append-only ledger tables accept INSERT only)' USING ERRCODE = 'insufficient_privilege';"
            ),
        ),
        TableKind::Updatable => {
            let cols = column_list(table, "");
            let old_cols = column_list(table, "OLD.");
            let to_history = format!(
                "st := cairn_ledger_stamp();
    INSERT INTO {h} ({cols}, {START_TXN}, {START_SEQ}, {END_TXN}, {END_SEQ})
      VALUES ({old_cols}, OLD.{START_TXN}, OLD.{START_SEQ}, st[1], st[2]);"
            );
            (
                format!(
                    "{to_history}
    st := cairn_ledger_stamp();
    NEW.{START_TXN} := st[1]; NEW.{START_SEQ} := st[2];
    RETURN NEW;"
                ),
                format!("{to_history}\n    RETURN OLD;"),
            )
        }
    };
    let mut sql = format!(
        "CREATE FUNCTION {t}__ledger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE st bigint[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    st := cairn_ledger_stamp();
    NEW.{START_TXN} := st[1]; NEW.{START_SEQ} := st[2];
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    {update}
  ELSE
    {delete}
  END IF;
END $$;
CREATE TRIGGER {t}__ledger BEFORE INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION {t}__ledger();
CREATE TRIGGER {t}__ledger_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION
  cairn_ledger_frozen('ledger table {name}: TRUNCATE is refused (ledger tables keep every row version)');
"
    );
    if table.kind == TableKind::Updatable {
        sql.push_str(&format!(
            "CREATE TRIGGER {h}__ledger_frozen BEFORE UPDATE OR DELETE OR TRUNCATE ON {h} FOR EACH STATEMENT EXECUTE FUNCTION
  cairn_ledger_frozen('history table {h} of ledger table {name} is append-only');
"
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            number_placeholders("SELECT '?' , a FROM t WHERE b = ? AND c = ?"),
            "SELECT '?' , a FROM t WHERE b = $1 AND c = $2"
        );
    }
}

//! The scripted scenario run on both backends, and its expected ledger views.

use cairn_sql::{Rows, Value};

/// `(name, kind, columns)` of the two tables the scenario creates.
pub const TABLES: [(&str, &str, &str); 2] = [
    (
        "accounts",
        "updatable",
        "id integer primary key, name text not null, balance integer",
    ),
    (
        "audit",
        "append-only",
        "id integer primary key, msg text, amount real, ok boolean, note blob",
    ),
];

/// One entry per ledger transaction; each runs as one database transaction.
pub const TRANSACTIONS: [&str; 4] = [
    "INSERT INTO accounts (id, name, balance) VALUES (1, 'Anabel', 50), (2, 'Bo', 20); \
     INSERT INTO audit (id, msg, amount, ok, note) VALUES (1, 'opened 1 and 2', 70.5, true, {BLOB});",
    "UPDATE accounts SET balance = 100 WHERE id = 1; \
     INSERT INTO audit (id, msg, amount, ok) VALUES (2, 'deposit 1', 50.0, false);",
    "DELETE FROM accounts WHERE id = 2;",
    "INSERT INTO accounts (id, name, balance) VALUES (3, 'Cyrus', NULL); \
     UPDATE accounts SET name = 'Annabel' WHERE id = 1;",
];

/// The ledger view of `accounts` after the scenario: id, name, balance, transaction,
/// sequence number, operation, description. An UPDATE is a DELETE then an INSERT.
pub const ACCOUNTS_VIEW: &str = "\
1,Anabel,50,1,0,1,INSERT
2,Bo,20,1,1,1,INSERT
1,Anabel,50,2,0,2,DELETE
1,Anabel,100,2,1,1,INSERT
2,Bo,20,3,0,2,DELETE
3,Cyrus,,4,0,1,INSERT
1,Anabel,100,4,1,2,DELETE
1,Annabel,100,4,2,1,INSERT
";

/// The ledger view of `audit` (append-only: INSERTs only).
pub const AUDIT_VIEW: &str = "\
1,opened 1 and 2,70.5,true,\\x00ff,1,2,1,INSERT
2,deposit 1,50,false,,2,2,1,INSERT
";

/// The scenario's transactions with the blob literal of a backend (`x'00ff'` in SQLite,
/// `'\\x00ff'::bytea` in PostgreSQL).
pub fn transactions(blob_literal: &str) -> Vec<String> {
    TRANSACTIONS
        .iter()
        .map(|t| t.replace("{BLOB}", blob_literal))
        .collect()
}

/// Renders rows as CSV lines; booleans stored as 0/1 (SQLite) print as true/false when
/// the column is named `ok`.
pub fn csv(rows: &Rows) -> String {
    let mut out = String::new();
    for row in &rows.rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&rows.columns)
            .map(|(v, name)| match (v, name.as_str()) {
                (Value::Null, _) => String::new(),
                (Value::Integer(i), "ok") => (*i == 1).to_string(),
                (Value::Boolean(b), _) => b.to_string(),
                (Value::Integer(i), _) => i.to_string(),
                (Value::Real(r), _) => r.to_string(),
                (Value::Text(t), _) => t.clone(),
                (Value::Blob(b), _) => format!("\\x{}", hex(b)),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

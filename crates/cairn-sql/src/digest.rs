//! The database digest: SQL Server's JSON document naming the last closed block and its
//! hash, which is what gets anchored outside the database.

use cairn_merkle::Hash;
use serde::{Deserialize, Serialize};

use crate::error::SqlError;

/// A database digest, with SQL Server's field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The database's logical name.
    pub database_name: String,
    /// The id of the last closed block.
    pub block_id: i64,
    /// `0x` and 64 upper-case hex digits: the hash of that block.
    pub hash: String,
    /// Commit time of the block's last transaction (ISO 8601, UTC).
    pub last_transaction_commit_time: String,
    /// When the digest was produced (ISO 8601, UTC, 7 fractional digits).
    pub digest_time: String,
}

impl Digest {
    /// The block hash this digest states, if it is well formed.
    pub fn hash_bytes(&self) -> Option<Hash> {
        let hex_part = self
            .hash
            .strip_prefix("0x")
            .or_else(|| self.hash.strip_prefix("0X"))?;
        Hash::from_hex(&hex_part.to_ascii_lowercase()).ok()
    }
}

/// `0x` + upper-case hex, as SQL Server prints binary values.
pub fn format_hash(hash: &Hash) -> String {
    format!("0x{}", hash.to_hex().to_ascii_uppercase())
}

/// Reads digests from JSON: one digest, an array of them, or JSON lines.
pub fn parse_digests(text: &str) -> Result<Vec<Digest>, SqlError> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed)
            .map_err(|e| SqlError::Digest(format!("not a JSON array of digests: {e}")));
    }
    if let Ok(one) = serde_json::from_str::<Digest>(trimmed) {
        return Ok(vec![one]);
    }
    let mut out = Vec::new();
    for (n, line) in trimmed
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let d: Digest = serde_json::from_str(line).map_err(|e| {
            SqlError::Digest(format!(
                "line {} is not a digest ({e}); expected database_name, block_id, hash, last_transaction_commit_time, digest_time",
                n + 1
            ))
        })?;
        if d.hash_bytes().is_none() {
            return Err(SqlError::Digest(format!(
                "line {}: hash {:?} is not 0x followed by 64 hex digits",
                n + 1,
                d.hash
            )));
        }
        out.push(d);
    }
    Ok(out)
}

/// Now, as `YYYY-MM-DDTHH:MM:SS.fffffffZ` (SQL Server's datetime2(7) precision).
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond() / 100
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn field_names_and_hash_format_are_sql_servers() {
        let d = Digest {
            database_name: "bank".into(),
            block_id: 3,
            hash: format_hash(&Hash::new([0xab; 32])),
            last_transaction_commit_time: "2026-01-01T00:00:00.000Z".into(),
            digest_time: now_iso(),
        };
        let json = serde_json::to_value(&d).unwrap();
        for field in [
            "database_name",
            "block_id",
            "hash",
            "last_transaction_commit_time",
            "digest_time",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert!(d.hash.starts_with("0xABAB") && d.hash.len() == 66);
        assert_eq!(d.hash_bytes(), Some(Hash::new([0xab; 32])));
        assert_eq!(d.digest_time.len(), "2026-01-01T00:00:00.0000000Z".len());
        let line = serde_json::to_string(&d).unwrap();
        assert_eq!(
            parse_digests(&format!("{line}\n{line}\n")).unwrap().len(),
            2
        );
        assert_eq!(
            parse_digests(&serde_json::to_string_pretty(&d).unwrap()).unwrap(),
            vec![d]
        );
        assert!(parse_digests("{\"block_id\": 1}").is_err());
    }
}

//! Contract `console.*` output: where it goes and how much of it.
//!
//! Everything a contract writes with `console.*` is logged at debug level
//! under the target [`CONSOLE_TARGET`], which the `cairn` binary turns off
//! unless the operator names it (`CAIRN_LOG=cairn_contract::console=debug`):
//! a contract may print its transient inputs or private data, and what it
//! prints is its author's responsibility, so the peer's log does not carry
//! it by default.
//!
//! Invariants:
//! - one console call logs at most [`CONSOLE_CALL_BYTES`] bytes of the
//!   message, one invocation at most [`CONSOLE_INVOCATION_BYTES`] in all;
//!   a cut message says so, and once the invocation's budget is spent one
//!   line says that the rest is dropped;
//! - when the target is off nothing is formatted or copied (the built-in
//!   `console` asks [`enabled`] first).

use std::borrow::Cow;

/// The tracing target of contract console output.
pub const CONSOLE_TARGET: &str = "cairn_contract::console";

/// Bytes of one console call's message that reach the log.
pub const CONSOLE_CALL_BYTES: usize = 4 << 10;

/// Bytes of console output one invocation may log in all.
pub const CONSOLE_INVOCATION_BYTES: usize = 64 << 10;

/// Whether console output is logged at all (the target is enabled).
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: CONSOLE_TARGET, tracing::Level::DEBUG)
}

/// What one invocation has logged so far.
#[derive(Debug, Default)]
pub(crate) struct ConsoleBudget {
    used: usize,
    exhausted: bool,
}

impl ConsoleBudget {
    /// The text to log for `message`, cut to what this call and the
    /// invocation may still log; `None` once the budget is spent and said so.
    pub(crate) fn admit<'m>(&mut self, message: &'m str) -> Option<Cow<'m, str>> {
        if self.exhausted {
            return None;
        }
        let cap = CONSOLE_CALL_BYTES.min(CONSOLE_INVOCATION_BYTES - self.used);
        if cap == 0 {
            self.exhausted = true;
            return Some(Cow::Owned(format!(
                "[console output of this invocation reached {CONSOLE_INVOCATION_BYTES} bytes; \
                 the rest is dropped]"
            )));
        }
        if message.len() <= cap {
            self.used += message.len();
            return Some(Cow::Borrowed(message));
        }
        let mut cut = cap;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        self.used += cut;
        Some(Cow::Owned(format!(
            "{}… [truncated: {} of {} bytes shown; console output is capped at \
             {CONSOLE_CALL_BYTES} bytes per call and {CONSOLE_INVOCATION_BYTES} per invocation]",
            &message[..cut],
            cut,
            message.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_pass_whole_and_count() {
        let mut b = ConsoleBudget::default();
        assert_eq!(b.admit("hello").as_deref(), Some("hello"));
        assert_eq!(b.used, 5);
    }

    #[test]
    fn a_long_message_is_cut_at_the_per_call_cap_and_says_so() {
        let mut b = ConsoleBudget::default();
        let long = "x".repeat(CONSOLE_CALL_BYTES * 3);
        let line = b.admit(&long).unwrap();
        assert!(line.starts_with(&"x".repeat(CONSOLE_CALL_BYTES)));
        assert!(!line.contains(&"x".repeat(CONSOLE_CALL_BYTES + 1)));
        assert!(line.contains(&format!(
            "truncated: {CONSOLE_CALL_BYTES} of {} bytes",
            long.len()
        )));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut b = ConsoleBudget::default();
        // 3-byte characters: the cap falls inside one.
        let long = "€".repeat(CONSOLE_CALL_BYTES);
        let line = b.admit(&long).unwrap();
        let shown = line.split('…').next().unwrap();
        assert_eq!(shown.len(), CONSOLE_CALL_BYTES / 3 * 3);
        assert!(shown.chars().all(|c| c == '€'));
    }

    #[test]
    fn the_invocation_budget_ends_output_with_one_notice() {
        let mut b = ConsoleBudget::default();
        let chunk = "y".repeat(CONSOLE_CALL_BYTES);
        let calls = CONSOLE_INVOCATION_BYTES / CONSOLE_CALL_BYTES;
        for _ in 0..calls {
            assert_eq!(b.admit(&chunk).as_deref(), Some(chunk.as_str()));
        }
        let notice = b.admit("one more").unwrap();
        assert!(notice.contains("reached"), "{notice}");
        assert!(!notice.contains("one more"));
        assert_eq!(b.admit("and another"), None);
        assert_eq!(b.used, CONSOLE_INVOCATION_BYTES);
    }

    #[test]
    fn the_last_call_within_budget_is_cut_to_what_is_left() {
        let mut b = ConsoleBudget {
            used: CONSOLE_INVOCATION_BYTES - 10,
            exhausted: false,
        };
        let message = "z".repeat(100);
        let line = b.admit(&message).unwrap();
        assert!(line.starts_with(&"z".repeat(10)));
        assert!(!line.starts_with(&"z".repeat(11)));
        assert!(line.contains("truncated: 10 of 100 bytes"));
    }
}

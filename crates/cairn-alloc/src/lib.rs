//! The `cairn` binary's allocator: mimalloc, and the settings it runs with.
//!
//! Owns: the choice of allocator ([`Allocator`], installed by `cairn-cli` as
//! `#[global_allocator]`) and its tuning ([`configure`]). May use: `mimalloc`
//! and `libmimalloc-sys` only. This is the one crate of ours that wraps a C
//! API, so `unsafe` is denied here too and allowed only on the calls that
//! need it, each with the reason it is sound.
//!
//! Why tune at all: mimalloc returns freed memory to the kernel after
//! `purge_delay` (1 s by default), and the next allocation there faults it
//! back in; the kernel zeroes each such page, a whole transparent huge page
//! (2 MiB) at a time: 5 % of all node CPU in `perf` under `cairn bench`.
//! Keeping freed memory (`purge_delay = -1`) took node CPU per transaction to
//! 0.91–0.93 of the build before it in three duels (`scripts/duel.sh`); a
//! 10 s delay kept about a third of the cost, and huge pages off about half.
//! A process so keeps its peak heap; resident size under load is dominated
//! by redb's page cache either way (docs/network.md).
//!
//! Invariants:
//! - [`configure`] leaves the purge delay alone when `MIMALLOC_PURGE_DELAY`
//!   is in the environment, so an operator can trade the CPU back for
//!   memory without a rebuild;
//! - callers run [`configure`] before any other thread starts (mimalloc's
//!   option setters are not thread-safe); `cairn`'s `main` does, first.

/// The global allocator type `cairn-cli` installs.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (v3's `mi_option_e`, counted in
/// `mimalloc.h`; the crate exports no constant for it). The unit test
/// checks the index by its documented default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds before freed memory goes back to the kernel; -1 never.
pub const PURGE_DELAY_MS: i64 = -1;

/// Applies Cairn's allocator settings, unless the environment sets
/// `MIMALLOC_PURGE_DELAY` itself. Call it first thing in `main`, before any
/// thread starts.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` writes one entry of mimalloc's option table;
    // it is not thread-safe, and the contract above (called before any other
    // thread exists) rules out a concurrent reader or writer. The index is in
    // range: the test below checks it against mimalloc's own default.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}

/// The purge delay mimalloc uses now, in milliseconds (-1: never).
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reading an option is a load from mimalloc's table (its first
    // read also parses the environment, once, as mimalloc does at startup).
    #[allow(unsafe_code)]
    let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
    value as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Index 15 is mimalloc's purge delay (its documented default, 1,000
    /// ms, is what it reads before `configure`), and `configure` turns it
    /// off. The crate's only test, so nothing in this process touched the
    /// option before.
    #[test]
    fn configure_turns_the_purge_delay_off() {
        assert!(
            std::env::var_os("MIMALLOC_PURGE_DELAY").is_none(),
            "run this test without MIMALLOC_PURGE_DELAY in the environment"
        );
        assert_eq!(purge_delay_ms(), 1_000, "index 15 is not purge_delay");
        configure();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}

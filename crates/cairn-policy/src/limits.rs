//! Size limits that keep parsing and evaluation bounded on hostile input.

/// Deepest gate nesting accepted. Parsing, printing and evaluation recurse once
/// per level; real policies nest a handful of levels. Fabric's current parser
/// caps the whole expression at 10,000 nodes instead, so it accepts deeper (and
/// useless) nesting that we refuse.
pub const MAX_DEPTH: usize = 64;

/// Most principals accepted in one policy, in line with the 10,000-node cap of
/// Fabric's current parser (each principal is at least one node there).
pub const MAX_PRINCIPALS: usize = 10_000;

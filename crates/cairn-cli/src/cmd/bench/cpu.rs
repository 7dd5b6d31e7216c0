//! CPU time of processes and of the machine, from `/proc`: what the report's
//! "CPU per committed transaction" is computed from. Reading `/proc` needs no
//! privileges and no `unsafe`; a process that exited reads as `None`.

use std::time::Duration;

/// `AT_CLKTCK` in the auxiliary vector: the unit of `/proc` CPU times.
const AT_CLKTCK: usize = 17;

/// The kernel's clock ticks per second (`USER_HZ`), read from this process's
/// auxiliary vector; 100 (Linux's value on every common architecture) if it
/// cannot be read.
pub fn ticks_per_second() -> u64 {
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| auxv_value(&auxv, AT_CLKTCK))
        .filter(|t| *t > 0)
        .map_or(100, |t| t as u64)
}

/// The value of entry `key` in an auxiliary vector (native-endian
/// `usize` pairs, ended by `AT_NULL`).
fn auxv_value(auxv: &[u8], key: usize) -> Option<usize> {
    const W: usize = size_of::<usize>();
    auxv.chunks_exact(2 * W).find_map(|pair| {
        let (k, v) = pair.split_at(W);
        let k = usize::from_ne_bytes(k.try_into().ok()?);
        let v = usize::from_ne_bytes(v.try_into().ok()?);
        (k == key).then_some(v)
    })
}

/// User plus system CPU ticks a process has used (`utime + stime`), or
/// `None` if it does not exist (any more).
pub fn process_ticks(pid: i32) -> Option<u64> {
    parse_stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU ticks a thread of this process has used, or `None` if it ended.
pub fn thread_ticks(tid: i32) -> Option<u64> {
    parse_stat_ticks(&std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?)
}

/// The id of the calling thread (the first field of `/proc/thread-self/stat`).
pub fn current_tid() -> Option<i32> {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process's threads and context switches (voluntary plus involuntary,
/// of all its threads: a process's own `status` counts only its main one).
pub fn process_status(pid: i32) -> Option<(u64, u64)> {
    let (threads, _) = parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)?;
    let switches = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| parse_status(&s))
        .map(|(_, c)| c)
        .sum();
    Some((threads, switches))
}

fn parse_status(status: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .parse()
            .ok()
    };
    Some((
        field("Threads:")?,
        field("voluntary_ctxt_switches:")? + field("nonvoluntary_ctxt_switches:")?,
    ))
}

/// Fields 14 (`utime`) and 15 (`stime`) of a `/proc/<pid>/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted after its last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The whole machine's CPU ticks: (busy, total), from `/proc/stat`.
pub fn machine_ticks() -> Option<(u64, u64)> {
    parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_machine(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total.saturating_sub(idle), total))
}

/// CPU time of ticks at `hz` ticks per second.
pub fn to_duration(ticks: u64, hz: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / hz.max(1) as f64)
}

/// Processors this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (cairn (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 37 0 0 20 0 9 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat_ticks(line), Some(287));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_used_cpu() {
        // Spin until the kernel has charged at least one tick to us.
        let me = std::process::id() as i32;
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while process_ticks(me).unwrap_or(0) == 0 && start.elapsed() < Duration::from_secs(5) {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
        assert!(process_ticks(me).unwrap() > 0);
        assert!(ticks_per_second() >= 1);
    }

    #[test]
    fn status_gives_threads_and_context_switches() {
        let status = "Name:\tcairn\nThreads:\t7\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t30\n";
        assert_eq!(parse_status(status), Some((7, 150)));
        assert_eq!(parse_status("Name: x\n"), None);
        let (threads, _) = process_status(std::process::id() as i32).unwrap();
        assert!(threads >= 1);
        let tid = current_tid().unwrap();
        assert!(thread_ticks(tid).is_some());
    }

    #[test]
    fn auxv_lookup_finds_the_key() {
        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 4096usize), (AT_CLKTCK, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes());
            auxv.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(auxv_value(&auxv, AT_CLKTCK), Some(250));
        assert_eq!(auxv_value(&auxv, 99), None);
    }

    #[test]
    fn machine_line_splits_busy_and_idle() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_machine(stat), Some((160, 980)));
    }
}

//! What the measured phase cost: jsbench's own CPU time (user + system, from `getrusage`), each
//! server node's CPU time (`/proc/<pid>/stat`, when the node is a process of this host) and the
//! wall time between two points, read once at each end — nothing on the publisher's path.

use std::time::Instant;

/// CPU time this process has used so far (every thread), ns; `None` where the OS will not say.
pub fn process_cpu_ns() -> Option<u64> {
    // SAFETY: getrusage writes into the struct we hand it and reads nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    Some(ns(ru.ru_utime) + ns(ru.ru_stime))
}

/// CPU time (user + system) process `pid` has used so far, ns, from `/proc/<pid>/stat`.
pub fn pid_cpu_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (which may hold spaces, in parentheses): state is field 0,
    // utime 11 and stime 12, in clock ticks.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks * 1_000_000_000 / hz as u64)
}

/// The server nodes' CPU time over a stretch: each node's host pid and CPU time at the start.
#[derive(Debug, Clone)]
pub struct NodesSpan {
    start: Vec<Option<(u32, u64)>>,
    at: Instant,
}

impl NodesSpan {
    /// `pids[i]`: node `i`'s host pid, when it has one.
    pub fn start(pids: &[Option<u32>]) -> NodesSpan {
        NodesSpan {
            start: pids
                .iter()
                .map(|p| p.and_then(|pid| pid_cpu_ns(pid).map(|c| (pid, c))))
                .collect(),
            at: Instant::now(),
        }
    }

    /// Each node's CPU use in cores over the stretch; `None` for a node without a pid, or one
    /// that was replaced meanwhile (killed and started again: another pid).
    pub fn end(self, pids: &[Option<u32>]) -> Vec<Option<f64>> {
        let wall = self.at.elapsed().as_nanos() as f64;
        self.start
            .iter()
            .zip(pids)
            .map(|(s, now)| {
                let (pid, c0) = (*s)?;
                if *now != Some(pid) || wall <= 0.0 {
                    return None;
                }
                let c1 = pid_cpu_ns(pid)?;
                Some(c1.checked_sub(c0)? as f64 / wall)
            })
            .collect()
    }
}

/// A stretch of the run: started with [`Span::start`], measured with [`Span::end`].
#[derive(Debug, Clone, Copy)]
pub struct Span {
    cpu_ns: Option<u64>,
    at: Instant,
}

/// CPU and wall time of a span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub wall_ns: u64,
}

impl Span {
    pub fn start() -> Span {
        Span {
            cpu_ns: process_cpu_ns(),
            at: Instant::now(),
        }
    }

    pub fn end(self) -> Option<Usage> {
        let wall_ns = self.at.elapsed().as_nanos() as u64;
        let cpu_ns = process_cpu_ns()?.checked_sub(self.cpu_ns?)?;
        Some(Usage { cpu_ns, wall_ns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until this thread has used `ns` more CPU time. A fixed wall time would do too,
    /// except on a busy machine, where a spinning thread may get little of it: a fixed amount of
    /// CPU makes the figures below certain, however long it takes to get.
    fn burn_cpu(ns: u64) -> u64 {
        let thread_cpu_ns = || {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes into the struct we hand it and reads nothing else.
            let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
            assert_eq!(r, 0, "the thread's CPU clock");
            t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
        };
        let until = thread_cpu_ns() + ns;
        let mut x = 0u64;
        while thread_cpu_ns() < until {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        x
    }

    #[test]
    fn this_process_cpu_time_is_read_from_proc() {
        let me = std::process::id();
        let a = pid_cpu_ns(me).expect("/proc/self/stat");
        let span = NodesSpan::start(&[Some(me), None]);
        // Several clock ticks of CPU, so /proc's tick counts must move.
        let x = burn_cpu(60_000_000);
        let cores = span.end(&[Some(me), None]);
        assert!(x > 0 && pid_cpu_ns(me).unwrap() >= a);
        assert!(cores[0].unwrap() > 0.0, "{cores:?}");
        assert_eq!(cores[1], None);
        // A node replaced meanwhile (another pid) has no figure.
        let span = NodesSpan::start(&[Some(me)]);
        assert_eq!(span.end(&[Some(me + 1)]), vec![None]);
    }

    #[test]
    fn a_busy_span_uses_cpu_time() {
        let span = Span::start();
        let x = burn_cpu(50_000_000);
        let u = span.end().expect("getrusage on Linux");
        assert!(x > 0);
        // A thread cannot use more CPU than the wall time that passed; the process used at least
        // what this thread did (other tests' threads may add to it).
        assert!(u.wall_ns >= 50_000_000, "{u:?}");
        assert!(u.cpu_ns >= 10_000_000, "{u:?}");
    }
}

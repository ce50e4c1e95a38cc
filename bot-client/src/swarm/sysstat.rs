//! CPU and memory of a process from `/proc` (Linux): the bot process itself, so a report can say
//! when the bots were the bottleneck, and optionally the server (`--server-pid`).

use std::time::Instant;

/// `/proc` reports CPU times in USER_HZ ticks, fixed at 100 per second by the Linux ABI.
const USER_HZ: f64 = 100.0;

/// Samples one process's CPU usage between calls.
#[derive(Debug)]
pub struct CpuSampler {
    pid: Option<u32>,
    last: Option<(Instant, u64)>,
}

impl CpuSampler {
    /// Samples this process.
    pub fn this_process() -> Self {
        Self {
            pid: None,
            last: None,
        }
    }

    /// Samples process `pid`.
    pub fn process(pid: u32) -> Self {
        Self {
            pid: Some(pid),
            last: None,
        }
    }

    fn path(&self, file: &str) -> String {
        match self.pid {
            Some(pid) => format!("/proc/{pid}/{file}"),
            None => format!("/proc/self/{file}"),
        }
    }

    /// CPU used since the previous call, in percent of one core (200 = two cores busy). `None` on
    /// the first call, or when `/proc` cannot be read (not Linux, or the process is gone).
    pub fn sample(&mut self) -> Option<f64> {
        let ticks = cpu_ticks(&std::fs::read_to_string(self.path("stat")).ok()?)?;
        let now = Instant::now();
        let previous = self.last.replace((now, ticks));
        let (then, before) = previous?;
        let seconds = now.duration_since(then).as_secs_f64();
        (seconds > 0.0).then(|| (ticks.saturating_sub(before) as f64 / USER_HZ) / seconds * 100.0)
    }

    /// Resident memory, in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_kib(&std::fs::read_to_string(self.path("status")).ok()?).map(|kib| kib * 1024)
    }
}

/// utime + stime from the text of `/proc/PID/stat`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces; the fields after it start past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Cores this process may run on (respects `taskset` affinity).
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_the_name() {
        let stat = "1234 (tick storm) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 1000 200";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(rss_kib("Name:\tx\nVmRSS:\t  2048 kB\n"), Some(2048));
    }

    #[test]
    fn samples_this_process_on_linux() {
        let mut sampler = CpuSampler::this_process();
        if sampler.sample().is_none() && std::fs::metadata("/proc/self/stat").is_err() {
            return; // not Linux: nothing to sample
        }
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_millis() < 100 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let busy = sampler.sample().expect("second sample");
        assert!(
            busy > 20.0 && busy < 250.0,
            "a busy loop shows as CPU use: {busy}% ({x})"
        );
        assert!(sampler.rss_bytes().expect("rss") > 1024 * 1024);
    }
}

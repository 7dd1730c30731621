//! CPU time of a process, from `/proc/PID/stat` (proc(5)): user plus system time of all its threads; and
//! its resident memory, from `/proc/PID/status`.

use std::process::Command;

use anyhow::{bail, Context};

/// Clock ticks per second that `/proc` counts in (`sysconf(_SC_CLK_TCK)`, almost always 100).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// User and system CPU time of process `pid` so far, in seconds.
pub fn seconds(pid: u32, ticks_per_second: f64) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let Some((utime, stime)) = parse_stat(&text) else {
        bail!("{path}: unexpected format");
    };
    Ok((utime + stime) as f64 / ticks_per_second)
}

/// Resident set size of process `pid` in MiB (`VmRSS`), if it can be read.
pub fn resident_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss_kib(&text).map(|kib| kib as f64 / 1024.0)
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let after = &text[text.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: utime is the 12th of those, stime the 13th.
    let mut fields = after.split_ascii_whitespace().skip(11);
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_after_an_awkward_name() {
        let line =
            "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 567 0 0 20 0 5 0 99 \
                    1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(line), Some((1234, 567)));
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn parses_resident_size() {
        let status = "Name:\tsluice\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nThreads:\t3\n";
        assert_eq!(parse_rss_kib(status), Some(20480));
        assert_eq!(parse_rss_kib("Name:\tx\n"), None);
        assert!(resident_mib(std::process::id()).is_some_and(|m| m > 0.0));
    }

    #[test]
    fn own_process_has_cpu_time() -> anyhow::Result<()> {
        let ticks = clock_ticks();
        assert!(ticks >= 1.0);
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(seconds(std::process::id(), ticks)? >= 0.0);
        Ok(())
    }
}

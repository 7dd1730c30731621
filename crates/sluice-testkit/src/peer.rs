//! External programs run with a deadline: output captured line by line with arrival times, killed on
//! drop.

use std::io::{BufRead as _, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// One line of a child's output and when it was read.
#[derive(Clone, Debug)]
pub struct Line {
    /// When the line was read, as an offset from the spawn.
    pub at: Duration,
    /// The text without its line ending.
    pub text: String,
}

type Lines = Arc<Mutex<Vec<Line>>>;

/// A running external program. Killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Peer {
    name: String,
    child: Child,
    started: Instant,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Peer {
    /// Spawns `cmd` with stdin closed and stdout/stderr captured.
    ///
    /// Fails with a clear message when the program is not installed.
    pub fn spawn(mut cmd: Command) -> Result<Peer> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        require_tool(&program)?;
        let name = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("spawning {name}"))?;
        let stdout: Lines = Arc::default();
        let stderr: Lines = Arc::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, started, Arc::clone(&stdout)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, started, Arc::clone(&stderr)));
        }
        Ok(Peer {
            name,
            child,
            started,
            stdout,
            stderr,
            readers,
            status: None,
        })
    }

    /// The command line, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// When the process was spawned.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait().context("waiting for child")?;
        }
        Ok(self.status)
    }

    /// Waits until the process ends or `timeout` passes; `None` means it is still running.
    ///
    /// Once it has ended, all of its output has been collected.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                self.join_readers();
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (if still running) and collects the rest of its output.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            // It may have exited on its own in the meantime; either way `wait` reaps it.
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        self.join_readers();
    }

    /// Sends SIGTERM (lets ffmpeg finish its output and send TEARDOWN).
    pub fn terminate(&mut self) -> Result<()> {
        if self.try_status()?.is_none() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(self.pid().to_string())
                .status()
                .context("running kill -TERM")?;
            if !status.success() {
                bail!("kill -TERM {} failed: {status}", self.pid());
            }
        }
        Ok(())
    }

    /// Lines written to stdout so far.
    pub fn stdout_lines(&self) -> Vec<Line> {
        lock(&self.stdout).clone()
    }

    /// Lines written to stderr so far.
    pub fn stderr_lines(&self) -> Vec<Line> {
        lock(&self.stderr).clone()
    }

    /// The last `n` lines of stderr, joined, for error messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        tail(&lock(&self.stderr), n)
    }

    /// The last `n` lines of stdout, joined, for error messages.
    pub fn stdout_tail(&self, n: usize) -> String {
        tail(&lock(&self.stdout), n)
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            // A reader thread only ends by EOF; it cannot panic on its own.
            let _ = reader.join();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        // Reader threads end when the pipes close; don't block on a grandchild holding them.
    }
}

/// What a program run to completion left behind.
#[derive(Debug)]
pub struct Finished {
    /// The command line.
    pub name: String,
    /// The exit status; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// How long it ran.
    pub elapsed: Duration,
    /// Its stdout lines.
    pub stdout: Vec<Line>,
    /// Its stderr lines.
    pub stderr: Vec<Line>,
}

impl Finished {
    /// True when it exited on its own with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The last `n` lines of stderr, joined.
    pub fn stderr_tail(&self, n: usize) -> String {
        tail(&self.stderr, n)
    }
}

/// Runs `cmd` to completion, killing it after `timeout`.
pub fn run(cmd: Command, timeout: Duration) -> Result<Finished> {
    let mut peer = Peer::spawn(cmd)?;
    let status = peer.wait_timeout(timeout)?;
    if status.is_none() {
        peer.kill();
    }
    Ok(Finished {
        name: peer.name.clone(),
        status,
        elapsed: peer.started.elapsed(),
        stdout: peer.stdout_lines(),
        stderr: peer.stderr_lines(),
    })
}

/// Fails with an actionable message unless `program` is an executable on `PATH` (or a path to one).
pub fn require_tool(program: &str) -> Result<()> {
    let found = if program.contains('/') {
        std::path::Path::new(program).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    if !found {
        bail!(
            "required tool `{program}` is not installed; run scripts/install-test-deps.sh \
             (CI installs it through scripts/test.sh)"
        );
    }
    Ok(())
}

fn collect(pipe: impl Read + Send + 'static, started: Instant, lines: Lines) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let text = text.trim_end_matches(['\n', '\r']).to_owned();
                    lock(&lines).push(Line {
                        at: started.elapsed(),
                        text,
                    });
                }
            }
        }
    })
}

fn lock(lines: &Lines) -> std::sync::MutexGuard<'_, Vec<Line>> {
    lines.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tail(lines: &[Line], n: usize) -> String {
    let start = lines.len().saturating_sub(n);
    lines
        .get(start..)
        .unwrap_or_default()
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_captures_output_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = run(cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert_eq!(done.stdout.len(), 1);
        assert_eq!(done.stdout[0].text, "out");
        assert_eq!(done.stderr_tail(5), "err");
    }

    #[test]
    fn run_kills_at_deadline() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let done = run(cmd, Duration::from_millis(300)).unwrap();
        assert!(done.status.is_none());
        assert!(done.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn missing_tool_is_reported() {
        let err = require_tool("sluice-no-such-tool").unwrap_err();
        assert!(err.to_string().contains("install-test-deps.sh"), "{err}");
    }
}

//! Child processes: the test binary runs itself (`harness = false`, its own `main`) with
//! an environment variable naming the child's part.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process, killed when dropped (a failing parent leaves no child behind). Its
/// stdout lines arrive through a channel, so that waiting for one is bounded in time.
pub struct ChildGuard {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

/// Spawns this binary as a child with `envs` (stdin and stdout piped, stderr inherited).
pub fn spawn<K: AsRef<OsStr>, V: AsRef<OsStr>>(envs: &[(K, V)]) -> ChildGuard {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child process");
    let stdout = child.stdout.take().expect("piped");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    ChildGuard {
        child: Some(child),
        lines,
    }
}

impl ChildGuard {
    /// Reads the child's stdout until a line starting with `prefix`; returns its rest.
    /// Fails if the child exits first or `within` passes.
    pub fn wait_for_line(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the child printed no {prefix:?} line within {within:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the child exited before printing {prefix:?}")
                }
            }
        }
    }

    /// The child's stdin: closing it (dropping it) is how a parent asks a child to stop.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child
            .as_mut()
            .and_then(|child| child.stdin.take())
            .expect("stdin piped, taken once")
    }

    /// Waits for the child to exit, at most `within` (then it fails, and the drop kills
    /// the child).
    pub fn wait_exit(mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("alive");
        loop {
            if let Some(status) = child.try_wait().expect("child status") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the child and checks that it died of it.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("alive");
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reaped");
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

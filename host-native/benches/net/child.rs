//! The child processes of the benchmark: spawning them and their entry point.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::BoxError;

pub(crate) const CHILD_VAR: &str = "XF_NET_BENCH_CHILD";

/// A running child, its stdin and stdout, and the first line it printed.
pub(crate) struct Spawned {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub out: BufReader<ChildStdout>,
    pub line: String,
}

/// Runs this binary again as a child in `role`, and waits for its first line.
pub(crate) fn spawn(role: &str, envs: &[(&str, String)]) -> Result<Spawned, BoxError> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(CHILD_VAR, role);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    spawn_cmd(cmd)
}

/// Spawns `cmd` with piped stdin/stdout and waits for its first line.
pub(crate) fn spawn_cmd(mut cmd: Command) -> Result<Spawned, BoxError> {
    let mut child = cmd.stdout(Stdio::piped()).stdin(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().ok_or("child has no stdout")?;
    let stdin = child.stdin.take();
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.is_empty() {
        let status = child.wait()?;
        return Err(format!("child exited before it was ready ({status})").into());
    }
    Ok(Spawned { child, stdin, out, line: line.trim().to_string() })
}

impl Spawned {
    /// Closes the child's stdin, reads the rest of its output and waits for it.
    pub(crate) fn finish(mut self) -> Result<String, BoxError> {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.out.read_to_string(&mut rest)?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("child failed: {status}").into());
        }
        Ok(rest.trim().to_string())
    }
}

/// The child side.
pub(crate) fn run(role: &str) -> Result<(), BoxError> {
    match role {
        "tcp-recv" => crate::raw::child_tcp(),
        "iroh-recv" => crate::raw::child_iroh(),
        "xsp-serve" => crate::sync::child_serve(),
        "xsp-mem-serve" => crate::proto::child_serve(),
        #[cfg(feature = "tor")]
        "tor-raw-serve" => crate::tor::child_raw_serve(),
        other => Err(format!("unknown child role {other}").into()),
    }
}

//! Passwords for sealed archives: from a file (`--password-file`, `-` for stdin) or typed at
//! the terminal (`--password`), read from `/dev/tty` with echo off so that stdin and stdout stay
//! free for data, as `ssh` and `gpg` do.

use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use crate::error::CliError;

/// A password from `path` (`-`: standard input): its first line, without the line end.
pub fn from_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        io::stdin().lock().read_to_end(&mut bytes).map_err(|e| CliError::io("standard input", e))?;
    } else {
        bytes = std::fs::read(path).map_err(|e| CliError::io(path.display(), e))?;
    }
    Ok(first_line(&bytes).to_vec())
}

/// The bytes before the first line end (`\n` or `\r\n`).
fn first_line(bytes: &[u8]) -> &[u8] {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A password typed at the terminal after `prompt`; with `confirm`, typed twice (a new
/// password, which nobody can recover if mistyped).
pub fn prompt(prompt: &str, confirm: bool) -> Result<Vec<u8>, CliError> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| CliError::io("/dev/tty (--password needs a terminal; use --password-file)", e))?;
    let first = read_hidden(&tty, prompt)?;
    if confirm {
        let again = read_hidden(&tty, "Again: ")?;
        if again != first {
            return Err(CliError::io("password", io::Error::other("the two typed differ; nothing was written")));
        }
    }
    Ok(first)
}

/// Restores the terminal's settings when dropped (also if reading fails).
#[cfg(unix)]
struct EchoOff<'a> {
    tty: &'a std::fs::File,
    saved: libc::termios,
}

#[cfg(unix)]
impl<'a> EchoOff<'a> {
    fn new(tty: &'a std::fs::File) -> io::Result<EchoOff<'a>> {
        use std::os::fd::AsRawFd;
        let fd = tty.as_raw_fd();
        // SAFETY: `termios` is plain data; `tcgetattr` fills it for an open descriptor.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        quiet.c_lflag |= libc::ICANON;
        // SAFETY: as above; the settings are the terminal's own with echo off.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(EchoOff { tty, saved })
    }
}

#[cfg(unix)]
impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: restores what `tcgetattr` returned for the same descriptor.
        unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.saved) };
    }
}

/// Prints `prompt` on the terminal and reads one line with echo off.
fn read_hidden(tty: &std::fs::File, prompt: &str) -> Result<Vec<u8>, CliError> {
    let io_err = |e| CliError::io("/dev/tty", e);
    let mut out = tty;
    out.write_all(prompt.as_bytes()).and_then(|()| out.flush()).map_err(io_err)?;
    #[cfg(unix)]
    let echo = EchoOff::new(tty).map_err(io_err)?;
    let mut line = Vec::new();
    let read = io::BufReader::new(tty).read_until(b'\n', &mut line);
    #[cfg(unix)]
    drop(echo);
    let _ = out.write_all(b"\n");
    read.map_err(io_err)?;
    Ok(first_line(&line).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(first_line(b"pw\n"), b"pw");
        assert_eq!(first_line(b"pw\r\nmore"), b"pw");
        assert_eq!(first_line(b"no end"), b"no end");
        assert_eq!(first_line(b""), b"");
    }
}

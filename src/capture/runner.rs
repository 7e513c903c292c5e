//! Running the harness (under nsys or not): output to the run log, `TRACE {json}`
//! progress lines turned into a progress bar, stderr drained on its own thread so
//! the pipes cannot deadlock, and Ctrl-C passed to the child only — trace keeps
//! waiting so nsys can finish writing the report.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// Set when the user pressed Ctrl-C during a child run.
pub fn interrupted() -> bool {
    flag().load(Ordering::SeqCst)
}

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let handler_flag = Arc::clone(&flag);
        // The terminal sends SIGINT to the whole process group: the child gets it
        // too and stops cleanly; trace only records it and keeps waiting.
        let _ = ctrlc::set_handler(move || handler_flag.store(true, Ordering::SeqCst));
        flag
    })
}

/// Runs `argv`, appending its output to `log`; `on_event` gets each `TRACE` JSON.
pub fn run_logged(
    argv: &[String],
    log: &Path,
    envs: &[(String, String)],
    mut on_event: impl FnMut(&serde_json::Value),
) -> Result<ExitStatus> {
    flag();
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::Usage("empty command".into()))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(log, e))?;
    let file = Arc::new(Mutex::new(file));
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Tool(format!("cannot run {program}: {e}")))?;
    let stderr = child.stderr.take();
    let stderr_log = Arc::clone(&file);
    let drain = std::thread::spawn(move || {
        if let Some(mut stderr) = stderr {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut f) = stderr_log.lock() {
                    let _ = f.write_all(&buf[..n]);
                }
            }
        }
    });
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Ok(mut f) = file.lock() {
                let _ = writeln!(f, "{line}");
            }
            if let Some(json) = line.strip_prefix("TRACE ") {
                if let Ok(value) = serde_json::from_str(json) {
                    on_event(&value);
                }
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Tool(format!("waiting for {program}: {e}")))?;
    let _ = drain.join();
    Ok(status)
}

/// The last `n` lines of a log, for error messages.
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

//! Console output that a closed pipe never turns into a panic or a failure.
//!
//! `trace query … | head -1` closes stdout after one line; `trace ingest … 2>&1 |
//! head -1` closes stderr. Rust's `println!`/`eprintln!` panic on such a write, and
//! a writer's error would surface as a failed command. Here:
//! - [`stdout`] is a buffered standard output that remembers a broken pipe
//!   ([`closed`]); `main` then exits 0, printing nothing, whatever error the write
//!   became on its way up (an Arrow CSV error, an I/O error).
//! - [`say!`](crate::say) writes a line to stderr and ignores a failure: messages
//!   are for a person, and one who closed the pipe has stopped reading.
//!
//! Invariant: nothing in the crate writes to stdout or stderr except through here
//! (and `main`, which prints the one error).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// True once a write to [`stdout`] met a closed pipe.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Standard output, buffered; a broken pipe is recorded for [`closed`].
pub fn stdout() -> io::BufWriter<Guarded> {
    io::BufWriter::with_capacity(1 << 16, Guarded(io::stdout()))
}

/// Standard output that records a broken pipe.
pub struct Guarded(io::Stdout);

fn note(result: io::Result<usize>) -> io::Result<usize> {
    if let Err(e) = &result {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CLOSED.store(true, Ordering::Relaxed);
        }
    }
    result
}

impl Write for Guarded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        note(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        note(self.0.flush().map(|()| 0)).map(|_| ())
    }
}

/// Writes `text` and a newline to stderr, ignoring a failure (see the module docs).
pub fn say_line(text: std::fmt::Arguments) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(text);
    let _ = err.write_all(b"\n");
}

/// `eprintln!` that never panics: see [`say_line`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::console::say_line(format_args!($($arg)*))
    };
}

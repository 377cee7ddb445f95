//! Some plugins print (Guitarix reports its memory locking on stderr when
//! an instance is made and freed). On stdout that would corrupt `check
//! --json` or a WAV written to `-`, and on stderr it buries ohmpatch's own
//! words. So while an instance is made or freed the process's stdout and
//! stderr go to a scratch file, whose lines are then passed to the `log`
//! facade (target `lv2`): the editor's log shows them; the command line,
//! which installs no logger, drops them. Both happen on the control thread.

use std::io::{Read, Seek, Write};
use std::os::fd::FromRawFd;
use std::sync::Mutex;

pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static LOCK: Mutex<()> = Mutex::new(());
    let _only_one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: plain descriptor calls on fds this function owns; C's stdio
    // buffers are flushed before stdout and stderr are put back, so nothing
    // the plugin printed reaches them later.
    unsafe {
        let scratch = libc::tmpfile();
        let saved = [libc::dup(1), libc::dup(2)];
        if scratch.is_null() || saved.iter().any(|&s| s < 0) {
            for s in saved.into_iter().filter(|&s| s >= 0) {
                libc::close(s);
            }
            if !scratch.is_null() {
                libc::fclose(scratch);
            }
            return f();
        }
        let fd = libc::fileno(scratch);
        libc::dup2(fd, 1);
        libc::dup2(fd, 2);
        let r = f();
        libc::fflush(std::ptr::null_mut());
        libc::dup2(saved[0], 1);
        libc::dup2(saved[1], 2);
        libc::close(saved[0]);
        libc::close(saved[1]);
        let copy = libc::dup(fd);
        libc::fclose(scratch);
        let mut text = String::new();
        if copy >= 0 {
            let mut file = std::fs::File::from_raw_fd(copy);
            if file.rewind().is_ok() {
                let _ = Read::by_ref(&mut file)
                    .take(64 * 1024)
                    .read_to_string(&mut text);
            }
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            log::info!(target: "lv2", "{line}");
        }
        r
    }
}

//! A pseudo-terminal for one of the child's output streams, used when cm's own stream is a
//! terminal: the child's `isatty` stays true, so colours and progress bars survive masking
//! (the complaint users have about `op run`). The size is copied from cm's terminal at the
//! start and again on every SIGWINCH.
//!
//! Only output goes through it: the child keeps cm's stdin and controlling terminal, so what
//! it reads, and job control, are as without cm. Output post-processing is switched off on
//! the pseudo-terminal so bytes pass unchanged; cm's own terminal turns `\n` into `\r\n` once.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A pseudo-terminal pair mirroring the terminal on `tty`.
#[derive(Debug)]
pub(crate) struct Pty {
    master: OwnedFd,
    /// Dropped before reading: the master reads end-of-output only once no slave is open.
    slave: Option<OwnedFd>,
    /// cm's own terminal descriptor (1 or 2) whose size this one copies.
    tty: libc::c_int,
}

impl Pty {
    /// Opens a pair with the size of the terminal on `tty`.
    pub(crate) fn open(tty: libc::c_int) -> io::Result<Pty> {
        let (mut master, mut slave) = (-1, -1);
        let size = window_size(tty);
        // SAFETY: openpty writes two descriptors we then own; the termios and size pointers
        // are null or point at live values.
        let r = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                size.as_ref().map_or(std::ptr::null(), |s| s as *const _),
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptors from openpty.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        for fd in [&master, &slave] {
            // SAFETY: FD_CLOEXEC on our own descriptors, so no other child inherits them.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: termios read and written on our own slave descriptor.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
                t.c_oflag &= !libc::OPOST;
                libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
            }
        }
        Ok(Pty {
            master,
            slave: Some(slave),
            tty,
        })
    }

    /// A descriptor of the slave side for the child.
    pub(crate) fn slave(&self) -> io::Result<OwnedFd> {
        self.slave
            .as_ref()
            .ok_or_else(|| io::Error::other("the pseudo-terminal is already being read"))?
            .try_clone()
    }

    /// A handle for resizing (no slave).
    pub(crate) fn try_clone(&self) -> io::Result<Pty> {
        Ok(Pty {
            master: self.master.try_clone()?,
            slave: None,
            tty: self.tty,
        })
    }

    /// The master side to read the child's output from; cm's copy of the slave is closed.
    pub(crate) fn reader(self) -> std::fs::File {
        std::fs::File::from(self.master)
    }

    /// Copies the size of cm's terminal to this one (the kernel then sends the child SIGWINCH).
    pub(crate) fn copy_size(&self) {
        if let Some(size) = window_size(self.tty) {
            // SAFETY: TIOCSWINSZ reads the winsize we pass.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        }
    }
}

fn window_size(fd: libc::c_int) -> Option<libc::winsize> {
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn output_passes_unchanged_and_ends_when_the_slave_closes() {
        // A pseudo-terminal stands in for cm's terminal, with a size to copy.
        let outer = Pty::open(-1).unwrap();
        let size = libc::winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        unsafe { libc::ioctl(outer.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        let outer_slave = outer.slave().unwrap();

        let pty = Pty::open(outer_slave.as_raw_fd()).unwrap();
        let got = window_size(pty.slave.as_ref().unwrap().as_raw_fd()).unwrap();
        assert_eq!((got.ws_row, got.ws_col), (33, 101));

        let mut writer = std::fs::File::from(pty.slave().unwrap());
        assert_eq!(unsafe { libc::isatty(writer.as_raw_fd()) }, 1);
        writer.write_all(b"a\nb\x1b[31mred\x1b[0m\n").unwrap();
        drop(writer);
        let mut reader = pty.reader();
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(out, b"a\nb\x1b[31mred\x1b[0m\n");
    }
}

//! `cm retrieve --format gha` and `gha-output`: GitHub Actions workflow commands.
//!
//! Two outputs, built in memory before either is written: the `::add-mask::` commands that
//! make the runner conceal each value in the job's log ([`mask_commands`], for stdout), and the
//! file-command blocks that set environment variables or step outputs ([`file_commands`], for
//! the file `$GITHUB_ENV` or `$GITHUB_OUTPUT` names).
//!
//! The runner reads that file as lines: `NAME<<DELIMITER` opens a value, and the value is every
//! line up to the first line that is exactly `DELIMITER`, joined with newlines. There is no
//! escaping, so the delimiter is random (128 bits from the operating system's generator) and
//! drawn again in the practically impossible case that the value contains it. Values must be
//! UTF-8 (the runner reads text) and free of NUL (no environment variable can hold one).
//!
//! Like [`crate::output`], this module never puts a value into an error.

use std::io::Write;

use crate::output::{OutputError, Var, check_values};

/// Prefix of every delimiter, as the runner's own toolkit spells it, so a reader of the file
/// sees what the line is.
const DELIMITER_PREFIX: &str = "ghadelimiter_";

/// A fresh delimiter: [`DELIMITER_PREFIX`] and 32 hex digits from the system's random source.
pub(crate) fn random_delimiter() -> std::io::Result<String> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random source failed"))?;
    let mut out = String::from(DELIMITER_PREFIX);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    Ok(out)
}

/// The runner's escaping for a command's data: `%`, CR and LF.
fn escape_data(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '%' => out.extend_from_slice(b"%25"),
            '\r' => out.extend_from_slice(b"%0D"),
            '\n' => out.extend_from_slice(b"%0A"),
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Writes `::add-mask::LINE` for each line of each value (lines split at LF or CRLF, as the
/// runner masks log lines one by one). Blank lines are skipped: masking whitespace would
/// conceal every space of the log, and such a line gives nothing away.
///
/// Values must be UTF-8 and free of NUL; otherwise nothing is written.
pub(crate) fn mask_commands(vars: &[Var], w: &mut impl Write) -> Result<(), OutputError> {
    check_values(vars, true, true)?;
    let mut buf = Vec::new();
    for var in vars {
        let value = std::str::from_utf8(var.value.expose()).unwrap_or_default();
        for line in value.lines().filter(|l| !l.trim().is_empty()) {
            buf.extend_from_slice(b"::add-mask::");
            escape_data(line, &mut buf);
            buf.push(b'\n');
        }
    }
    w.write_all(&buf)?;
    Ok(())
}

/// Writes one `NAME<<DELIMITER\nVALUE\nDELIMITER\n` block per variable, each with a delimiter
/// from `delimiter` that does not occur in the value.
///
/// Values must be UTF-8 and free of NUL; otherwise nothing is written. The blocks are handed to
/// `w` in one `write_all`, so a file opened for appending gets them in one write.
pub(crate) fn file_commands(
    vars: &[Var],
    delimiter: &mut dyn FnMut() -> std::io::Result<String>,
    w: &mut impl Write,
) -> Result<(), OutputError> {
    check_values(vars, true, true)?;
    let mut buf = Vec::new();
    for var in vars {
        let value = var.value.expose();
        let delim = loop {
            let d = delimiter()?;
            if !contains(value, d.as_bytes()) {
                break d;
            }
        };
        buf.extend_from_slice(var.name.as_bytes());
        buf.extend_from_slice(b"<<");
        buf.extend_from_slice(delim.as_bytes());
        buf.push(b'\n');
        buf.extend_from_slice(value);
        buf.push(b'\n');
        buf.extend_from_slice(delim.as_bytes());
        buf.push(b'\n');
    }
    w.write_all(&buf)?;
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn var(name: &str, value: &[u8]) -> Var {
        Var::new(name, Secret::new(value.to_vec()), format!("X://{name}"))
    }

    #[test]
    fn masks_every_non_blank_line_escaped() {
        let mut out = Vec::new();
        mask_commands(
            &[
                var("A", b"p%w"),
                var("B", b"l1\r\nl2\n\n  \nx\ry\n"),
                var("C", b""),
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::add-mask::p%25w\n::add-mask::l1\n::add-mask::l2\n::add-mask::x%0Dy\n"
        );
    }

    #[test]
    fn escapes_data() {
        let mut out = Vec::new();
        escape_data("a%b\rc\nd%0A", &mut out);
        assert_eq!(out, b"a%25b%0Dc%0Ad%250A");
    }

    #[test]
    fn blocks_with_fresh_delimiters_avoiding_the_value() {
        let mut next = ["D1", "D2", "D3", "D4"].into_iter();
        let mut delim = || Ok(next.next().unwrap().to_string());
        let mut out = Vec::new();
        file_commands(
            &[
                var("A", b"x\ny\n"),
                var("B", b"has D2 in it"),
                var("E", b""),
            ],
            &mut delim,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A<<D1\nx\ny\n\nD1\nB<<D3\nhas D2 in it\nD3\nE<<D4\n\nD4\n"
        );
    }

    #[test]
    fn refuses_nul_and_non_utf8_and_writes_nothing() {
        let mut out = Vec::new();
        let mut delim = || Ok("D".to_string());
        assert!(matches!(
            file_commands(&[var("A", b"a\0b")], &mut delim, &mut out),
            Err(OutputError::NulInValue(_))
        ));
        assert!(matches!(
            mask_commands(&[var("A", b"\xff")], &mut out),
            Err(OutputError::NotUtf8(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn random_delimiters_differ() {
        let a = random_delimiter().unwrap();
        let b = random_delimiter().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), DELIMITER_PREFIX.len() + 32);
        assert!(a.starts_with(DELIMITER_PREFIX));
    }
}

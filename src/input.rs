//! The input side of a run: reading a file or stdin, `-e` expansion, scanning, and parsing
//! `--token` flags, with every problem turned into an `InputProblem` that carries the input's
//! name and position (or the flag's number).

use std::io::{self, Read};
use std::os::fd::AsFd;

use crate::config::Config;
use crate::envsubst::EnvsubstError;
use crate::error::{Error, InputProblem};
use crate::grammar::Grammar;
use crate::scan::{Token, scan};

/// The name messages use for an input argument: `<stdin>` for `-`.
pub(crate) fn input_name(arg: &str) -> String {
    if arg == "-" {
        "<stdin>".to_string()
    } else {
        arg.to_string()
    }
}

/// An input's bytes: read into memory, or mapped from the file.
pub(crate) enum Text {
    /// Read (small files, pipes, terminals, `string-input` text, `-e` output).
    Owned(Vec<u8>),
    /// A regular file of at least [`MAP_AT_LEAST`] bytes, mapped read-only: no copy and no
    /// page faults on a fresh buffer, which were most of `cm scan`'s time on a 16 MiB file. The
    /// output is always written through a temp file and a rename, so even `-i F -p F` never
    /// writes into the mapped file. Another process truncating the file while cm reads it would
    /// end cm with SIGBUS before anything is written, the same all-or-nothing outcome as any
    /// other failed run.
    Mapped(memmap2::Mmap),
}

/// Files smaller than this are read: mapping costs more than copying a few pages.
const MAP_AT_LEAST: u64 = 1 << 20;

impl std::ops::Deref for Text {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Text::Owned(bytes) => bytes,
            Text::Mapped(map) => map,
        }
    }
}

impl From<Vec<u8>> for Text {
    fn from(bytes: Vec<u8>) -> Text {
        Text::Owned(bytes)
    }
}

/// Reads a file or stdin whole. A large regular file (also stdin redirected from one) is mapped;
/// anything else is read into a buffer sized from the file's length where there is one, so a
/// large input is never regrown.
pub(crate) fn read_input(arg: &str) -> Result<Text, Error> {
    let read = || -> io::Result<Text> {
        let mut file = if arg == "-" {
            std::fs::File::from(io::stdin().as_fd().try_clone_to_owned()?)
        } else {
            std::fs::File::open(arg)?
        };
        let len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        if len.is_some_and(|n| n >= MAP_AT_LEAST) {
            // SAFETY: the map is read-only and private to this process; the one hazard, another
            // process truncating the file, is described on `Text::Mapped`.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            return Ok(Text::Mapped(map));
        }
        // One byte more than the length, so `read_to_end` sees the end without growing.
        let hint = len.map_or(0, |n| usize::try_from(n).unwrap_or(0).saturating_add(1));
        let mut buf = Vec::with_capacity(hint);
        file.read_to_end(&mut buf)?;
        Ok(Text::Owned(buf))
    };
    read().map_err(|source| Error::Input {
        name: input_name(arg),
        source,
    })
}

/// `-e`: expands the input, or reports every problem found in it with its position.
pub(crate) fn expand(config: &Config, name: &str, input: Text) -> Result<Text, Error> {
    if !config.envsubst {
        return Ok(input);
    }
    crate::envsubst::expand(&input, |var| config.env_var(var))
        .map(Text::Owned)
        .map_err(|errors| {
            Error::Invalid(
                errors
                    .0
                    .into_iter()
                    .map(|error| InputProblem::Envsubst {
                        input: name.to_string(),
                        error,
                    })
                    .collect(),
            )
        })
}

/// `-e`: expands the input, or returns every problem found in it.
pub(crate) fn try_expand(config: &Config, input: Vec<u8>) -> Result<Vec<u8>, Vec<EnvsubstError>> {
    if !config.envsubst {
        return Ok(input);
    }
    crate::envsubst::expand(&input, |var| config.env_var(var)).map_err(|e| e.0)
}

/// Scans, or reports every malformed token with its position.
pub(crate) fn scan_checked(
    grammar: &Grammar,
    name: &str,
    input: &[u8],
) -> Result<Vec<Token>, Error> {
    let found = scan(grammar, input);
    if !found.errors.is_empty() {
        return Err(Error::Invalid(
            found
                .errors
                .into_iter()
                .map(|error| InputProblem::Scan {
                    input: name.to_string(),
                    error,
                })
                .collect(),
        ));
    }
    Ok(found.tokens)
}

/// Parses each `--token`, which must be exactly one token; every problem of every flag is
/// reported.
pub(crate) fn parse_flags(
    config: &Config,
    grammar: &Grammar,
    args: &[String],
) -> Result<Vec<(Vec<u8>, Token)>, Error> {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let flag = i + 1;
        let input = match try_expand(config, arg.clone().into_bytes()) {
            Ok(input) => input,
            Err(errors) => {
                problems.extend(errors.into_iter().map(|e| InputProblem::FlagEnvsubst {
                    flag,
                    arg: arg.clone(),
                    kind: e.kind,
                }));
                continue;
            }
        };
        let mut found = scan(grammar, &input);
        if !found.errors.is_empty() {
            problems.push(InputProblem::FlagScan {
                flag,
                error: found.errors.swap_remove(0),
            });
            continue;
        }
        match found.tokens.as_slice() {
            [t] if t.span.start == 0 && t.span.end == input.len() => {
                let token = t.clone();
                parsed.push((input, token));
            }
            _ => problems.push(InputProblem::NotAToken {
                flag,
                arg: arg.clone(),
                token_separator: grammar.token_separator().to_string(),
                key_separator: grammar.key_separator(),
                prefixes: grammar.prefixes().map(str::to_string).collect(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(Error::Invalid(problems))
    }
}

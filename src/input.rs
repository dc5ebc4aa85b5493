//! The input side of a run: reading a file or stdin, `-e` expansion, scanning, and parsing
//! `--token` flags, with every problem turned into an `InputProblem` that carries the input's
//! name and position (or the flag's number).

use std::io::{self, Read};

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

/// Reads a file or stdin whole, into a buffer sized from the file's length where there is one
/// (a file, or stdin redirected from a file), so a large input is read without regrowing.
pub(crate) fn read_input(arg: &str) -> Result<Vec<u8>, Error> {
    let read = || -> io::Result<Vec<u8>> {
        if arg != "-" {
            return std::fs::read(arg);
        }
        let mut stdin = io::stdin().lock();
        let mut buf = Vec::with_capacity(stdin_len_hint());
        stdin.read_to_end(&mut buf)?;
        Ok(buf)
    };
    read().map_err(|source| Error::Input {
        name: input_name(arg),
        source,
    })
}

/// The size of stdin when it is a regular file (`cm scan < big.yaml`), plus one byte so
/// `read_to_end` sees the end without growing; 0 for pipes and terminals.
fn stdin_len_hint() -> usize {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let file = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from);
        if let Ok(meta) = file.and_then(|f| f.metadata())
            && meta.is_file()
        {
            return usize::try_from(meta.len()).map_or(0, |n| n.saturating_add(1));
        }
    }
    0
}

/// `-e`: expands the input, or reports every problem found in it with its position.
pub(crate) fn expand(config: &Config, name: &str, input: Vec<u8>) -> Result<Vec<u8>, Error> {
    try_expand(config, input).map_err(|errors| {
        Error::Invalid(
            errors
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

//! `cm exec`: run a command with the tokens in its environment resolved.
//!
//! The variables come from cm's own environment, then each `--env-file` in order, then each
//! `--env` (a later definition of a name wins). Tokens anywhere in their values are found by
//! the same scanner as `insert`, resolved by the same resolver (every failure listed, `--lax`
//! as elsewhere, every plugin shut down before this returns), and spliced in. Only then does
//! the command start: [`child::replace`] makes cm become it (`--no-masking`), and
//! [`child::supervise`] runs it under cm with its output masked ([`mask`]), on a pseudo-terminal
//! where cm's own output is a terminal ([`pty`]).

mod child;
pub(crate) mod dotenv;
mod mask;
mod pty;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::cli::ExecArgs;
use crate::config::Config;
use crate::error::{Error, InputProblem, Variable, VariableSource};
use crate::grammar::Grammar;
use crate::resolve::{Located, Location, Resolver};
use crate::scan::{Token, scan};
use crate::signals::Signals;

/// One variable the command gets, before its tokens are resolved.
struct Var {
    origin: Variable,
    value: Vec<u8>,
    tokens: Vec<Token>,
    /// Set by cm (`--env-file`, `--env`) rather than inherited.
    defined: bool,
}

/// Runs `cm exec`; returns the command's exit status (128+N for a signal).
pub(crate) async fn exec(
    config: &Config,
    signals: &Signals,
    grammar: &Grammar,
    resolver: Resolver<'_>,
    args: &ExecArgs,
) -> Result<i32, Error> {
    let mut vars = variables(config, args)?;
    let mut problems = Vec::new();
    for var in &mut vars {
        let found = scan(grammar, &var.value);
        problems.extend(
            found
                .errors
                .into_iter()
                .map(|error| InputProblem::VariableScan {
                    variable: var.origin.clone(),
                    error,
                }),
        );
        var.tokens = found.tokens;
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }

    let located: Vec<Located> = vars
        .iter()
        .flat_map(|var| {
            var.tokens.iter().map(move |token| Located {
                input: &var.value,
                token,
                location: Location::Variable(&var.origin),
            })
        })
        .collect();
    let values = resolver.resolve(signals, &located).await?;

    // Splice the values in, and keep them for the mask.
    let mut values = values.into_iter();
    let mut env: Vec<(OsString, OsString)> = Vec::with_capacity(vars.len());
    let mut secrets = Vec::new();
    let mut short = Vec::new();
    for var in &vars {
        let resolved: Vec<_> = var.tokens.iter().zip(values.by_ref()).collect();
        for (_, value) in &resolved {
            if let Some(value) = value {
                if value.len() < mask::MIN_LEN && !args.no_masking {
                    short.push(var.origin.name.clone());
                }
                secrets.push(value.clone());
            }
        }
        let has_tokens = !var.tokens.is_empty();
        if args.pristine && !var.defined && !has_tokens && var.origin.name != "PATH" {
            continue;
        }
        let value = if has_tokens {
            crate::render::render(
                &var.value,
                resolved
                    .iter()
                    .filter_map(|(t, v)| v.as_ref().map(|v| (t.span, v.expose()))),
            )
        } else {
            var.value.clone()
        };
        env.push((var.origin.name.clone().into(), OsString::from_vec(value)));
    }
    short.dedup();
    if !short.is_empty() {
        tracing::warn!(
            "values shorter than {} bytes are not masked: {}",
            mask::MIN_LEN,
            short.join(", ")
        );
    }

    let command = child::Command {
        program: args.command[0].clone(),
        args: args.command[1..].to_vec(),
        env,
    };
    if args.no_masking {
        return Err(child::replace(command));
    }
    let patterns = mask::Patterns::new(secrets.iter().map(|s| s.expose()));
    child::supervise(command, patterns)
}

/// Every variable the command may get, in definition order; later ones win over earlier ones
/// of the same name, which are dropped.
fn variables(config: &Config, args: &ExecArgs) -> Result<Vec<Var>, Error> {
    let mut vars: Vec<Var> = Vec::new();
    let set = |vars: &mut Vec<Var>, origin: Variable, value: Vec<u8>, defined: bool| {
        vars.retain(|v| v.origin.name != origin.name);
        vars.push(Var {
            origin,
            value,
            tokens: Vec::new(),
            defined,
        });
    };
    for (name, value) in &config.env {
        // A name that is not UTF-8 cannot be named in a message; it is passed on untouched
        // (unless --pristine), never scanned.
        let Some(name) = name.to_str() else { continue };
        let origin = Variable {
            name: name.to_string(),
            source: VariableSource::Environment,
        };
        set(&mut vars, origin, value.as_bytes().to_vec(), false);
    }
    let mut problems = Vec::new();
    for path in &args.env_files {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Input {
            name: shown.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Input {
            name: shown.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        })?;
        let lookup = |name: &str| {
            vars.iter()
                .rev()
                .find(|v| v.origin.name == name)
                .map(|v| String::from_utf8_lossy(&v.value).into_owned())
        };
        match dotenv::parse(&text, &lookup) {
            Ok(entries) => {
                for e in entries {
                    let origin = Variable {
                        name: e.name,
                        source: VariableSource::EnvFile {
                            path: shown.clone(),
                            line: e.line,
                        },
                    };
                    set(&mut vars, origin, e.value.into_bytes(), true);
                }
            }
            Err(error) => problems.push(InputProblem::EnvFile { path: shown, error }),
        }
    }
    for (i, arg) in args.env.iter().enumerate() {
        let flag = i + 1;
        match arg.as_bytes().iter().position(|&b| b == b'=') {
            Some(eq) if dotenv_name(&arg.as_bytes()[..eq]) => {
                let name = String::from_utf8_lossy(&arg.as_bytes()[..eq]).into_owned();
                let origin = Variable {
                    name,
                    source: VariableSource::EnvFlag(flag),
                };
                set(&mut vars, origin, arg.as_bytes()[eq + 1..].to_vec(), true);
            }
            eq => problems.push(InputProblem::EnvFlag {
                flag,
                // Only the name part is shown: what follows `=` may be a value, not a token.
                name: eq.map(|eq| String::from_utf8_lossy(&arg.as_bytes()[..eq]).into_owned()),
            }),
        }
    }
    if problems.is_empty() {
        Ok(vars)
    } else {
        Err(Error::Invalid(problems))
    }
}

fn dotenv_name(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(dotenv::valid_name)
}

/// `OsStr` of a program name, for messages.
fn shown(program: &OsStr) -> String {
    program.to_string_lossy().into_owned()
}

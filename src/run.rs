//! The dispatcher: one way per subcommand, read input -> (envsubst) -> scan -> resolve ->
//! render or format -> write. Each stage lives in its own module (`input`, `resolve`,
//! `render`, `output`, `report`); this one only wires them and writes the result.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::builtin::builtins;
use crate::cli::{
    Cli, Command, InitArgs, PluginCommand, PluginInstallArgs, RetrieveArgs, RetrieveFormat,
    ScanArgs, ScanFormat, Target,
};
use crate::config::Config;
use crate::error::{Error, K8sNameKind, UsageError};
use crate::grammar::Grammar;
use crate::input::{Text, expand, input_name, parse_flags, read_input, scan_checked};
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::provider::Registry;
use crate::resolve::{Located, Location, Resolver};
use crate::signals::Signals;
use crate::yaml::SecretMeta;

/// Runs one command line. Returns the exit status (0, or `cm exec`'s command's), or the error
/// to print, whose `exit_code()` is the process's.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let config = Config::from_cli(&cli.global)?;
    crate::logging::init(&config.log);
    // One thread: cm's work is I/O-bound, and driving thousands of calls from the thread that
    // also runs the HTTP/2 connections avoids cross-thread wake-ups (benches/host.rs measured
    // about 45% less CPU per call than a multi-thread runtime). Plugins are also spawned from
    // this thread, which lives as long as cm, so their PR_SET_PDEATHSIG never fires early.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(UsageError::Runtime)?;
    runtime.block_on(async move {
        let signals = Signals::install();
        if let Command::Exec(args) = &cli.command {
            let registry = registry(&config);
            let grammar = grammar(&config, &registry);
            let resolver = resolver(&config, &registry);
            return crate::exec::exec(&config, &signals, &grammar, resolver, args).await;
        }
        match cli.command {
            Command::Scan(args) => scan_command(&config, &args),
            Command::Insert(args) => {
                let input = read_input(&args.input)?;
                let name = input_name(&args.input);
                text_command(&config, &signals, &name, input, Target::parse(&args.path)).await
            }
            Command::StringInput(args) => {
                // configmanager's rule: `-` is stdin, an existing file is read, else the text itself.
                let (name, input) = if args.input == "-" || Path::new(&args.input).is_file() {
                    (input_name(&args.input), read_input(&args.input)?)
                } else {
                    (
                        "<input>".to_string(),
                        args.input.clone().into_bytes().into(),
                    )
                };
                text_command(&config, &signals, &name, input, Target::parse(&args.path)).await
            }
            Command::Retrieve(args) => {
                let how = retrieve_output(&config, &args)?;
                retrieve_command(&config, &signals, &args.tokens, how).await
            }
            Command::Plugin(PluginCommand::Install(args)) => plugin_install(&config, &args),
            Command::Plugin(PluginCommand::List) => plugin_list(&config),
            Command::Init(args) => init_command(&config, &args),
            Command::Completion(args) => {
                write_output(&Target::Stdout, &crate::cli::completion_script(args.shell))
            }
            Command::Exec(_) => unreachable!("handled above"),
        }
        .map(|()| 0)
    })
}

/// Every prefix this run can serve, found once: plugins on disk (which win), then the
/// built-ins.
fn registry(config: &Config) -> Registry {
    Registry::new(config.search.discover(), builtins(&config.env, &config.cwd))
}

/// The grammar with every prefix this run can serve: configmanager's seven and the registry's.
fn grammar(config: &Config, registry: &Registry) -> Grammar {
    config.grammar.clone().with_prefixes(registry.prefixes())
}

fn resolver<'a>(config: &'a Config, registry: &'a Registry) -> Resolver<'a> {
    Resolver {
        registry,
        search: &config.search,
        host: config.host,
        require_lock: config.require_lock,
        cache_dir: config.cache_dir.as_deref(),
        lax: config.lax,
        env: &config.env,
    }
}

fn scan_command(config: &Config, args: &ScanArgs) -> Result<(), Error> {
    let name = input_name(&args.input);
    let input = expand(config, &name, read_input(&args.input)?)?;
    let grammar = grammar(config, &registry(config));
    let tokens = scan_checked(&grammar, &name, &input)?;
    let (plan, _) = Plan::from_tokens(&input, &tokens);
    to_stdout(|w| match args.format {
        ScanFormat::Json => crate::report::scan_json(w, &input, &tokens, &plan),
        ScanFormat::Text => crate::report::scan_text(w, &name, &input, &tokens, &plan),
    })
}

/// `insert` and `string-input`: replace every token in the text.
async fn text_command(
    config: &Config,
    signals: &Signals,
    name: &str,
    input: Text,
    target: Target,
) -> Result<(), Error> {
    let input = expand(config, name, input)?;
    let registry = registry(config);
    let tokens = scan_checked(&grammar(config, &registry), name, &input)?;
    let located: Vec<Located> = tokens
        .iter()
        .map(|token| Located {
            input: &input,
            token,
            location: Location::Input(name),
        })
        .collect();
    let values = resolver(config, &registry)
        .resolve(signals, &located)
        .await?;
    let output = crate::render::render(
        &input,
        tokens
            .iter()
            .zip(&values)
            .filter_map(|(t, v)| v.as_ref().map(|v| (t.span, v.expose()))),
    );
    write_output(&target, &output)
}

/// What `retrieve` writes, and where; settled from the flags before anything is fetched.
enum RetrieveOutput {
    /// export, dotenv or json, replacing the target.
    Vars(Format, Target),
    /// A flat YAML map, replacing the target.
    Yaml(Target),
    /// A Kubernetes Secret manifest, replacing the target.
    K8sSecret(SecretMeta, Target),
    /// GitHub Actions: mask commands on stdout, blocks appended to the target.
    Gha(Target),
}

fn retrieve_output(config: &Config, args: &RetrieveArgs) -> Result<RetrieveOutput, UsageError> {
    let is_k8s = args.format == RetrieveFormat::K8sSecret;
    for (flag, given) in [
        ("--name", args.name.is_some()),
        ("--namespace", args.namespace.is_some()),
    ] {
        if given && !is_k8s {
            return Err(UsageError::FlagNeedsFormat {
                flag,
                format: "k8s-secret",
            });
        }
    }
    let target = || Target::parse(args.path.as_deref().unwrap_or(RetrieveArgs::DEFAULT_PATH));
    let gha = |format: &'static str, var: &'static str| {
        if let Some(path) = &args.path {
            return Ok(RetrieveOutput::Gha(Target::parse(path)));
        }
        config
            .env
            .iter()
            .find(|(k, v)| k == var && !v.is_empty())
            .map(|(_, v)| RetrieveOutput::Gha(Target::File(v.into())))
            .ok_or(UsageError::NoGithubFile { format, var })
    };
    Ok(match args.format {
        RetrieveFormat::Export => RetrieveOutput::Vars(Format::Export, target()),
        RetrieveFormat::Dotenv => RetrieveOutput::Vars(Format::Dotenv, target()),
        RetrieveFormat::Json => RetrieveOutput::Vars(Format::Json, target()),
        RetrieveFormat::Yaml => RetrieveOutput::Yaml(target()),
        RetrieveFormat::K8sSecret => {
            let name = args.name.clone().ok_or(UsageError::FormatNeedsFlag {
                format: "k8s-secret",
                flag: "--name",
            })?;
            let checks = [
                ("--name", Some(&name), K8sNameKind::Subdomain),
                ("--namespace", args.namespace.as_ref(), K8sNameKind::Label),
            ];
            for (flag, value, kind) in checks {
                if let Some(value) = value.filter(|v| !crate::yaml::valid_k8s_name(v, kind)) {
                    return Err(UsageError::K8sName {
                        flag,
                        value: value.clone(),
                        kind,
                    });
                }
            }
            let meta = SecretMeta {
                name,
                namespace: args.namespace.clone(),
            };
            RetrieveOutput::K8sSecret(meta, target())
        }
        RetrieveFormat::Gha => gha("gha", "GITHUB_ENV")?,
        RetrieveFormat::GhaOutput => gha("gha-output", "GITHUB_OUTPUT")?,
    })
}

/// `retrieve`: one variable per token (or per key of a JSON-object value), in flag order.
async fn retrieve_command(
    config: &Config,
    signals: &Signals,
    args: &[String],
    how: RetrieveOutput,
) -> Result<(), Error> {
    let registry = registry(config);
    let grammar = grammar(config, &registry);
    let parsed = parse_flags(config, &grammar, args)?;
    let located: Vec<Located> = parsed
        .iter()
        .enumerate()
        .map(|(i, (input, token))| Located {
            input,
            token,
            location: Location::Flag(i + 1),
        })
        .collect();
    let values = resolver(config, &registry)
        .resolve(signals, &located)
        .await?;
    let key_separator = grammar.key_separator();
    let mut vars = Vec::new();
    for ((input, token), value) in parsed.iter().zip(&values) {
        let Some(value) = value else { continue };
        let name = output::var_name(token.path(input), token.key_path(input), key_separator);
        vars.extend(output::vars_for_token(
            name,
            value,
            &String::from_utf8_lossy(token.text(input)),
            key_separator,
        ));
    }
    let vars = output::collect(vars)?;
    let mut out = Vec::new();
    let target = match how {
        RetrieveOutput::Vars(format, target) => {
            output::write(format, &vars, &mut out)?;
            target
        }
        RetrieveOutput::Yaml(target) => {
            crate::yaml::write_map(&vars, &mut out)?;
            target
        }
        RetrieveOutput::K8sSecret(meta, target) => {
            crate::yaml::write_k8s_secret(&meta, &vars, &mut out)?;
            target
        }
        RetrieveOutput::Gha(target) => {
            crate::gha::mask_commands(&vars, &mut out)?;
            let mut blocks = Vec::new();
            crate::gha::file_commands(&vars, &mut crate::gha::random_delimiter, &mut blocks)?;
            // The masks go first, so the runner conceals the values before they exist anywhere
            // a later step could print them from.
            return match target {
                Target::Stdout => {
                    out.extend_from_slice(&blocks);
                    write_output(&Target::Stdout, &out)
                }
                Target::File(path) => {
                    // Unlike other output, a closed stdout is a failure here: without the masks
                    // reaching the runner the values must not reach the file.
                    let mut stdout = io::stdout().lock();
                    stdout
                        .write_all(&out)
                        .and_then(|()| stdout.flush())
                        .map_err(|source| Error::Output {
                            name: "stdout".into(),
                            source,
                        })?;
                    append(&path, &blocks)
                }
            };
        }
    };
    write_output(&target, &out)
}

/// Appends `bytes` to `path` in one write (GitHub's file commands are append-only files that
/// earlier steps may have written to), creating it with mode 0600 if it does not exist.
fn append(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(crate::atomic::NEW_FILE_MODE)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| Error::Output {
            name: path.display().to_string(),
            source,
        })
}

/// Writes a report to a locked, buffered stdout. A closed pipe (`cm scan | head`) is the
/// reader's choice, not our failure.
fn to_stdout(
    report: impl FnOnce(&mut BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
) -> Result<(), Error> {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    match report(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|source| Error::Output {
            name: "stdout".into(),
            source,
        }),
    }
}

/// Writes the result: to stdout, or atomically to a file (only ever after every token resolved).
fn write_output(target: &Target, bytes: &[u8]) -> Result<(), Error> {
    match target {
        Target::Stdout => to_stdout(|w| w.write_all(bytes)),
        Target::File(path) => {
            crate::atomic::write_atomic(path, bytes).map_err(|source| Error::Output {
                name: path.display().to_string(),
                source,
            })
        }
    }
}

/// The folder `cm plugin install` and `cm init` work in.
fn install_base(config: &Config, global: bool) -> Result<std::path::PathBuf, Error> {
    if global {
        Ok(config.home.clone().ok_or(UsageError::NoHome)?)
    } else {
        Ok(config.local_base.clone())
    }
}

fn plugin_install(config: &Config, args: &PluginInstallArgs) -> Result<(), Error> {
    let base = install_base(config, args.global)?;
    let grants = crate::plugin::manage::Grants {
        hosts: args.allow_hosts.clone(),
        env: args.allow_env.clone(),
    };
    let done = crate::plugin::manage::install(&args.prefix, &args.from, &base, &grants)?;
    to_stdout(|w| crate::report::installed(w, &done))
}

fn plugin_list(config: &Config) -> Result<(), Error> {
    let plugins = crate::plugin::manage::list(&config.search);
    to_stdout(|w| crate::report::plugin_list(w, &plugins, config.search.dirs()))
}

fn init_command(config: &Config, args: &InitArgs) -> Result<(), Error> {
    let base = install_base(config, args.global)?;
    let reports = crate::plugin::manage::init(&args.plugins, &base)?;
    to_stdout(|w| crate::report::init(w, &reports))?;
    let missing: Vec<String> = reports
        .iter()
        .filter(|r| !r.present)
        .map(|r| r.prefix.clone())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::PluginsMissing(missing))
    }
}

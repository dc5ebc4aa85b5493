//! The pipeline, one way per subcommand: read input -> (envsubst) -> scan -> plan -> start the
//! plugins needed -> fetch -> look up keys -> render or format -> write atomically. Also logging
//! set-up and signal handling. Plugins are always shut down before `run` returns.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use crate::Secret;
use crate::builtin::{BUILTIN_PREFIXES, EnvProvider, FileProvider};
use crate::cli::{
    Cli, Command, InitArgs, PluginCommand, PluginInstallArgs, RetrieveFormat, ScanArgs, ScanFormat,
    Target,
};
use crate::config::Config;
use crate::envsubst::EnvsubstError;
use crate::error::{Error, TokenFailure};
use crate::grammar::Grammar;
use crate::plan::Plan;
use crate::plugin::PluginHost;
use crate::resolve::{Providers, fetch_all, token_value};
use crate::scan::{Token, scan};

/// Runs one command line. Returns the error to print; its `exit_code()` is the process's.
pub fn run(cli: Cli) -> Result<(), Error> {
    let config = Config::from_cli(&cli.global)?;
    init_logging(&config);
    // One thread: cm's work is I/O-bound, and driving thousands of calls from the thread that
    // also runs the HTTP/2 connections avoids cross-thread wake-ups (benches/host.rs measured
    // about 45% less CPU per call than a multi-thread runtime). Plugins are also spawned from
    // this thread, which lives as long as cm, so their PR_SET_PDEATHSIG never fires early.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let signals = Signals::install();
        match cli.command {
            Command::Scan(args) => scan_command(&config, &args),
            Command::Insert(args) => {
                let input = read_input(&args.input)?;
                text_command(
                    &config,
                    &signals,
                    &input_name(&args.input),
                    input,
                    Target::parse(&args.path),
                )
                .await
            }
            Command::StringInput(args) => {
                // configmanager's rule: `-` is stdin, an existing file is read, else the text itself.
                let (name, input) = if args.input == "-" || Path::new(&args.input).is_file() {
                    (input_name(&args.input), read_input(&args.input)?)
                } else {
                    ("<input>".to_string(), args.input.clone().into_bytes())
                };
                text_command(&config, &signals, &name, input, Target::parse(&args.path)).await
            }
            Command::Plugin(PluginCommand::Install(args)) => plugin_install(&config, &args),
            Command::Plugin(PluginCommand::List) => plugin_list(&config),
            Command::Init(args) => init_command(&config, &args),
            Command::Completion(args) => {
                write_output(&Target::Stdout, &crate::cli::completion_script(args.shell))
            }
            Command::Retrieve(args) => {
                retrieve_command(
                    &config,
                    &signals,
                    &args.tokens,
                    args.format,
                    Target::parse(&args.path),
                )
                .await
            }
        }
    })
}

fn input_name(arg: &str) -> String {
    if arg == "-" {
        "<stdin>".to_string()
    } else {
        arg.to_string()
    }
}

fn read_input(arg: &str) -> Result<Vec<u8>, Error> {
    let name = input_name(arg);
    let mut buf = Vec::new();
    let r = if arg == "-" {
        std::io::stdin().lock().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::read(arg).map(|b| buf = b)
    };
    r.map_err(|source| Error::Input { name, source })?;
    Ok(buf)
}

/// The grammar with every prefix this run can serve: configmanager's seven, the built-ins and
/// every plugin found on disk.
fn grammar(config: &Config) -> Grammar {
    let discovered = config.search.discover();
    config
        .grammar
        .clone()
        .with_prefixes(BUILTIN_PREFIXES)
        .with_prefixes(discovered.iter().map(|(p, _)| p.as_str()))
}

fn expand(config: &Config, name: &str, input: Vec<u8>) -> Result<Vec<u8>, Error> {
    try_expand(config, input).map_err(|errors| {
        Error::Invalid(
            errors
                .iter()
                .map(|e| format!("{name}:{}:{}: {}", e.line, e.column, e.kind))
                .collect(),
        )
    })
}

/// `-e`: expands the input, or returns every problem found in it.
fn try_expand(config: &Config, input: Vec<u8>) -> Result<Vec<u8>, Vec<EnvsubstError>> {
    if !config.envsubst {
        return Ok(input);
    }
    crate::envsubst::expand(&input, |var| config.env_var(var)).map_err(|e| e.0)
}

/// Scans, or reports every malformed token as `NAME:LINE:COLUMN: message`.
fn scan_checked(grammar: &Grammar, name: &str, input: &[u8]) -> Result<Vec<Token>, Error> {
    let found = scan(grammar, input);
    if !found.errors.is_empty() {
        return Err(Error::Invalid(
            found
                .errors
                .iter()
                .map(|e| format!("{name}:{}:{}: {e}", e.line, e.column))
                .collect(),
        ));
    }
    Ok(found.tokens)
}

fn scan_command(config: &Config, args: &ScanArgs) -> Result<(), Error> {
    let name = input_name(&args.input);
    let input = expand(config, &name, read_input(&args.input)?)?;
    let grammar = grammar(config);
    let tokens = scan_checked(&grammar, &name, &input)?;
    let (plan, _) = Plan::from_tokens(&input, &tokens);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    match args.format {
        ScanFormat::Json => {
            let tokens: Vec<serde_json::Value> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "token": text(t.text(&input)),
                        "prefix": t.prefix(&input),
                        "path": text(t.path(&input)),
                        "key_path": t.key_path(&input).map(text),
                        "metadata": t.metadata(&input).map(text),
                        "line": t.line,
                        "column": t.column,
                        "start": t.span.start,
                        "end": t.span.end,
                    })
                })
                .collect();
            let doc = serde_json::json!({ "tokens": tokens, "fetches": plan.len(), "prefixes": plan.prefixes() });
            out.extend_from_slice(doc.to_string().as_bytes());
            out.push(b'\n');
        }
        ScanFormat::Text => {
            for t in &tokens {
                let mut parts =
                    format!("prefix={} path={}", t.prefix(&input), text(t.path(&input)));
                if let Some(k) = t.key_path(&input) {
                    parts.push_str(&format!(" key_path={}", text(k)));
                }
                if let Some(m) = t.metadata(&input) {
                    parts.push_str(&format!(" metadata={}", text(m)));
                }
                out.extend_from_slice(
                    format!(
                        "{name}:{}:{}: {}  ({parts})\n",
                        t.line,
                        t.column,
                        text(t.text(&input))
                    )
                    .as_bytes(),
                );
            }
            let prefixes = plan.prefixes().join(", ");
            out.extend_from_slice(
                format!(
                    "{} token(s), {} fetch(es), prefixes: {}\n",
                    tokens.len(),
                    plan.len(),
                    if prefixes.is_empty() { "-" } else { &prefixes }
                )
                .as_bytes(),
            );
        }
    }
    write_output(&Target::Stdout, &out)
}

/// `insert` and `string-input`: replace every token in the text.
async fn text_command(
    config: &Config,
    signals: &Signals,
    name: &str,
    input: Vec<u8>,
    target: Target,
) -> Result<(), Error> {
    let input = expand(config, name, input)?;
    let grammar = grammar(config);
    let tokens = scan_checked(&grammar, name, &input)?;
    let located: Vec<Located> = tokens
        .iter()
        .map(|t| Located {
            input: &input,
            token: t,
            location: Location::Input(name),
        })
        .collect();
    let values = resolve(config, signals, &located).await?;
    let output = crate::render::render(
        &input,
        tokens
            .iter()
            .zip(&values)
            .filter_map(|(t, v)| v.as_ref().map(|v| (t.span, v.expose()))),
    );
    write_output(&target, &output)
}

/// `retrieve`: each `--token` must be exactly one token.
async fn retrieve_command(
    config: &Config,
    signals: &Signals,
    args: &[String],
    format: RetrieveFormat,
    target: Target,
) -> Result<(), Error> {
    let grammar = grammar(config);
    let mut errors = Vec::new();
    let mut parsed: Vec<(Vec<u8>, Token)> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let where_ = format!("--token {}", i + 1);
        // Every token is checked, so one run reports every problem of every token.
        let input = match try_expand(config, arg.clone().into_bytes()) {
            Ok(input) => input,
            Err(problems) => {
                errors.extend(
                    problems
                        .iter()
                        .map(|e| format!("{where_}: {} in `{arg}`", e.kind)),
                );
                continue;
            }
        };
        let found = scan(&grammar, &input);
        if let Some(e) = found.errors.first() {
            errors.push(format!("{where_}: {e}"));
            continue;
        }
        match found.tokens.as_slice() {
            [t] if t.span.start == 0 && t.span.end == input.len() => parsed.push((input.clone(), t.clone())),
            _ => errors.push(format!(
                "{where_}: `{arg}` is not a token; expected PREFIX{}PATH[{}KEY][[METADATA]] with a known prefix ({})",
                grammar.token_separator(),
                grammar.key_separator(),
                grammar.prefixes().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let located: Vec<Located> = parsed
        .iter()
        .enumerate()
        .map(|(i, (input, token))| Located {
            input,
            token,
            location: Location::Flag(i + 1),
        })
        .collect();
    let values = resolve(config, signals, &located).await?;
    let key_separator = grammar.key_separator();
    let mut vars = Vec::new();
    for ((input, token), value) in parsed.iter().zip(&values) {
        let Some(value) = value else { continue };
        let name = crate::output::var_name(token.path(input), token.key_path(input), key_separator);
        vars.extend(crate::output::vars_for_token(
            name,
            value,
            &String::from_utf8_lossy(token.text(input)),
            key_separator,
        ));
    }
    let vars = crate::output::collect(vars).map_err(|e| Error::Format(e.to_string()))?;
    let format = match format {
        RetrieveFormat::Export => crate::output::Format::Export,
        RetrieveFormat::Dotenv => crate::output::Format::Dotenv,
        RetrieveFormat::Json => crate::output::Format::Json,
    };
    let mut out = Vec::new();
    crate::output::write(format, &vars, &mut out).map_err(|e| Error::Format(e.to_string()))?;
    write_output(&target, &out)
}

/// A token and where it came from.
struct Located<'a> {
    input: &'a [u8],
    token: &'a Token,
    location: Location<'a>,
}

/// Where a token was found; turned into text only for a token that failed, so a large template
/// costs no string per token.
#[derive(Clone, Copy)]
enum Location<'a> {
    /// In the named input, at the token's own line and column.
    Input(&'a str),
    /// The Nth `--token` flag.
    Flag(usize),
}

impl Located<'_> {
    fn describe(&self) -> String {
        match self.location {
            Location::Input(name) => format!("{name}:{}:{}", self.token.line, self.token.column),
            Location::Flag(n) => format!("--token {n}"),
        }
    }
}

/// Resolves every token: `Some(value)`, or `None` where it failed and `--lax` keeps it as it was.
/// Without `--lax` any failure fails the run, listing every failed token.
async fn resolve(
    config: &Config,
    signals: &Signals,
    tokens: &[Located<'_>],
) -> Result<Vec<Option<Secret>>, Error> {
    let mut plan = Plan::new();
    let fetch_of: Vec<usize> = tokens.iter().map(|l| plan.add(l.input, l.token)).collect();
    tracing::info!(tokens = tokens.len(), fetches = plan.len(), prefixes = ?plan.prefixes(), "plan");

    // A plugin on disk wins over a built-in of the same name.
    let mut providers = Providers::default();
    let mut wanted = Vec::new();
    let mut missing = Vec::new();
    for prefix in plan.prefixes() {
        match config.search.find(prefix) {
            Ok(path) => wanted.push((prefix.to_string(), path)),
            Err(tried) => match prefix {
                "ENV" => providers.insert(prefix, Arc::new(EnvProvider::new(config.env.clone()))),
                "FILE" => providers.insert(prefix, Arc::new(FileProvider::new(config.cwd.clone()))),
                _ => missing.push((prefix.to_string(), tried)),
            },
        }
    }
    if let Some((prefix, tried)) = missing.into_iter().next() {
        return Err(Error::PluginNotFound {
            prefix: prefix.to_ascii_lowercase(),
            tried,
        });
    }

    // Integrity first: nothing runs that the lock file does not approve.
    let verified =
        crate::plugin::lock::verify_all(&wanted, config.require_lock, config.cache_dir.as_deref())
            .map_err(Error::PluginRefused)?;
    let mut wanted = Vec::with_capacity(verified.len());
    for v in verified {
        for w in &v.warnings {
            tracing::warn!("{w}");
        }
        tracing::debug!(plugin = %v.prefix, status = ?v.status, "plugin integrity");
        wanted.push((v.prefix, v.program));
    }
    let (host, start_errors) = tokio::select! {
        r = PluginHost::start(wanted, config.host) => r,
        signal = signals.wait() => return Err(Error::Interrupted(signal)),
    };
    let outcome = async {
        if !start_errors.is_empty() {
            return Err(Error::PluginStart(start_errors));
        }
        for prefix in plan.prefixes() {
            if let Some(p) = host.provider(prefix) {
                providers.insert(prefix, p);
            }
        }
        let results = tokio::select! {
            r = fetch_all(plan.fetches(), &providers) => r,
            signal = signals.wait() => return Err(Error::Interrupted(signal)),
        };
        Ok(results)
    }
    .await;
    // Providers hold plugin handles; drop them so shutdown owns each plugin.
    drop(providers);
    host.shutdown().await;
    let results = outcome?;

    let mut values = Vec::with_capacity(tokens.len());
    let mut failures = Vec::new();
    for (l, &f) in tokens.iter().zip(&fetch_of) {
        match token_value(&results[f], l.token.key_path(l.input)) {
            Ok(v) => values.push(Some(Secret::new(v.into_owned()))),
            Err(reason) => {
                failures.push(TokenFailure {
                    location: l.describe(),
                    token: String::from_utf8_lossy(l.token.text(l.input)).into_owned(),
                    reason,
                });
                values.push(None);
            }
        }
    }
    if failures.is_empty() {
        return Ok(values);
    }
    if config.lax {
        for f in &failures {
            tracing::warn!("{f} (left as it was: --lax)");
        }
        return Ok(values);
    }
    Err(Error::Unresolved {
        failures,
        total: tokens.len(),
    })
}

/// Writes the result: to stdout, or atomically to a file (only ever after every token resolved).
fn write_output(target: &Target, bytes: &[u8]) -> Result<(), Error> {
    match target {
        Target::Stdout => {
            let mut out = std::io::stdout().lock();
            match out.write_all(bytes).and_then(|()| out.flush()) {
                // A closed pipe (`cm insert | head`) is the reader's choice, not our failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| Error::Output {
                    name: "stdout".into(),
                    reason: e.to_string(),
                }),
            }
        }
        Target::File(path) => crate::atomic::write_atomic(path, bytes).map_err(|e| Error::Output {
            name: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// SIGINT/SIGTERM, caught from the start of the run so a signal during plugin start-up still
/// leads to an orderly shutdown.
struct Signals {
    rx: watch::Receiver<Option<i32>>,
}

impl Signals {
    fn install() -> Signals {
        let (tx, rx) = watch::channel(None);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                tokio::spawn(async move {
                    let n = tokio::select! {
                        _ = int.recv() => libc::SIGINT,
                        _ = term.recv() => libc::SIGTERM,
                    };
                    tracing::warn!("interrupted, stopping plugins");
                    let _ = tx.send(Some(n));
                });
            }
        }
        #[cfg(not(unix))]
        drop(tx);
        Signals { rx }
    }

    async fn wait(&self) -> i32 {
        let mut rx = self.rx.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or(2),
            Err(_) => std::future::pending().await,
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let default = match config.log.verbosity {
        0 => "warn",
        1 => "info,h2=warn,tower=warn,hyper=warn",
        2 => "debug,h2=info,tower=info,hyper=info,hyper_util=info",
        _ => "trace",
    };
    let filter = config
        .log
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(config.log.color)
        .with_target(config.log.verbosity >= 2)
        .without_time()
        .try_init();
}

/// The folder `cm plugin install` and `cm init` work in.
fn install_base(config: &Config, global: bool) -> Result<std::path::PathBuf, Error> {
    if global {
        config
            .home
            .clone()
            .ok_or_else(|| Error::Usage("--global: cannot find the home directory".into()))
    } else {
        Ok(config.local_base.clone())
    }
}

fn plugin_install(config: &Config, args: &PluginInstallArgs) -> Result<(), Error> {
    let base = install_base(config, args.global)?;
    let done = crate::plugin::manage::install(&args.prefix, &args.from, &base)?;
    let text = format!(
        "installed {} (sha256:{})\nrecorded in {}\n",
        done.path.display(),
        done.sha256,
        done.lock.display()
    );
    write_output(&Target::Stdout, text.as_bytes())
}

fn plugin_list(config: &Config) -> Result<(), Error> {
    let mut text = String::new();
    for p in crate::plugin::manage::list(&config.search) {
        let hash = match &p.sha256 {
            Ok(h) => format!("sha256:{h}"),
            Err(e) => format!("unreadable: {e}"),
        };
        let shadowed = if p.active {
            ""
        } else {
            " (shadowed by an earlier folder)"
        };
        text.push_str(&format!(
            "{}\t{}\t{}\t{}{shadowed}\n",
            p.prefix,
            p.lock,
            hash,
            p.path.display()
        ));
    }
    if text.is_empty() {
        let dirs: Vec<String> = config
            .search
            .dirs()
            .iter()
            .map(|d| d.join(".configmanager/plugins").display().to_string())
            .collect();
        text = format!("no plugins found in {}\n", dirs.join(", "));
    }
    write_output(&Target::Stdout, text.as_bytes())
}

fn init_command(config: &Config, args: &InitArgs) -> Result<(), Error> {
    let base = install_base(config, args.global)?;
    let reports = crate::plugin::manage::init(&args.plugins, &base)?;
    let mut text = String::new();
    let mut missing = Vec::new();
    for r in &reports {
        if r.present {
            text.push_str(&format!(
                "{}: installed at {}\n",
                r.prefix,
                r.path.display()
            ));
        } else {
            text.push_str(&format!(
                "{}: missing; copy the plugin binary to {} or run `cm plugin install {} --from FILE`\n",
                r.prefix,
                r.path.display(),
                r.prefix
            ));
            missing.push(r.prefix.clone());
        }
    }
    write_output(&Target::Stdout, text.as_bytes())?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::PluginsMissing(missing))
    }
}

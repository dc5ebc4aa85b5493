//! hclog, the log format of go-plugin's world, both ways: a plugin writes its `tracing` events
//! as hclog JSON lines on stderr ([`init`], [`Hclog`]); a host reads each stderr line back into a
//! level and a message ([`LogLine::parse`]), whether the plugin wrote hclog JSON (Go or this
//! crate) or plain text.
//!
//! The JSON line is `@level`, `@message`, `@timestamp` (UTC, six fractional digits), `@module`,
//! then the event's own fields. Go hosts panic on a non-string `@level` or `@message` and treat
//! any other timestamp layout as plain text, so the written shape is exact; the reader, in turn,
//! never fails: whatever is not a well-formed hclog line is plain text.

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Sends this process's `tracing` events to stderr as hclog JSON lines, which Go hosts and cm
/// re-log at the right level. The level filter comes from `CONFIGMANAGER_LOG` (configmanager's
/// plugins read it since v3.0.0: `trace`, `debug`, `info`, `warn`, `error`, `off`), else
/// `RUST_LOG` (any `tracing` filter), else `info`; an unset, empty or unreadable one is skipped,
/// as the Go plugins skip a level they do not know. cm's own filter is read in the same order,
/// so one `CONFIGMANAGER_LOG=debug` reaches cm and every plugin it starts. Does
/// nothing when a global subscriber is already set. [`serve`](crate::serve) calls it.
///
/// A failed write to stderr (a host that is gone and closed its end of the pipe) is ignored: a
/// plugin's logging must never take down the task that logs.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = filter_from([
        std::env::var("CONFIGMANAGER_LOG").ok(),
        std::env::var("RUST_LOG").ok(),
    ]);
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(Hclog)
        // Else a failed write is reported with `eprintln!`, which panics when stderr is a pipe
        // nobody reads any more.
        .log_internal_errors(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .try_init();
}

/// The first of `candidates` that is a usable filter (hclog's `warning` is `warn`), else `info`.
fn filter_from(
    candidates: impl IntoIterator<Item = Option<String>>,
) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    candidates
        .into_iter()
        .flatten()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .find_map(|v| {
            let v = v.to_ascii_lowercase();
            let v = if v == "warning" {
                "warn".to_string()
            } else {
                v
            };
            // A bare word that is no level would be read as a target name, enabling nothing
            // useful: skip it as an unknown level.
            let level = matches!(
                v.as_str(),
                "trace" | "debug" | "info" | "warn" | "error" | "off"
            );
            if !level && !v.contains(['=', ',', '[']) {
                return None;
            }
            EnvFilter::try_new(v).ok()
        })
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// The `tracing-subscriber` event format that writes one hclog JSON line per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hclog;

impl<S, N> FormatEvent<S, N> for Hclog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let message = match fields.0.remove("message") {
            None => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        };
        let mut line = fields.0;
        line.insert(
            "@level".into(),
            Value::String(event.metadata().level().as_str().to_ascii_lowercase()),
        );
        line.insert("@message".into(), Value::String(message));
        line.insert(
            "@timestamp".into(),
            Value::String(timestamp(SystemTime::now())),
        );
        line.insert(
            "@module".into(),
            Value::String(event.metadata().target().to_string()),
        );
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON members.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

/// hclog's timestamp, `2006-01-02T15:04:05.000000Z` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// One line a plugin wrote to stderr, classified as go-plugin's host does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The level to log it at.
    pub level: Level,
    /// The message: `@message` of an hclog JSON line, else the whole line.
    pub message: String,
    /// The other members of an hclog JSON line (not `@timestamp`) as `key=value` text; empty
    /// for a plain line.
    pub fields: String,
}

impl LogLine {
    /// Classifies one stderr line (without its line break). hclog JSON lines keep their level
    /// and message. Other lines get the level of a `[LEVEL]` tag in them, else DEBUG; once a
    /// line starts a Go panic (`panic: `, `fatal error: `), `panicking` is set and every line
    /// after it is ERROR, so the host keeps one `panicking` flag per plugin.
    pub fn parse(line: &str, panicking: &mut bool) -> LogLine {
        if line.starts_with('{')
            && let Some(entry) = Self::parse_json(line)
        {
            return entry;
        }
        if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            *panicking = true;
        }
        let level = if *panicking {
            Level::ERROR
        } else {
            [
                ("[TRACE]", Level::TRACE),
                ("[DEBUG]", Level::DEBUG),
                ("[INFO]", Level::INFO),
                ("[WARN]", Level::WARN),
                ("[ERROR]", Level::ERROR),
            ]
            .into_iter()
            .find(|(tag, _)| line.contains(tag))
            .map_or(Level::DEBUG, |(_, l)| l)
        };
        LogLine {
            level,
            message: line.to_string(),
            fields: String::new(),
        }
    }

    /// An hclog JSON line with a known string `@level` and a string `@message`.
    fn parse_json(line: &str) -> Option<LogLine> {
        let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(line) else {
            return None;
        };
        let level = match map.remove("@level")?.as_str()?.trim().to_ascii_lowercase() {
            l if l == "trace" => Level::TRACE,
            l if l == "debug" => Level::DEBUG,
            l if l == "info" => Level::INFO,
            l if l == "warn" => Level::WARN,
            l if l == "error" => Level::ERROR,
            _ => return None,
        };
        let Value::String(message) = map.remove("@message")? else {
            return None;
        };
        map.remove("@timestamp");
        let fields = map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s:?}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        Some(LogLine {
            level,
            message,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_comes_from_configmanager_log_then_rust_log() {
        let filter =
            |c: &[Option<&str>]| filter_from(c.iter().map(|v| v.map(str::to_string))).to_string();
        assert_eq!(filter(&[Some("DEBUG"), Some("trace")]), "debug");
        assert_eq!(filter(&[Some(" Warning "), None]), "warn");
        assert_eq!(filter(&[None, Some("trace")]), "trace");
        assert_eq!(filter(&[Some(""), Some("error")]), "error");
        assert_eq!(filter(&[Some("loud"), Some("off")]), "off");
        assert_eq!(filter(&[Some("loud"), None]), "info");
        assert_eq!(filter(&[None, None]), "info");
        assert_eq!(
            filter(&[Some("cm_plugin_vault=trace"), None]),
            "cm_plugin_vault=trace"
        );
    }
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_have_go_hclog_layout() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_795_615_560_099_757);
        assert_eq!(timestamp(t), "2026-11-25T14:06:00.099757Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn hclog_json_lines_keep_level_and_message() {
        let mut p = false;
        let l = LogLine::parse(
            r#"{"@level":"debug","@message":"plugin address","@timestamp":"2026-11-25T14:06:00.099757Z","address":"/tmp/p","network":"unix"}"#,
            &mut p,
        );
        assert_eq!(l.level, Level::DEBUG);
        assert_eq!(l.message, "plugin address");
        assert_eq!(l.fields, r#"address="/tmp/p" network="unix""#);
    }

    #[test]
    fn malformed_json_and_odd_types_never_panic() {
        let mut p = false;
        for line in [
            r#"{"@level":3,"@message":"x"}"#,
            r#"{"@level":"info","@message":{}}"#,
            r#"{"@level":"loud","@message":"x"}"#,
            r#"{"@message":"x"}"#,
            "{not json",
            "{}",
        ] {
            let l = LogLine::parse(line, &mut p);
            assert_eq!(l.level, Level::DEBUG, "{line}");
            assert_eq!(l.message, line);
        }
    }

    #[test]
    fn plain_lines_and_panic_mode() {
        let mut p = false;
        assert_eq!(
            LogLine::parse("2026/11/25 [WARN] careful", &mut p).level,
            Level::WARN
        );
        assert_eq!(LogLine::parse("just text", &mut p).level, Level::DEBUG);
        assert_eq!(LogLine::parse("panic: boom", &mut p).level, Level::ERROR);
        assert_eq!(
            LogLine::parse("goroutine 1 [running]:", &mut p).level,
            Level::ERROR
        );
        assert!(p);
    }

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the writer writes, the reader reads back: level, message and fields.
    #[test]
    fn written_lines_read_back() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(move || writer.clone())
            .event_format(Hclog)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("t");
            tracing::debug!(network = "unix", "plugin address");
            tracing::info!(count = 3u64, ok = true, "it's \"quoted\"\nand multi-line");
            tracing::warn!(delta = -2i64, "w");
            tracing::error!(reason = ?Some(1), "e");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let mut panicking = false;
        let lines: Vec<LogLine> = text
            .lines()
            .map(|l| LogLine::parse(l, &mut panicking))
            .collect();
        let expected = [
            (
                Level::TRACE,
                "t",
                r#"@module="cm_plugin_sdk::hclog::tests""#,
            ),
            (
                Level::DEBUG,
                "plugin address",
                r#"@module="cm_plugin_sdk::hclog::tests" network="unix""#,
            ),
            (
                Level::INFO,
                "it's \"quoted\"\nand multi-line",
                r#"@module="cm_plugin_sdk::hclog::tests" count=3 ok=true"#,
            ),
            (
                Level::WARN,
                "w",
                r#"@module="cm_plugin_sdk::hclog::tests" delta=-2"#,
            ),
            (
                Level::ERROR,
                "e",
                r#"@module="cm_plugin_sdk::hclog::tests" reason="Some(1)""#,
            ),
        ];
        assert_eq!(lines.len(), expected.len(), "{text}");
        for (line, (level, message, fields)) in lines.iter().zip(expected) {
            assert_eq!(
                (line.level, line.message.as_str(), line.fields.as_str()),
                (level, message, fields)
            );
        }
        assert!(!panicking);
        // Each line carries a timestamp in hclog's layout.
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let stamp = first["@timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2006-01-02T15:04:05.000000Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z'));
    }
}

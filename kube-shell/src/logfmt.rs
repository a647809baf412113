//! Log lines shaped like upstream's go-kit JSON logger (docs/operations.md#logs): one JSON
//! object per line, keys sorted, `ts` (UTC, RFC 3339 with nanoseconds), `caller` (`file:line`),
//! `level`, `msg`, then the event's fields. Operators' log pipelines parse these keys.
//!
//! This is formatting only: the binaries install it as their `tracing` event formatter.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogLevel;

/// The `tracing` level filter for a `--log-level` value (`None` = log nothing).
pub fn level_filter(level: LogLevel) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match level {
        LogLevel::All => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::None => LevelFilter::OFF,
    }
}

/// Libraries whose own log lines stay out of the log below `--log-level=debug`: the HTTP and
/// Kubernetes client stack logs every failed request (a line per retry while the API server is
/// away), and our code already reports each failure once, with what it means.
const QUIET_LIBRARIES: [&str; 7] = [
    "kube_client",
    "kube_runtime",
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "rustls",
];

/// The per-target filter: our crates at `level`, the client libraries silent unless debugging.
pub fn targets(level: LogLevel) -> tracing_subscriber::filter::Targets {
    let ours = level_filter(level);
    let libraries = if matches!(level, LogLevel::All | LogLevel::Debug) {
        ours
    } else {
        tracing_subscriber::filter::LevelFilter::OFF
    };
    QUIET_LIBRARIES.iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(ours),
        |t, lib| t.with_target(*lib, libraries),
    )
}

/// Installs the JSON formatter on stdout as the global subscriber, filtered at `level`.
/// Returns `false` when a subscriber was already installed.
pub fn install(level: LogLevel) -> bool {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::fmt()
        .event_format(MetalLbJson)
        .with_writer(std::io::stdout)
        .with_max_level(level_filter(level))
        .finish()
        .with(targets(level));
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

/// Emits one line with these fields (upstream's keys, e.g. `event`, `reason`, `ip`) when
/// `level` passes the installed filter. For log lines whose keys are data, which `tracing`'s
/// static field names cannot express.
pub fn emit(level: Level, caller: &str, fields: impl IntoIterator<Item = (&'static str, Value)>) {
    if level > tracing::level_filters::LevelFilter::current() {
        return;
    }
    let fields: BTreeMap<String, Value> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let line = render(fields, level, caller, SystemTime::now());
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes());
}

/// The event formatter.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetalLbJson;

impl<S, N> FormatEvent<S, N> for MetalLbJson
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
        let meta = event.metadata();
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let caller = match (meta.file(), meta.line()) {
            (Some(f), Some(l)) => format!("{}:{l}", f.rsplit('/').next().unwrap_or(f)),
            _ => meta.target().to_owned(),
        };
        let line = render(fields.0, *meta.level(), &caller, SystemTime::now());
        writeln!(writer, "{line}")
    }
}

/// One log line as JSON text; separate from the formatter so it is testable.
pub fn render(
    mut fields: BTreeMap<String, Value>,
    level: Level,
    caller: &str,
    now: SystemTime,
) -> String {
    if let Some(msg) = fields.remove("message") {
        fields.insert("msg".to_owned(), msg);
    }
    fields.insert("level".to_owned(), Value::from(level_name(level)));
    fields.insert("caller".to_owned(), Value::from(caller));
    fields.insert("ts".to_owned(), Value::from(rfc3339_nanos(now)));
    // BTreeMap serialises in key order: upstream's keys are sorted too.
    serde_json::to_string(&fields).unwrap_or_default()
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        // go-kit has no trace level; "all" shows these as debug.
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// `2021-12-09T11:22:58.562985939Z`.
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Collects an event's fields as JSON values (numbers and bools stay typed).
#[derive(Default)]
struct FieldMap(BTreeMap<String, Value>);

impl Visit for FieldMap {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339_with_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_639_048_978, 562_985_939);
        assert_eq!(rfc3339_nanos(t), "2021-12-09T11:22:58.562985939Z");
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_nanos(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn line_has_upstream_keys_sorted() {
        let mut fields = BTreeMap::new();
        fields.insert("message".to_owned(), Value::from("config (re)loaded"));
        fields.insert("event".to_owned(), Value::from("configLoaded"));
        let line = render(fields, Level::INFO, "config.rs:42", UNIX_EPOCH);
        assert_eq!(
            line,
            r#"{"caller":"config.rs:42","event":"configLoaded","level":"info","msg":"config (re)loaded","ts":"1970-01-01T00:00:00.000000000Z"}"#
        );
    }

    #[test]
    fn client_libraries_are_quiet_unless_debugging() {
        use tracing::Level;
        let info = targets(LogLevel::Info);
        assert!(info.would_enable("controller::run", &Level::INFO));
        assert!(info.would_enable("kube_shell::watch_health", &Level::WARN));
        assert!(!info.would_enable("kube_client::client::builder", &Level::ERROR));
        assert!(!info.would_enable("hyper_util::client::legacy", &Level::WARN));
        let debug = targets(LogLevel::Debug);
        assert!(debug.would_enable("kube_client::client::builder", &Level::ERROR));
    }
}

//! What a command found, printed two ways from the same data: aligned plain text for people, and
//! one JSON object for documents to quote. A report also carries the reasons it failed, which
//! decide the exit code.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// One command's results.
pub struct Report {
    command: &'static str,
    fields: Vec<(&'static str, Value)>,
    tables: Vec<Table>,
    /// Closing lines of the text form (their figures are fields too).
    notes: Vec<String>,
    failures: Vec<String>,
}

/// Rows under named columns (phases of `rest`, steps of `ramp`, agents of `claims`).
pub struct Table {
    name: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(name: &'static str, columns: &[&'static str]) -> Self {
        Self {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one value per column.
    pub fn row(&mut self, values: Vec<Value>) {
        debug_assert_eq!(values.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(values);
    }

    fn to_json(&self) -> Value {
        let rows = self.rows.iter().map(|row| {
            let object: Map<String, Value> = self
                .columns
                .iter()
                .map(|c| (*c).to_owned())
                .zip(row.iter().cloned())
                .collect();
            Value::Object(object)
        });
        Value::Array(rows.collect())
    }

    fn render(&self, out: &mut String) {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(show).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([column.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Columns of numbers are right-aligned, others left-aligned.
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|i| self.rows.iter().any(|row| row[i].is_number()))
            .collect();
        let line = |out: &mut String, values: &mut dyn Iterator<Item = &str>| {
            let mut text = String::from("  ");
            for (i, value) in values.enumerate() {
                let gap = if i == 0 { "" } else { "  " };
                if numeric[i] {
                    let _ = write!(text, "{gap}{value:>width$}", width = widths[i]);
                } else {
                    let _ = write!(text, "{gap}{value:<width$}", width = widths[i]);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        let _ = writeln!(out, "  {}:", self.name);
        line(out, &mut self.columns.iter().copied());
        for row in &cells {
            line(out, &mut row.iter().map(String::as_str));
        }
    }
}

impl Report {
    pub fn new(command: &'static str) -> Self {
        Self {
            command,
            fields: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Adds `key: value` (shown in the order added).
    pub fn field(&mut self, key: &'static str, value: impl Into<Value>) -> &mut Self {
        self.fields.push((key, value.into()));
        self
    }

    pub fn table(&mut self, table: Table) -> &mut Self {
        self.tables.push(table);
        self
    }

    /// Adds a closing line to the text form, e.g. `max sustained: 12000 msg/s`.
    pub fn note(&mut self, line: impl Into<String>) -> &mut Self {
        self.notes.push(line.into());
        self
    }

    /// Records why the command failed (the run goes on; the exit code will say so).
    pub fn fail(&mut self, reason: impl Into<String>) -> &mut Self {
        self.failures.push(reason.into());
        self
    }

    /// Records `reason` as a failure when `failed`.
    pub fn fail_if(&mut self, failed: bool, reason: impl FnOnce() -> String) -> &mut Self {
        if failed {
            self.fail(reason());
        }
        self
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("command".into(), json!(self.command));
        object.insert("ok".into(), json!(self.passed()));
        for (key, value) in &self.fields {
            object.insert((*key).to_owned(), value.clone());
        }
        for table in &self.tables {
            object.insert(table.name.to_owned(), table.to_json());
        }
        object.insert("failures".into(), json!(self.failures));
        Value::Object(object)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        let _ = writeln!(out, "{}: {verdict}", self.command);
        let width = self.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &self.fields {
            let _ = writeln!(out, "  {key:<width$}  {}", show(value));
        }
        for table in &self.tables {
            table.render(&mut out);
        }
        for note in &self.notes {
            let _ = writeln!(out, "  {note}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "  FAIL: {failure}");
        }
        out
    }
}

/// A value as plain text: strings unquoted, null as `-`, lists comma-separated.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Notes a finished stage on stderr (stdout is for results).
pub fn progress(what: &str, since: tokio::time::Instant) {
    eprintln!("loadgen: {what} ({:.1} s)", since.elapsed().as_secs_f64());
}

/// Milliseconds rounded to microseconds, as a JSON number.
pub fn ms(duration: Duration) -> Value {
    round(duration.as_secs_f64() * 1e3, 3)
}

/// `value` rounded to `decimals` places, as a JSON number.
pub fn round(value: f64, decimals: i32) -> Value {
    let scale = 10f64.powi(decimals);
    json!((value * scale).round() / scale)
}

/// Percentiles of a set of latencies (nearest rank over the sorted samples).
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    /// The `p`-th percentile (0 < p ≤ 100); `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let n = self.sorted.len();
        if n == 0 {
            return None;
        }
        // The epsilon keeps 99.9 % of 1000 at rank 999 despite binary fractions.
        let rank = ((p / 100.0) * n as f64 - 1e-9).ceil() as usize;
        Some(self.sorted[rank.clamp(1, n) - 1])
    }

    pub fn max(&self) -> Option<Duration> {
        self.sorted.last().copied()
    }

    /// The percentile in milliseconds as a JSON value (`null` without samples).
    pub fn ms_at(&self, p: f64) -> Value {
        self.percentile(p).map_or(Value::Null, ms)
    }

    pub fn max_ms(&self) -> Value {
        self.max().map_or(Value::Null, ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = (1..=1000).rev().map(Duration::from_millis).collect();
        let latencies = Latencies::new(samples);
        assert_eq!(latencies.percentile(50.0), Some(Duration::from_millis(500)));
        assert_eq!(latencies.percentile(99.0), Some(Duration::from_millis(990)));
        assert_eq!(latencies.percentile(99.9), Some(Duration::from_millis(999)));
        assert_eq!(
            latencies.percentile(100.0),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(latencies.max(), Some(Duration::from_millis(1000)));
        let one = Latencies::new(vec![Duration::from_millis(7)]);
        assert_eq!(one.percentile(1.0), Some(Duration::from_millis(7)));
        assert_eq!(Latencies::default().percentile(50.0), None);
    }

    #[test]
    fn reports_render_as_text_and_json() {
        let mut report = Report::new("demo");
        report
            .field("requests", 12)
            .field("p99_ms", ms(Duration::from_micros(1500)));
        let mut table = Table::new("steps", &["offered", "result"]);
        table.row(vec![json!(1000), json!("pass")]);
        report.table(table);
        report.fail("one agent was disconnected");
        let text = report.render();
        assert!(text.starts_with("demo: FAILED"), "{text}");
        assert!(text.contains("  p99_ms    1.5"), "{text}");
        assert!(
            text.contains("  offered  result\n     1000  pass\n"),
            "{text}"
        );
        let json = report.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["steps"][0]["offered"], 1000);
        assert_eq!(json["failures"][0], "one agent was disconnected");
    }
}

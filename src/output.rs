//! Everything that reaches stdout: records as JSON, NDJSON or tables, and
//! error rendering on stderr. A closed pipe is a quiet success.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use serde_json::Value;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::error::{Code, Error, Exit, Result};

/// Output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table, for people.
    Table,
    /// One JSON value: an object for a record, an array for a list.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// The explicit choice, or `table` on a terminal and `json` otherwise.
    pub fn resolve(explicit: Option<Format>) -> Format {
        explicit.unwrap_or_else(|| {
            if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// A list in a table cell shows this many items, then how many more there
/// are (a reload of a million grants would otherwise fill the terminal).
const CELL_ITEMS: usize = 10;

/// One table cell from a JSON value: `-` for null or empty, lists of
/// scalars joined by commas (the first [`CELL_ITEMS`], then a count),
/// anything else as compact JSON.
pub fn json_cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => {
            let scalars = items.iter().all(|i| !i.is_object() && !i.is_array());
            let shown = items
                .iter()
                .take(CELL_ITEMS)
                .map(|i| if scalars { json_cell(i) } else { i.to_string() });
            let mut cell = shown.collect::<Vec<_>>().join(",");
            if !scalars {
                cell = format!("[{cell}]");
            }
            if items.len() > CELL_ITEMS {
                let more = items.len() - CELL_ITEMS;
                cell.push_str(&format!(" ... and {more} more (--format json lists all)"));
            }
            cell
        }
        other => other.to_string(),
    }
}

fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(format!("encoding JSON: {e}")))
}

/// Writes records to stdout in the chosen format.
pub struct Output {
    pub format: Format,
    out: Box<dyn Write>,
}

fn write_err(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Error::new(Exit::Success, Code::BrokenPipe, "stdout was closed")
    } else {
        Error::io("writing to stdout", e)
    }
}

impl Output {
    /// Output to the process's stdout.
    pub fn stdout(format: Format) -> Self {
        Output {
            format,
            out: Box::new(io::BufWriter::with_capacity(256 * 1024, io::stdout())),
        }
    }

    /// Output to any writer (tests).
    pub fn to_writer(format: Format, out: Box<dyn Write>) -> Self {
        Output { format, out }
    }

    /// Print one record (a JSON object; a table shows one field per row).
    pub fn record<T: Serialize + ?Sized>(&mut self, r: &T) -> Result<()> {
        self.value(&to_value(r)?, false)
    }

    /// Print a list of records.
    pub fn list<T: Serialize>(&mut self, items: &[T]) -> Result<()> {
        self.value(&to_value(items)?, true)
    }

    /// Print an already encoded record or list (remote mode prints what the
    /// server sent through here, so both modes look the same).
    pub fn value(&mut self, v: &Value, is_list: bool) -> Result<()> {
        match (self.format, v) {
            (Format::Ndjson, Value::Array(items)) if is_list => {
                for i in items {
                    self.json_line(i)?;
                }
                Ok(())
            }
            (Format::Json | Format::Ndjson, _) => self.json_line(v),
            (Format::Table, Value::Array(items)) => {
                let Some(Value::Object(first)) = items.first() else {
                    return Ok(());
                };
                let mut b = Builder::default();
                b.push_record(first.keys().map(|k| k.to_uppercase()));
                for i in items {
                    b.push_record(first.keys().map(|k| json_cell(&i[k])));
                }
                let mut t = b.build();
                t.with(Style::blank());
                self.line(&t.to_string())
            }
            (Format::Table, Value::Object(map)) => {
                let mut b = Builder::default();
                for (k, v) in map {
                    b.push_record([k.clone(), json_cell(v)]);
                }
                let mut t = b.build();
                t.with(Style::blank());
                self.line(&t.to_string())
            }
            (Format::Table, other) => self.line(&json_cell(other)),
        }
    }

    /// Print any serializable value as JSON (one line), whatever the format.
    pub fn json_line<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, v).map_err(|e| {
            if e.is_io() {
                write_err(io::Error::from(e))
            } else {
                Error::internal(format!("encoding JSON: {e}"))
            }
        })?;
        self.out.write_all(b"\n").map_err(write_err)
    }

    /// Print one line of text.
    pub fn line(&mut self, s: &str) -> Result<()> {
        self.out.write_all(s.as_bytes()).map_err(write_err)?;
        self.out.write_all(b"\n").map_err(write_err)
    }

    /// The underlying writer, for streaming output (e.g. `grant check --batch`).
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Flush buffered output.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(write_err)
    }
}

/// Render a cell: `-` for nothing, lists joined by commas.
pub fn cell<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Print an error on stderr as DESIGN §2 says: `<bin>: error: <message>`,
/// `hint: ...`, and with a JSON format also `{"error":{...}}`.
pub fn render_error(bin: &str, err: &Error, format: Format, color: bool) {
    let mut stderr = io::stderr().lock();
    let label = if color {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    };
    let _ = writeln!(stderr, "{bin}: {label}: {}", err.message);
    if let Some(h) = &err.hint {
        let _ = writeln!(stderr, "hint: {h}");
    }
    if matches!(format, Format::Json | Format::Ndjson) {
        let mut v = serde_json::json!({"error": {"code": err.code, "message": err.message}});
        if let Some(h) = &err.hint {
            v["error"]["hint"] = h.as_str().into();
        }
        let _ = writeln!(stderr, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Serialize)]
    struct R {
        id: String,
        n: u32,
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn render(format: Format, items: &[R]) -> String {
        let buf = Buf::default();
        let mut o = Output::to_writer(format, Box::new(buf.clone()));
        o.list(items).unwrap();
        o.flush().unwrap();
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn formats_round_trip_through_serde() {
        let items = [
            R {
                id: "a".into(),
                n: 1,
            },
            R {
                id: "b".into(),
                n: 2,
            },
        ];
        let json: serde_json::Value = serde_json::from_str(&render(Format::Json, &items)).unwrap();
        assert_eq!(json, serde_json::json!([{"id":"a","n":1},{"id":"b","n":2}]));
        let nd = render(Format::Ndjson, &items);
        let lines: Vec<serde_json::Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["id"], "b");
        let table = render(Format::Table, &items);
        assert!(table.contains("ID") && table.contains('b'), "{table}");
    }

    #[test]
    fn long_lists_are_cut_in_tables_but_whole_in_json() {
        let ids: Vec<String> = (0..1000).map(|i| format!("grt_{i:012}")).collect();
        let members: Vec<Value> = (0..12)
            .map(|i| serde_json::json!({"group": "ops", "principal": format!("user:u{i}")}))
            .collect();
        let v = serde_json::json!({"grants_added": ids, "members_added": members});
        let render = |format| {
            let buf = Buf::default();
            let mut o = Output::to_writer(format, Box::new(buf.clone()));
            o.value(&v, false).unwrap();
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
        };
        let table = render(Format::Table);
        assert!(
            table.contains("grt_000000000009 ... and 990 more"),
            "{table}"
        );
        assert!(!table.contains("grt_000000000010"), "{table}");
        assert!(
            table.contains(r#""principal":"user:u9"}] ... and 2 more"#),
            "{table}"
        );
        assert!(!table.contains("user:u10"), "{table}");
        let json = render(Format::Json);
        assert!(json.contains("grt_000000000999") && json.contains("user:u11"));
    }

    #[test]
    fn broken_pipe_is_success() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
        }
        let mut o = Output::to_writer(Format::Json, Box::new(Closed));
        let e = o.line("x").unwrap_err();
        assert_eq!(e.exit, Exit::Success);
    }
}

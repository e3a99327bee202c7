//! Reading IDs from stdin for `ID...|-` arguments: a JSON array (of ids or
//! of objects with an `id`), NDJSON objects with an `id`, or one bare id per
//! line. Bounded, UTF-8 checked, and every error names the line.

use std::io::Read;

use serde_json::Value;

use crate::error::{Error, Result};

/// Largest stdin accepted (16 MiB): far beyond any real id list.
pub const MAX_STDIN: u64 = 16 * 1024 * 1024;

/// Read all of `r` (at most `MAX_STDIN` bytes) as UTF-8 text.
pub fn read_text(mut r: impl Read, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(MAX_STDIN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("reading {what}"), e))?;
    if buf.len() as u64 > MAX_STDIN {
        return Err(Error::usage(format!(
            "{what} is larger than {} MiB",
            MAX_STDIN / 1024 / 1024
        )));
    }
    String::from_utf8(buf).map_err(|e| {
        Error::usage(format!(
            "{what} is not valid UTF-8 (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parse ids from text in any of the three accepted shapes.
pub fn parse_ids(text: &str) -> Result<Vec<String>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| {
            Error::usage(format!("stdin is not a valid JSON array: {e}"))
                .with_hint("pipe a JSON array, NDJSON objects with an \"id\", or one id per line")
        })?;
        return values
            .iter()
            .enumerate()
            .map(|(i, v)| id_of(v).ok_or_else(|| bad_item(&format!("array element {}", i + 1))))
            .collect();
    }
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| Error::usage(format!("stdin line {}: malformed JSON: {e}", n + 1)))?;
            ids.push(id_of(&v).ok_or_else(|| bad_item(&format!("line {}", n + 1)))?);
        } else if line.chars().any(char::is_whitespace) {
            return Err(Error::usage(format!(
                "stdin line {}: expected one id per line",
                n + 1
            )));
        } else {
            ids.push(line.to_owned());
        }
    }
    Ok(ids)
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn bad_item(where_: &str) -> Error {
    Error::usage(format!(
        "stdin {where_}: expected an id string or an object with an \"id\" field"
    ))
}

/// Expand `-` in an argument list into ids read from `stdin`.
pub fn expand_ids(args: &[String], stdin: impl Read) -> Result<Vec<String>> {
    if !args.iter().any(|a| a == "-") {
        return Ok(args.to_vec());
    }
    let from_stdin = parse_ids(&read_text(stdin, "stdin")?)?;
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            out.extend(from_stdin.iter().cloned());
        } else {
            out.push(a.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes() {
        assert_eq!(parse_ids(r#"["a", {"id":"b"}]"#).unwrap(), ["a", "b"]);
        assert_eq!(
            parse_ids("{\"id\":\"a\",\"x\":1}\n\n{\"id\":\"b\"}\n").unwrap(),
            ["a", "b"]
        );
        assert_eq!(parse_ids("a\n  b  \n\n").unwrap(), ["a", "b"]);
        assert!(parse_ids("").unwrap().is_empty());
        assert!(parse_ids("[]").unwrap().is_empty());
    }

    #[test]
    fn malformed_input_names_the_line() {
        let e = parse_ids("{\"id\":\"a\"}\n{oops\n").unwrap_err();
        assert_eq!(e.exit.code(), 2);
        assert!(e.message.contains("line 2"), "{}", e.message);
        assert!(
            parse_ids("[1, 2]")
                .unwrap_err()
                .message
                .contains("element 1")
        );
        assert!(parse_ids("[\"a\"").is_err());
        assert!(parse_ids("a b\n").is_err());
        assert!(parse_ids("{\"name\":\"x\"}").is_err());
    }

    #[test]
    fn invalid_utf8_and_huge_input_are_refused() {
        let e = read_text(&[b'a', 0xff, b'b'][..], "stdin").unwrap_err();
        assert_eq!(e.exit.code(), 2);
        let huge = std::io::repeat(b'a').take(MAX_STDIN + 10);
        assert!(
            read_text(huge, "stdin")
                .unwrap_err()
                .message
                .contains("larger")
        );
    }

    #[test]
    fn dash_expands_in_place() {
        let args = vec!["x".to_owned(), "-".to_owned()];
        assert_eq!(expand_ids(&args, &b"a\nb\n"[..]).unwrap(), ["x", "a", "b"]);
        let no_dash = vec!["x".to_owned()];
        assert_eq!(expand_ids(&no_dash, &b"ignored"[..]).unwrap(), ["x"]);
    }
}

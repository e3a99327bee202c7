//! Clock, RFC 3339 formatting, and the duration syntax of DESIGN §2
//! (`30s 15m 4h 7d 2w`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Format as RFC 3339 UTC with second precision, e.g. `2026-11-22T12:00:00Z`.
pub fn rfc3339(ms: Millis) -> String {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Parse a duration written as `<n><unit>` with unit `s m h d w`.
/// Combinations such as `1h30m` are accepted; anything else is invalid input.
pub fn parse_duration(input: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(format!(
            "invalid duration '{}'",
            crate::credential::shown(input)
        ))
        .with_hint("write a number and a unit: 30s, 15m, 4h, 7d, 2w (or combined: 1h30m)")
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad().with_hint("a duration needs a unit: 30s, 15m, 4h, 7d, 2w"));
    }
    Ok(Duration::from_secs(total))
}

/// Milliseconds in a duration, saturating.
pub fn duration_ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Parse either a duration (meaning "that long ago") or an RFC 3339 timestamp.
pub fn parse_since(input: &str, now: Millis) -> Result<Millis> {
    if let Ok(d) = parse_duration(input) {
        return Ok(now.saturating_sub(duration_ms(d)));
    }
    let t =
        humantime::parse_rfc3339_weak(input.trim()).map_err(|_| {
            Error::usage(format!("invalid time '{}'", crate::credential::shown(input))).with_hint(
            "give a duration such as 4h or 7d, or an RFC 3339 time such as 2026-01-31T12:00:00Z",
        )
        })?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::usage(format!("time '{input}' is before 1970")))?;
    Ok(duration_ms(d))
}

/// Render a duration compactly in the input syntax (`90000s` → `1d1h`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Duration value parser for clap flags: the message with its hint.
pub fn duration_arg(s: &str) -> std::result::Result<std::time::Duration, String> {
    parse_duration(s).map_err(|e| match e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("4h").unwrap().as_secs(), 14_400);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse_duration("2w").unwrap().as_secs(), 1_209_600);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5_400);
    }

    #[test]
    fn bad_durations_are_usage_errors() {
        for bad in [
            "",
            "5x",
            "h",
            "10",
            "-1h",
            "1.5h",
            "99999999999999999999w",
            "1 h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert_eq!(err.exit.code(), 2, "{bad}");
        }
    }

    #[test]
    fn rfc3339_is_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn since_accepts_durations_and_timestamps() {
        assert_eq!(
            parse_since("1h", 10_000_000).unwrap(),
            10_000_000 - 3_600_000
        );
        assert_eq!(parse_since("1970-01-01T00:00:10Z", 0).unwrap(), 10_000);
        assert!(parse_since("yesterday", 0).is_err());
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(Duration::from_secs(90_000)), "1d1h");
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
    }
}

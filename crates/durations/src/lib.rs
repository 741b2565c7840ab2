//! Prometheus durations (`1h30m`, `90s`, `1d`, `0`), as the PrometheusRule and
//! AlertmanagerConfig CRDs accept them: integer amounts of `y w d h m s ms`, each unit
//! at most once and in that order.

/// Milliseconds in each unit, in the order the format requires.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// The longest duration Prometheus and Alertmanager load (`292y171d23h47m16s854ms`): they
/// hold it as Go's `time.Duration`, nanoseconds in an `i64`, and refuse anything longer
/// as "duration out of range" (checked with promtool and amtool).
pub const MAX_MILLIS: u64 = i64::MAX as u64 / 1_000_000;

/// Parses a Prometheus duration into milliseconds.
pub fn parse_millis(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!("{text:?} is not a Prometheus duration (e.g. \"90s\", \"10m\", \"1h30m\", \"1d\")")
    };
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut next_unit = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        let amount: u64 = text[start..i].parse().map_err(|_| invalid())?;
        let unit_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let unit = &text[unit_start..i];
        // Units in order, each at most once: the unit is looked up after the last one.
        let (position, (_, millis)) = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .find(|(_, (name, _))| *name == unit)
            .ok_or_else(invalid)?;
        let millis = *millis;
        next_unit = position + 1;
        total = amount
            .checked_mul(millis)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
    }
    if total > MAX_MILLIS {
        return Err(format!(
            "{text:?} is out of Prometheus's range: the longest duration it loads is 292y171d23h47m16s854ms"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_millis("0"), Ok(0));
        assert_eq!(parse_millis("90s"), Ok(90_000));
        assert_eq!(parse_millis("10m"), Ok(600_000));
        assert_eq!(parse_millis("1h30m"), Ok(5_400_000));
        assert_eq!(parse_millis("1d"), Ok(86_400_000));
        assert_eq!(parse_millis("1w2d"), Ok(9 * 86_400_000));
        assert_eq!(parse_millis("1s500ms"), Ok(1500));
        assert_eq!(parse_millis("0s"), Ok(0));
        // Leading zeros are digits like any other (only a bare "0" needs no unit).
        assert_eq!(parse_millis("05m"), Ok(300_000));
        assert_eq!(parse_millis("00s"), Ok(0));
        // A year is 365 days in Prometheus's model.ParseDuration.
        assert_eq!(parse_millis("1y"), Ok(31_536_000_000));
        assert_eq!(parse_millis("2y1d"), Ok(2 * 31_536_000_000 + 86_400_000));
    }

    #[test]
    fn the_longest_duration_prometheus_loads_is_accepted_and_one_ms_more_is_not() {
        // promtool and amtool: `292y171d23h47m16s854ms` loads, a millisecond more fails
        // with "duration out of range", as does `293y` or `106752d`.
        assert_eq!(parse_millis("292y171d23h47m16s854ms"), Ok(MAX_MILLIS));
        assert_eq!(parse_millis("9223372036854ms"), Ok(MAX_MILLIS));
        for too_long in [
            "292y171d23h47m16s855ms",
            "9223372036855ms",
            "293y",
            "106752d",
        ] {
            assert_eq!(
                parse_millis(too_long),
                Err(format!("{too_long:?} is out of Prometheus's range: the longest duration it loads is 292y171d23h47m16s854ms")),
            );
        }
        // Past u64 itself: still an answer, not an overflow.
        assert_eq!(
            parse_millis("1s18446744073709551615ms"),
            Err("\"1s18446744073709551615ms\" is too long a duration".to_string())
        );
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for bad in [
            "",
            "10",
            "1.5h",
            "m",
            "30m1h",
            "1h1h",
            "-5m",
            "5 m",
            "5M",
            "1hh",
            "99999999999999999999y",
            // Nothing around it: Prometheus matches the whole string.
            " 5m",
            "5m ",
            " 0",
            "0abc",
            "01",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad:?}");
        }
    }
}

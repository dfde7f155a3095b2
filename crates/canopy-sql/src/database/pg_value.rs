//! Decodes PostgreSQL's binary wire format into JSON, type by type, so every value reads as
//! the database holds it: exact numerics, infinite timestamps, nested arrays, composites.

use serde_json::{Number, Value, json};
use sqlx::postgres::{PgTypeKind, PgValueFormat, PgValueRef};
use sqlx::{TypeInfo, ValueRef};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const USECS_PER_DAY: i64 = 86_400_000_000;

/// Decodes one column value of a row.
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map(pg_value::decode)`"
)]
pub(crate) fn decode(value: PgValueRef<'_>) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let type_info = value.type_info().into_owned();
    let oid = type_info.oid().map(|o| o.0).unwrap_or(0);
    let is_array = matches!(type_info.kind(), PgTypeKind::Array(_));
    match value.format() {
        PgValueFormat::Text => value
            .as_str()
            .map(|s| Value::String(s.to_string()))
            .unwrap_or(Value::Null),
        PgValueFormat::Binary => match value.as_bytes() {
            Ok(bytes) if is_array => decode_array(bytes).unwrap_or_else(|| fallback(bytes)),
            Ok(bytes) => decode_binary(oid, bytes),
            Err(_) => Value::Null,
        },
    }
}

/// Decodes a non-NULL binary value of the type with `oid`.
pub(crate) fn decode_binary(oid: u32, bytes: &[u8]) -> Value {
    decode_known(oid, bytes).unwrap_or_else(|| fallback(bytes))
}

fn decode_known(oid: u32, b: &[u8]) -> Option<Value> {
    Some(match oid {
        16 => Value::Bool(*b.first()? != 0),
        17 => Value::String(hex(b)),
        18 => Value::String(String::from_utf8_lossy(b).into_owned()),
        20 => json!(i64::from_be_bytes(b.try_into().ok()?)),
        21 => json!(i16::from_be_bytes(b.try_into().ok()?)),
        23 => json!(i32::from_be_bytes(b.try_into().ok()?)),
        26 | 24 | 2202 | 2203 | 2204 | 2205 | 2206 | 3734 | 3769 | 4089 | 4096 => {
            // oid and reg* types travel as the numeric oid.
            json!(u32::from_be_bytes(b.try_into().ok()?))
        }
        700 => float(f64::from(f32::from_be_bytes(b.try_into().ok()?))),
        701 => float(f64::from_be_bytes(b.try_into().ok()?)),
        790 => Value::String(money(i64::from_be_bytes(b.try_into().ok()?))),
        1700 => Value::String(numeric(b)?),
        1082 => Value::String(date(i32::from_be_bytes(b.try_into().ok()?))),
        1083 => Value::String(time_of_day(i64::from_be_bytes(b.try_into().ok()?))),
        1266 => {
            let micros = i64::from_be_bytes(b.get(0..8)?.try_into().ok()?);
            let zone = i32::from_be_bytes(b.get(8..12)?.try_into().ok()?);
            Value::String(format!("{}{}", time_of_day(micros), offset(-zone)))
        }
        1114 => Value::String(timestamp(i64::from_be_bytes(b.try_into().ok()?), false)),
        1184 => Value::String(timestamp(i64::from_be_bytes(b.try_into().ok()?), true)),
        1186 => {
            let micros = i64::from_be_bytes(b.get(0..8)?.try_into().ok()?);
            let days = i32::from_be_bytes(b.get(8..12)?.try_into().ok()?);
            let months = i32::from_be_bytes(b.get(12..16)?.try_into().ok()?);
            Value::String(interval(micros, days, months))
        }
        2950 => Value::String(uuid(b)?),
        114 => serde_json::from_slice(b).ok()?,
        3802 => serde_json::from_slice(b.strip_prefix(&[1])?).ok()?,
        869 | 650 => Value::String(inet(b)?),
        829 => Value::String(
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        2249 => decode_record(b)?,
        _ => return None,
    })
}

/// Unknown types (enums, domains over text, citext, extension types): their binary form is
/// usually the text itself; otherwise show the bytes.
fn fallback(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => Value::String(s.to_string()),
        _ => Value::String(hex(bytes)),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map(Value::Number).unwrap_or_else(|| {
        Value::String(if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        })
    })
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// NUMERIC: base-10000 digits with a weight, sign and display scale.
fn numeric(b: &[u8]) -> Option<String> {
    let word =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?)) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 || w == weight {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut index = weight + 1;
    while frac.len() < dscale {
        let d = if index < 0 {
            0
        } else {
            digits.get(index as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        index += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Some(if dscale > 0 {
        format!("{sign}{int_part}.{frac}")
    } else {
        format!("{sign}{int_part}")
    })
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn ymd(days_since_pg_epoch: i64) -> String {
    let (y, m, d) = civil_from_days(days_since_pg_epoch + PG_EPOCH_DAYS);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:+05}-{m:02}-{d:02}")
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => ymd(i64::from(d)),
    }
}

fn time_of_day(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

fn offset(seconds_east: i32) -> String {
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let s = seconds_east.unsigned_abs();
    if s.is_multiple_of(60) {
        format!("{sign}{:02}:{:02}", s / 3600, s / 60 % 60)
    } else {
        format!("{sign}{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

fn timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        m => {
            let days = m.div_euclid(USECS_PER_DAY);
            let rest = m.rem_euclid(USECS_PER_DAY);
            format!(
                "{}T{}{}",
                ymd(days),
                time_of_day(rest),
                if utc { "Z" } else { "" }
            )
        }
    }
}

/// PostgreSQL's own interval style: `1 year 2 mons 3 days 04:05:06.5`.
fn interval(micros: i64, days: i32, months: i32) -> String {
    let mut parts = Vec::new();
    let (years, months) = (months / 12, months % 12);
    let unit =
        |n: i64, one: &str, many: &str| format!("{n} {}", if n.abs() == 1 { one } else { many });
    if years != 0 {
        parts.push(unit(i64::from(years), "year", "years"));
    }
    if months != 0 {
        parts.push(unit(i64::from(months), "mon", "mons"));
    }
    if days != 0 {
        parts.push(unit(i64::from(days), "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        parts.push(format!(
            "{sign}{}",
            time_of_day(micros.unsigned_abs() as i64)
        ));
    }
    parts.join(" ")
}

fn uuid(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn inet(b: &[u8]) -> Option<String> {
    let (family, bits, is_cidr, len) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)? as usize);
    let addr = b.get(4..4 + len)?;
    let (text, full) = match family {
        2 => (
            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?).to_string(),
            32,
        ),
        3 => (
            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?).to_string(),
            128,
        ),
        _ => return None,
    };
    Some(if is_cidr != 0 || bits != full {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// Arrays: dimensions, then elements; nested JSON arrays for more than one dimension.
fn decode_array(b: &[u8]) -> Option<Value> {
    let int =
        |i: usize| -> Option<i32> { Some(i32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
    let ndim = int(0)? as usize;
    let elem_oid = int(8)? as u32;
    if ndim == 0 {
        return Some(Value::Array(Vec::new()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| int(12 + 8 * d).map(|n| n.max(0) as usize))
        .collect::<Option<_>>()?;
    let mut pos = 12 + 8 * ndim;
    let total: usize = dims.iter().product();
    let mut elems = Vec::with_capacity(total);
    for _ in 0..total {
        let len = int(pos)?;
        pos += 4;
        if len < 0 {
            elems.push(Value::Null);
        } else {
            let bytes = b.get(pos..pos + len as usize)?;
            pos += len as usize;
            elems.push(decode_binary(elem_oid, bytes));
        }
    }
    Some(nest(&dims, &mut elems.into_iter()))
}

fn nest(dims: &[usize], elems: &mut impl Iterator<Item = Value>) -> Value {
    match dims.split_first() {
        None => elems.next().unwrap_or(Value::Null),
        Some((&n, rest)) => Value::Array((0..n).map(|_| nest(rest, elems)).collect()),
    }
}

/// Anonymous records and composites: an array of field values.
fn decode_record(b: &[u8]) -> Option<Value> {
    let int =
        |i: usize| -> Option<i32> { Some(i32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
    let count = int(0)?.max(0) as usize;
    let mut pos = 4;
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let oid = int(pos)? as u32;
        let len = int(pos + 4)?;
        pos += 8;
        if len < 0 {
            fields.push(Value::Null);
        } else {
            let bytes = b.get(pos..pos + len as usize)?;
            pos += len as usize;
            fields.push(decode_binary(oid, bytes));
        }
    }
    Some(Value::Array(fields))
}

/// The name to show for a column's type: sqlx's name, lower-cased like PostgreSQL prints it.
pub(crate) fn type_name(info: &sqlx::postgres::PgTypeInfo) -> String {
    let name = info.name();
    if name.chars().any(|c| c.is_ascii_lowercase()) {
        name.to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_keep_every_digit() {
        // 12345.6700 = [1, 2345, 6700], weight 1, dscale 4
        assert_eq!(
            numeric(&numeric_bytes(3, 1, 0, 4, &[1, 2345, 6700])).as_deref(),
            Some("12345.6700")
        );
        // -0.0012 = [12], weight -1, dscale 4
        assert_eq!(
            numeric(&numeric_bytes(1, -1, 0x4000, 4, &[12])).as_deref(),
            Some("-0.0012")
        );
        // 10000000000000000000000000001 = [1, 0, 0, 0, 0, 0, 0, 1], weight 7
        assert_eq!(
            numeric(&numeric_bytes(8, 7, 0, 0, &[1, 0, 0, 0, 0, 0, 0, 1])).as_deref(),
            Some("10000000000000000000000000001")
        );
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 0, 2, &[])).as_deref(),
            Some("0.00")
        );
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 0xC000, 0, &[])).as_deref(),
            Some("NaN")
        );
    }

    #[test]
    fn dates_and_times_are_iso_8601() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(i32::MAX), "infinity");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_500_000, true),
            "2000-01-02T01:02:03.5Z"
        );
        assert_eq!(timestamp(-1, false), "1999-12-31T23:59:59.999999");
        assert_eq!(
            interval(3_723_000_000, 3, 14),
            "1 year 2 mons 3 days 01:02:03"
        );
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(offset(-5 * 3600), "-05:00");
    }
}

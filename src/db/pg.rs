//! PostgreSQL through sqlx: parameters are encoded into the type the server infers for each
//! placeholder (so text goes into TIMESTAMP, numbers into VARCHAR), results decoded by type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnection, PgTypeInfo, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::{
    Arguments, Column, Decode, Encode, Executor, Row as _, Statement, Type, TypeInfo, ValueRef,
};

use super::error::Failure;
use super::time::{format_unix_micros, parse_datetime};
use super::{DbError, Row, Value};

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// Parameter types per statement text, filled on first use.
pub(crate) type TypeCache = Mutex<HashMap<String, Arc<Vec<PgTypeInfo>>>>;

struct Param<'a> {
    value: &'a Value,
    ty: PgTypeInfo,
}

impl Type<Postgres> for Param<'_> {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
}

fn int_of(v: &Value) -> Result<i64, BoxDynError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        Value::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an integer").into()),
        other => Err(format!("{other:?} is not an integer").into()),
    }
}

fn float_of(v: &Value) -> Result<f64, BoxDynError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a number").into()),
        other => Err(format!("{other:?} is not a number").into()),
    }
}

impl Encode<'_, Postgres> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        if self.value.is_null() {
            return Ok(IsNull::Yes);
        }
        let v = self.value;
        match self.ty.name() {
            "BOOL" => buf.push(u8::from(match v {
                Value::Text(s) => matches!(s.as_str(), "t" | "true" | "1" | "yes" | "on"),
                other => int_of(other)? != 0,
            })),
            "INT2" => buf.extend(i16::try_from(int_of(v)?)?.to_be_bytes()),
            "INT4" => buf.extend(i32::try_from(int_of(v)?)?.to_be_bytes()),
            "OID" => buf.extend(u32::try_from(int_of(v)?)?.to_be_bytes()),
            "INT8" => buf.extend(int_of(v)?.to_be_bytes()),
            "FLOAT4" => buf.extend((float_of(v)? as f32).to_be_bytes()),
            "FLOAT8" => buf.extend(float_of(v)?.to_be_bytes()),
            "BYTEA" => match v {
                Value::Blob(b) => buf.extend_from_slice(b),
                other => buf.extend_from_slice(other.to_text().unwrap_or_default().as_bytes()),
            },
            "TIMESTAMP" | "TIMESTAMPTZ" => {
                let us = match v {
                    Value::Text(s) => parse_datetime(s)
                        .ok_or_else(|| format!("`{s}` is not a date-time (YYYY-MM-DD HH:MM:SS)"))?,
                    other => int_of(other)? * 1_000_000,
                };
                buf.extend((us - PG_EPOCH_US).to_be_bytes());
            }
            "DATE" => {
                let us = match v {
                    Value::Text(s) => {
                        parse_datetime(s).ok_or_else(|| format!("`{s}` is not a date"))?
                    }
                    other => int_of(other)? * 1_000_000,
                };
                let days = (us - PG_EPOCH_US).div_euclid(86_400_000_000);
                buf.extend(i32::try_from(days)?.to_be_bytes());
            }
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" | "CHAR" | "JSON" | "XML" => match v
            {
                Value::Blob(b) => buf.extend_from_slice(
                    std::str::from_utf8(b)
                        .map_err(|_| "binary data for a text column")?
                        .as_bytes(),
                ),
                other => buf.extend_from_slice(other.to_text().unwrap_or_default().as_bytes()),
            },
            other => {
                return Err(format!(
                    "osips cannot send a value for a PostgreSQL {other} parameter"
                )
                .into());
            }
        }
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.ty.clone())
    }
}

struct Cell(Value);

impl Type<Postgres> for Cell {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
}

fn be<const N: usize>(b: &[u8]) -> Result<[u8; N], BoxDynError> {
    b.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", b.len()).into())
}

fn numeric_text(b: &[u8]) -> Result<String, BoxDynError> {
    if b.len() < 8 {
        return Err("short NUMERIC".into());
    }
    let nd = i16::from_be_bytes(be(&b[0..2])?) as usize;
    let weight = i16::from_be_bytes(be(&b[2..4])?) as i32;
    let sign = u16::from_be_bytes(be(&b[4..6])?);
    let dscale = u16::from_be_bytes(be(&b[6..8])?) as usize;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits: Vec<i32> = (0..nd)
        .map(|i| {
            b.get(8 + 2 * i..10 + 2 * i)
                .map(|d| i16::from_be_bytes([d[0], d[1]]) as i32)
        })
        .collect::<Option<_>>()
        .ok_or("short NUMERIC")?;
    let mut int = String::new();
    for w in 0..=weight.max(0) {
        let d = if w <= weight {
            digits.get(w as usize).copied().unwrap_or(0)
        } else {
            0
        };
        if int.is_empty() {
            if w <= weight {
                int.push_str(&d.to_string());
            }
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    if int.is_empty() || weight < 0 {
        int = "0".into();
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        let d = if i >= 0 {
            digits.get(i as usize).copied().unwrap_or(0)
        } else {
            0
        };
        frac.push_str(&format!("{d:04}"));
        i += 1;
    }
    frac.truncate(dscale);
    let mut s = if sign == 0x4000 {
        format!("-{int}")
    } else {
        int
    };
    if dscale > 0 {
        s.push('.');
        s.push_str(&frac);
    }
    Ok(s)
}

impl Decode<'_, Postgres> for Cell {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Cell(Value::Null));
        }
        let name = value.type_info().name().to_string();
        if value.format() == PgValueFormat::Text {
            let s = value.as_str()?;
            return Ok(Cell(match name.as_str() {
                "INT2" | "INT4" | "INT8" | "OID" => Value::Int(s.parse()?),
                "FLOAT4" | "FLOAT8" => Value::Float(s.parse()?),
                "BOOL" => Value::Int((s == "t") as i64),
                _ => Value::Text(s.to_string()),
            }));
        }
        let b = value.as_bytes()?;
        Ok(Cell(match name.as_str() {
            "BOOL" => Value::Int(b.first().copied().unwrap_or(0) as i64),
            "INT2" => Value::Int(i16::from_be_bytes(be(b)?) as i64),
            "INT4" => Value::Int(i32::from_be_bytes(be(b)?) as i64),
            "OID" => Value::Int(u32::from_be_bytes(be(b)?) as i64),
            "INT8" => Value::Int(i64::from_be_bytes(be(b)?)),
            "FLOAT4" => Value::Float(f32::from_be_bytes(be(b)?) as f64),
            "FLOAT8" => Value::Float(f64::from_be_bytes(be(b)?)),
            "BYTEA" => Value::Blob(b.to_vec()),
            "TIMESTAMP" | "TIMESTAMPTZ" => {
                Value::Text(format_unix_micros(i64::from_be_bytes(be(b)?) + PG_EPOCH_US))
            }
            "DATE" => {
                let days = i32::from_be_bytes(be(b)?) as i64;
                let s = format_unix_micros(days * 86_400_000_000 + PG_EPOCH_US);
                Value::Text(s[..10].to_string())
            }
            "NUMERIC" => Value::Text(numeric_text(b)?),
            _ => match std::str::from_utf8(b) {
                Ok(s) => Value::Text(s.to_string()),
                Err(_) => Value::Blob(b.to_vec()),
            },
        }))
    }
}

async fn param_types(
    conn: &mut PgConnection,
    cache: &TypeCache,
    sql: &str,
) -> Result<Arc<Vec<PgTypeInfo>>, sqlx::Error> {
    if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
        return Ok(t.clone());
    }
    let stmt = conn
        .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
            sql.to_string(),
        )))
        .await?;
    let types = match stmt.parameters() {
        Some(sqlx::Either::Left(t)) => t.to_vec(),
        _ => Vec::new(),
    };
    let types = Arc::new(types);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(sql.to_string(), types.clone());
    Ok(types)
}

async fn arguments(
    conn: &mut PgConnection,
    cache: &TypeCache,
    sql: &str,
    params: &[Value],
) -> Result<PgArguments, Failure> {
    let mut args = PgArguments::default();
    if params.is_empty() {
        return Ok(args);
    }
    let types = param_types(conn, cache, sql).await?;
    if types.len() != params.len() {
        return Err(Failure::Db(DbError::Invalid(format!(
            "the statement has {} placeholders but {} values were given",
            types.len(),
            params.len()
        ))));
    }
    for (i, (value, ty)) in params.iter().zip(types.iter()).enumerate() {
        args.add(Param {
            value,
            ty: ty.clone(),
        })
        .map_err(|e| Failure::Db(DbError::Convert(format!("parameter {}: {e}", i + 1))))?;
    }
    Ok(args)
}

pub(crate) async fn execute(
    conn: &mut PgConnection,
    cache: &TypeCache,
    sql: &str,
    params: &[Value],
) -> Result<u64, Failure> {
    if params.is_empty() {
        let r = conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())))
            .await?;
        return Ok(r.rows_affected());
    }
    let args = arguments(conn, cache, sql, params).await?;
    let r = sqlx::query_with(sqlx::AssertSqlSafe(sql.to_string()), args)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

pub(crate) async fn query(
    conn: &mut PgConnection,
    cache: &TypeCache,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, Failure> {
    let args = arguments(conn, cache, sql, params).await?;
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql.to_string()), args)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut columns: Option<Arc<[String]>> = None;
    for r in rows {
        let cols = columns
            .get_or_insert_with(|| r.columns().iter().map(|c| c.name().to_string()).collect())
            .clone();
        let mut values = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            let c: Cell = r.try_get_unchecked(i)?;
            values.push(c.0);
        }
        out.push(Row {
            columns: cols,
            values,
        });
    }
    Ok(out)
}

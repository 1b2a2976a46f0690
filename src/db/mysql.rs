//! MySQL / MariaDB through sqlx: parameters are bound as their natural type (the server
//! converts), results decoded by column type.

use std::sync::Arc;

use sqlx::error::BoxDynError;
use sqlx::mysql::{MySql, MySqlArguments, MySqlConnection, MySqlTypeInfo, MySqlValueRef};
use sqlx::{Arguments, Column, Decode, Executor, Row as _, Type, TypeInfo, ValueRef};

use super::error::Failure;
use super::time::format_parts;
use super::{DbError, Row, Value};

struct Cell(Value);

impl Type<MySql> for Cell {
    fn type_info() -> MySqlTypeInfo {
        <String as Type<MySql>>::type_info()
    }
}

/// Binary DATETIME / DATE / TIMESTAMP: length, year (LE u16), month, day, [h, m, s, [micros LE u32]].
fn datetime(b: &[u8], date_only: bool) -> Result<String, BoxDynError> {
    let len = *b.first().ok_or("empty date-time")? as usize;
    let b = &b[1..];
    if len == 0 {
        return Ok(if date_only {
            "0000-00-00".into()
        } else {
            "0000-00-00 00:00:00".into()
        });
    }
    if b.len() < len || len < 4 {
        return Err("short date-time".into());
    }
    let y = u16::from_le_bytes([b[0], b[1]]) as i64;
    let (mo, d) = (b[2] as u32, b[3] as u32);
    if date_only {
        return Ok(format!("{y:04}-{mo:02}-{d:02}"));
    }
    let (h, mi, s) = if len >= 7 {
        (b[4] as u32, b[5] as u32, b[6] as u32)
    } else {
        (0, 0, 0)
    };
    let micros = if len >= 11 {
        u32::from_le_bytes([b[7], b[8], b[9], b[10]])
    } else {
        0
    };
    Ok(format_parts(y, mo, d, h, mi, s, micros))
}

/// Binary TIME: length, negative, days (LE u32), h, m, s, [micros].
fn time(b: &[u8]) -> Result<String, BoxDynError> {
    let len = *b.first().ok_or("empty time")? as usize;
    if len == 0 {
        return Ok("00:00:00".into());
    }
    let b = &b[1..];
    if b.len() < len || len < 8 {
        return Err("short time".into());
    }
    let neg = if b[0] == 1 { "-" } else { "" };
    let days = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
    let h = days * 24 + b[5] as u32;
    Ok(format!("{neg}{h:02}:{:02}:{:02}", b[6], b[7]))
}

impl Decode<'_, MySql> for Cell {
    fn decode(value: MySqlValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Cell(Value::Null));
        }
        let name = value.type_info().name().to_string();
        let v = match name.as_str() {
            "NULL" => Value::Null,
            n if n.ends_with("UNSIGNED") => {
                let u = <u64 as Decode<MySql>>::decode(value)?;
                Value::Int(
                    i64::try_from(u)
                        .map_err(|_| format!("{u} does not fit in a signed 64-bit integer"))?,
                )
            }
            "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                Value::Int(<i64 as Decode<MySql>>::decode(value)?)
            }
            "FLOAT" | "DOUBLE" => Value::Float(<f64 as Decode<MySql>>::decode(value)?),
            "DATETIME" | "TIMESTAMP" | "DATE" | "TIME" => {
                let b = <&[u8] as Decode<MySql>>::decode(value)?;
                // Prepared statements answer in binary; a text answer is already readable.
                if b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'-') && b.len() > 8 {
                    Value::Text(String::from_utf8_lossy(b).into_owned())
                } else if name == "TIME" {
                    Value::Text(time(b)?)
                } else {
                    Value::Text(datetime(b, name == "DATE")?)
                }
            }
            "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
            | "GEOMETRY" => Value::Blob(<&[u8] as Decode<MySql>>::decode(value)?.to_vec()),
            _ => {
                let b = <&[u8] as Decode<MySql>>::decode(value)?;
                match std::str::from_utf8(b) {
                    Ok(s) => Value::Text(s.to_string()),
                    Err(_) => Value::Blob(b.to_vec()),
                }
            }
        };
        Ok(Cell(v))
    }
}

fn arguments(params: &[Value]) -> Result<MySqlArguments, DbError> {
    let mut args = MySqlArguments::default();
    for (i, v) in params.iter().enumerate() {
        let r = match v {
            Value::Null => args.add(None::<String>),
            Value::Int(x) => args.add(*x),
            Value::Float(x) => args.add(*x),
            Value::Text(s) => args.add(s.clone()),
            Value::Blob(b) => args.add(b.clone()),
        };
        r.map_err(|e| DbError::Convert(format!("parameter {}: {e}", i + 1)))?;
    }
    Ok(args)
}

pub(crate) async fn execute(
    conn: &mut MySqlConnection,
    sql: &str,
    params: &[Value],
) -> Result<u64, Failure> {
    if params.is_empty() {
        let r = conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())))
            .await?;
        return Ok(r.rows_affected());
    }
    let args = arguments(params)?;
    let r = sqlx::query_with(sqlx::AssertSqlSafe(sql.to_string()), args)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

pub(crate) async fn query(
    conn: &mut MySqlConnection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, Failure> {
    let args = arguments(params)?;
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

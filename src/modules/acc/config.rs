//! acc's modparams: where records go (log level, tables, column names) and the extra fields
//! (`extra_fields = "db: tag->column; tag2"`) whose values the script sets with `$acc_extra(tag)`.

use crate::script::module::{InitCtx, ParamValue};

/// One extra field: the `$acc_extra` tag and the name it is written under (column / log key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    pub tag: String,
    pub name: String,
}

/// Extra fields per backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub log: Vec<Extra>,
    pub db: Vec<Extra>,
    pub evi: Vec<Extra>,
    pub aaa: Vec<Extra>,
}

impl Extras {
    /// Every tag declared for any backend.
    pub fn knows(&self, tag: &str) -> bool {
        [&self.log, &self.db, &self.evi, &self.aaa]
            .iter()
            .any(|l| l.iter().any(|e| e.tag == tag))
    }

    /// Adds one `extra_fields` value: `backend: tag[->name]; tag[->name]...`.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let (backend, list) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: no `backend:` prefix (log, db, aaa, evi)"))?;
        let dest = match backend.trim().to_ascii_lowercase().as_str() {
            "log" => &mut self.log,
            "db" => &mut self.db,
            "evi" => &mut self.evi,
            "aaa" => &mut self.aaa,
            b => return Err(format!("`{b}` is not a backend (log, db, aaa, evi)")),
        };
        for item in list.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (tag, name) = match item.split_once("->") {
                Some((t, n)) => (t.trim(), n.trim()),
                None => (item, item),
            };
            if tag.is_empty() || name.is_empty() {
                return Err(format!("`{item}`: empty tag or name"));
            }
            if tag.starts_with('$') {
                return Err(format!(
                    "`{tag}`: extra fields are tags set with $acc_extra({}) in 3.x",
                    tag.trim_start_matches('$')
                ));
            }
            dest.push(Extra {
                tag: tag.to_string(),
                name: name.to_string(),
            });
        }
        Ok(())
    }
}

/// Column names of the default record.
#[derive(Debug, Clone)]
pub struct Columns {
    pub method: String,
    pub from_tag: String,
    pub to_tag: String,
    pub callid: String,
    pub sip_code: String,
    pub sip_reason: String,
    pub time: String,
}

#[derive(Debug, Clone)]
pub struct AccConfig {
    pub log_level: i32,
    pub log_facility: String,
    pub table_acc: String,
    pub table_missed: String,
    pub report_cancels: bool,
    pub early_media: bool,
    /// Name of the 1.x-style flag that marks failed transactions for accounting.
    pub failed_transaction_flag: Option<String>,
    pub created_avp: Option<String>,
    pub extras: Extras,
    /// `leg_fields`: per-leg values (`$acc_leg(tag)`), one set per call leg.
    pub legs: Extras,
    pub columns: Columns,
}

fn str_of(ctx: &InitCtx<'_>, name: &str) -> Option<String> {
    match ctx.params.get(name) {
        Some(ParamValue::Str(s)) => Some(s.clone()),
        Some(ParamValue::Int(i)) => Some(i.to_string()),
        None => None,
    }
}

fn int_of(ctx: &InitCtx<'_>, name: &str, default: i64) -> Result<i64, String> {
    match ctx.params.get(name) {
        None => Ok(default),
        Some(ParamValue::Int(i)) => Ok(*i),
        Some(ParamValue::Str(s)) => {
            if let Some(l) = crate::script::compiler::xlog_level(s.trim()) {
                return Ok(l as i64);
            }
            s.trim()
                .parse()
                .map_err(|_| format!("modparam {name}: `{s}` is not a number"))
        }
    }
}

impl AccConfig {
    pub fn from_params(ctx: &InitCtx<'_>) -> Result<AccConfig, String> {
        let mut extras = Extras::default();
        for v in ctx.params.all("extra_fields") {
            if let ParamValue::Str(s) = v {
                extras
                    .add(s)
                    .map_err(|e| format!("modparam extra_fields: {e}"))?;
            }
        }
        let mut legs = Extras::default();
        for v in ctx.params.all("leg_fields") {
            if let ParamValue::Str(s) = v {
                legs.add(s).map_err(|e| {
                    format!(
                        "modparam leg_fields: {}",
                        e.replace("$acc_extra", "$acc_leg")
                    )
                })?;
            }
        }
        let col = |name: &str, default: &str| str_of(ctx, name).unwrap_or(default.to_string());
        let facility = col("log_facility", "LOG_DAEMON");
        if !facility.starts_with("LOG_") {
            return Err(format!(
                "modparam log_facility: `{facility}` is not a syslog facility (LOG_DAEMON, LOG_LOCAL0...)"
            ));
        }
        Ok(AccConfig {
            log_level: int_of(ctx, "log_level", 2)? as i32,
            log_facility: facility,
            table_acc: col("db_table_acc", "acc"),
            table_missed: col("db_table_missed_calls", "missed_calls"),
            report_cancels: int_of(ctx, "report_cancels", 0)? != 0,
            early_media: int_of(ctx, "early_media", 0)? != 0,
            failed_transaction_flag: str_of(ctx, "failed_transaction_flag"),
            created_avp: str_of(ctx, "acc_created_avp_name"),
            extras,
            legs,
            columns: Columns {
                method: col("acc_method_column", "method"),
                from_tag: col("acc_from_tag_column", "from_tag"),
                to_tag: col("acc_to_tag_column", "to_tag"),
                callid: col("acc_callid_column", "callid"),
                sip_code: col("acc_sip_code_column", "sip_code"),
                sip_reason: col("acc_sip_reason_column", "sip_reason"),
                time: col("acc_time_column", "time"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_per_backend() {
        let mut e = Extras::default();
        e.add("db: caller_id->from_uri; callee").unwrap();
        e.add("log: caller_id").unwrap();
        assert_eq!(
            e.db,
            vec![
                Extra {
                    tag: "caller_id".into(),
                    name: "from_uri".into()
                },
                Extra {
                    tag: "callee".into(),
                    name: "callee".into()
                }
            ]
        );
        assert_eq!(e.log.len(), 1);
        assert!(e.knows("callee"));
        assert!(!e.knows("other"));
    }

    #[test]
    fn bad_extra_fields_are_named() {
        let mut e = Extras::default();
        assert!(e.add("caller_id->x").unwrap_err().contains("backend"));
        assert!(e.add("sql: a").unwrap_err().contains("`sql`"));
        assert!(e.add("db: ->x").unwrap_err().contains("empty"));
        assert!(
            e.add("db: $fu->from")
                .unwrap_err()
                .contains("$acc_extra(fu)")
        );
    }
}

//! dialplan: string translation rules kept in a table (`dialplan`), cached per partition.
//! `dp_translate(id, input[, out_var[, attrs_var[, partition]]])`; MI `dp_reload [partition]`,
//! `dp_translate dpid input [partition]`, `dp_show_partition [partition]`.
//! A rule with a `timerec` never matches (time recurrences are not evaluated yet).

mod mi;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::db::{Db, DbUrl};
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, ParamValue, p};
use crate::script::pv::PvSpec;
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db;
use rules::{Dialplans, RuleRow};

pub const DEFAULT_PARTITION: &str = "default";

/// One data source: its table and the rules loaded from it.
struct Partition {
    name: String,
    db: Arc<Db>,
    table: String,
    select: String,
    rules: RwLock<Arc<Dialplans>>,
}

static PARTITIONS: RwLock<BTreeMap<String, Arc<Partition>>> = RwLock::new(BTreeMap::new());

impl Partition {
    fn load(&self) -> Result<Dialplans, String> {
        let rows = self.db.query(&self.select, &[]).map_err(|e| {
            format!(
                "dialplan partition {}: table {}: {e}",
                self.name, self.table
            )
        })?;
        let rows = rows
            .iter()
            .map(|r| {
                let text = |i| r.get(i).to_text();
                RuleRow {
                    id: r.get(0).as_i64().unwrap_or(0),
                    dpid: r.get(1).as_i64().unwrap_or(0),
                    pr: r.get(2).as_i64().unwrap_or(0),
                    match_op: r.get(3).as_i64().unwrap_or(-1),
                    match_exp: text(4).unwrap_or_default(),
                    match_flags: r.get(5).as_i64().unwrap_or(0),
                    subst_exp: text(6),
                    repl_exp: text(7),
                    timerec: text(8).filter(|t| !t.trim().is_empty()),
                    attrs: text(9),
                }
            })
            .filter(|row| {
                if row.timerec.is_some() {
                    tracing::warn!(
                        "dialplan: rule id {} has a timerec, which osips does not evaluate yet: the rule is left out",
                        row.id
                    );
                }
                row.timerec.is_none()
            })
            .collect();
        let (rules, errors) = Dialplans::build(rows);
        for e in errors {
            tracing::error!("{e} (rule left out)");
        }
        Ok(rules)
    }

    fn reload(&self) -> Result<(), String> {
        let rules = self.load()?;
        *self.rules.write() = Arc::new(rules);
        Ok(())
    }
}

/// One `partition` modparam.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PartitionDef {
    /// `name: table_name = t; db_url = u`.
    Source {
        name: String,
        table: Option<String>,
        url: Option<String>,
    },
    /// `default: other`: the default partition is `other`.
    DefaultIs(String),
}

fn parse_partition(text: &str) -> Result<PartitionDef, String> {
    let (name, props) = text
        .split_once(':')
        .ok_or_else(|| format!("modparam partition `{}`: no `name:`", text.trim()))?;
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err("modparam partition: empty partition name".into());
    }
    let bare = props.trim();
    if name == DEFAULT_PARTITION
        && !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Ok(PartitionDef::DefaultIs(bare.to_string()));
    }
    let (mut table, mut url) = (None, None);
    for prop in props.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = prop.split_once('=') else {
            return Err(format!(
                "modparam partition {name}: `{prop}` is not `key = value`"
            ));
        };
        match k.trim() {
            "table_name" => table = Some(v.trim().to_string()),
            "db_url" => url = Some(v.trim().to_string()),
            k => {
                return Err(format!(
                    "modparam partition {name}: unknown property `{k}` (table_name, db_url)"
                ));
            }
        }
    }
    Ok(PartitionDef::Source { name, table, url })
}

fn connect(url: &str) -> Result<Arc<Db>, String> {
    let u = DbUrl::parse(url).map_err(|e| format!("db_url: {e}"))?;
    Db::connect(&u)
        .map(Arc::new)
        .map_err(|e| format!("database {}: {e}", u.redacted()))
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let mut defs: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut default_is: Option<String> = None;
    for v in ctx.params.all("partition") {
        let ParamValue::Str(s) = v else {
            return Err("modparam partition: not a string".into());
        };
        match parse_partition(s)? {
            PartitionDef::DefaultIs(other) => default_is = Some(other),
            PartitionDef::Source { name, table, url } => {
                if defs.iter().any(|d| d.0 == name) {
                    return Err(format!("modparam partition: `{name}` defined twice"));
                }
                defs.push((name, table, url));
            }
        }
    }
    if let Some(other) = &default_is {
        if defs.iter().any(|d| d.0 == DEFAULT_PARTITION) {
            return Err(format!(
                "modparam partition: `default` is defined and also set to `{other}`"
            ));
        }
        if !defs.iter().any(|d| &d.0 == other) {
            return Err(format!(
                "modparam partition: `default: {other}` names no defined partition"
            ));
        }
    } else if !defs.iter().any(|d| d.0 == DEFAULT_PARTITION) {
        defs.insert(0, (DEFAULT_PARTITION.to_string(), None, None));
    }
    let default_table = db::str_param(ctx, "table_name", "dialplan");
    let mut default_db: Option<Arc<Db>> = None;
    let mut map = BTreeMap::new();
    for (name, table, url) in defs {
        let handle = match url {
            Some(u) => connect(&u).map_err(|e| format!("partition {name}: {e}"))?,
            None => match &default_db {
                Some(d) => d.clone(),
                None => {
                    let d = db::open(ctx)?;
                    default_db = Some(d.clone());
                    d
                }
            },
        };
        let table = table.unwrap_or_else(|| default_table.clone());
        let col = |n: &str, d: &str| db::ident(&handle, "column", &db::str_param(ctx, n, d));
        let select = format!(
            "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {} WHERE {} = 0",
            db::ident(&handle, "column", "id")?,
            col("dpid_col", "dpid")?,
            col("pr_col", "pr")?,
            col("match_op_col", "match_op")?,
            col("match_exp_col", "match_exp")?,
            col("match_flags_col", "match_flags")?,
            col("subst_exp_col", "subst_exp")?,
            col("repl_exp_col", "repl_exp")?,
            col("timerec_col", "timerec")?,
            col("attrs_col", "attrs")?,
            db::ident(&handle, "table", &table)?,
            col("disabled_col", "disabled")?,
        );
        let part = Partition {
            name: name.clone(),
            db: handle,
            table,
            select,
            rules: RwLock::new(Arc::new(Dialplans::default())),
        };
        part.reload()?;
        map.insert(name, Arc::new(part));
    }
    if let Some(other) = default_is {
        let p = map[&other].clone();
        map.insert(DEFAULT_PARTITION.to_string(), p);
    }
    *PARTITIONS.write() = map;
    Ok(())
}

fn partition(name: Option<&str>) -> Option<Arc<Partition>> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or(DEFAULT_PARTITION);
    PARTITIONS.read().get(name).cloned()
}

/// The translation of `input` by dialplan `dpid` of `partition` (None = default); Ok(None) when
/// no rule matches. `vars` reads the variables a `repl_exp` names.
pub fn translate(
    partition_name: Option<&str>,
    dpid: i64,
    input: &str,
    vars: &mut rules::VarReader<'_>,
) -> Result<Option<rules::Translation>, String> {
    let part = partition(partition_name).ok_or_else(|| {
        format!(
            "no dialplan partition `{}`",
            partition_name.unwrap_or(DEFAULT_PARTITION)
        )
    })?;
    let rules = part.rules.read().clone();
    rules.translate(dpid, input, vars)
}

fn dp_translate(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some(dpid) = args.first().and_then(ArgValue::int) else {
        tracing::error!("dp_translate: the dialplan id is not an integer");
        return -1;
    };
    let input = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let part = args.get(4).and_then(ArgValue::str).map(str::to_string);
    let mut vars = |spec: &PvSpec| {
        ctx.get_pv(spec)
            .map(|v| v.to_display().into_owned())
            .unwrap_or_default()
    };
    let t = match translate(part.as_deref(), dpid as i64, &input, &mut vars) {
        Ok(Some(t)) => t,
        Ok(None) => return -1,
        Err(e) => {
            tracing::error!("dp_translate: {e}");
            return -1;
        }
    };
    if let (Some(ArgValue::Var(out)), Some(output)) = (args.get(2), t.output)
        && let Err(e) = ctx.set_pv(out, AssignOp::Set, Value::str(output))
    {
        tracing::error!("dp_translate: cannot set the output variable: {e}");
        return -1;
    }
    if let Some(ArgValue::Var(attrs)) = args.get(3)
        && let Err(e) = ctx.set_pv(attrs, AssignOp::Set, Value::str(t.attrs))
    {
        tracing::error!("dp_translate: cannot set the attributes variable: {e}");
        return -1;
    }
    1
}

const ROUTES: RouteMask = RouteMask::REQUEST
    .or(RouteMask::FAILURE)
    .or(RouteMask::LOCAL)
    .or(RouteMask::BRANCH)
    .or(RouteMask::STARTUP)
    .or(RouteMask::TIMER)
    .or(RouteMask::EVENT);

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "dialplan",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("table_name"),
        ParamSpec::str("partition").multi(),
        ParamSpec::str("dpid_col"),
        ParamSpec::str("pr_col"),
        ParamSpec::str("match_op_col"),
        ParamSpec::str("match_exp_col"),
        ParamSpec::str("match_flags_col"),
        ParamSpec::str("subst_exp_col"),
        ParamSpec::str("repl_exp_col"),
        ParamSpec::str("timerec_col"),
        ParamSpec::str("disabled_col"),
        ParamSpec::str("attrs_col"),
    ],
    functions: &[FunctionSpec {
        name: "dp_translate",
        params: &[p::INT, p::STR, p::OPT_VAR, p::OPT_VAR, p::OPT_STR],
        routes: ROUTES,
        handler: dp_translate,
    }],
    mi_commands: mi::MI,
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_definitions() {
        let src = |n: &str, t: Option<&str>, u: Option<&str>| PartitionDef::Source {
            name: n.into(),
            table: t.map(Into::into),
            url: u.map(Into::into),
        };
        assert_eq!(
            parse_partition("pstn:\n\ttable_name = dialplan_pstn;\n db_url = sqlite:///x.db")
                .unwrap(),
            src("pstn", Some("dialplan_pstn"), Some("sqlite:///x.db"))
        );
        assert_eq!(parse_partition("p2:").unwrap(), src("p2", None, None));
        assert_eq!(
            parse_partition("default: pstn").unwrap(),
            PartitionDef::DefaultIs("pstn".into())
        );
        assert!(parse_partition("other: pstn").is_err());
        assert!(parse_partition("nocolon").is_err());
        assert!(
            parse_partition("p: colour = red")
                .unwrap_err()
                .contains("colour")
        );
        assert!(parse_partition(": table_name = x").is_err());
    }
}

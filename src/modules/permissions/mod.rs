//! permissions: address-based checks against the cached `address` table.
//! `check_address(group, ip, port, proto[, ctx_var[, pattern]])`,
//! `check_source_address(group[, ctx_var[, pattern]])`, `get_source_group(var)`; MI
//! `address_reload`, `address_dump`. A row that does not parse is skipped with an error naming it.

pub mod address;

use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::json;

use crate::db::Db;
use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};
use crate::runtime::core_fns::sip;
use crate::script::ast::AssignOp;
use crate::script::module::{InitCtx, p};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

use super::auth_db::db;
use address::{AddressRule, AddressTable};

struct State {
    db: Arc<Db>,
    select: String,
    table: RwLock<Arc<AddressTable>>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

impl State {
    fn load(&self) -> Result<AddressTable, String> {
        let rows = self
            .db
            .query(&self.select, &[])
            .map_err(|e| format!("address table: {e}"))?;
        let mut rules = Vec::with_capacity(rows.len());
        for r in &rows {
            let text = |i: usize| r.get(i).to_text();
            let int = |i: usize, d: i64| r.get(i).as_i64().unwrap_or(d);
            let id = int(0, 0);
            match AddressRule::new(
                int(1, 0),
                &text(2).unwrap_or_default(),
                int(3, 32),
                int(4, 0),
                &text(5).unwrap_or_else(|| "any".into()),
                text(6),
                text(7),
            ) {
                Ok(rule) => rules.push(rule),
                Err(e) => tracing::error!("permissions: address row id {id} skipped: {e}"),
            }
        }
        Ok(AddressTable { rules })
    }
}

fn init(ctx: &InitCtx<'_>) -> Result<(), String> {
    let db = db::open(ctx)?;
    let col =
        |name: &str, default: &str| db::ident(&db, "column", &db::str_param(ctx, name, default));
    let select = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
        col("id_col", "id")?,
        col("grp_col", "grp")?,
        col("ip_col", "ip")?,
        col("mask_col", "mask")?,
        col("port_col", "port")?,
        col("proto_col", "proto")?,
        col("pattern_col", "pattern")?,
        col("info_col", "context_info")?,
        db::ident(
            &db,
            "table",
            &db::str_param(ctx, "address_table", "address")
        )?,
    );
    let st = State {
        db,
        select,
        table: RwLock::new(Arc::new(AddressTable::default())),
    };
    *st.table.write() = Arc::new(st.load()?);
    *STATE.write() = Some(Arc::new(st));
    Ok(())
}

fn table() -> Option<Arc<AddressTable>> {
    Some(STATE.read().as_ref()?.table.read().clone())
}

fn set_var(ctx: &mut RunCtx<'_>, var: Option<&ArgValue<'_>>, v: Value) {
    if let Some(ArgValue::Var(spec)) = var
        && let Err(e) = ctx.set_pv(spec, AssignOp::Set, v)
    {
        tracing::error!("permissions: cannot set the variable: {e}");
    }
}

fn check(
    ctx: &mut RunCtx<'_>,
    grp: i32,
    ip: &str,
    port: i32,
    proto: &str,
    var: Option<&ArgValue<'_>>,
    pattern: Option<&str>,
) -> i32 {
    let Some(t) = table() else {
        return -1;
    };
    let Ok(ip) = ip
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        tracing::error!("check_address: `{ip}` is not an IP address");
        return -1;
    };
    let (Ok(grp), Ok(port)) = (u32::try_from(grp), u16::try_from(port)) else {
        return -1;
    };
    let info = match t.check(grp, ip, port, proto, pattern) {
        Some(r) => r.context_info.clone(),
        None => return -1,
    };
    set_var(ctx, var, info.map(Value::str).unwrap_or(Value::Null));
    1
}

fn check_address(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let grp = args.first().and_then(ArgValue::int).unwrap_or(0);
    let ip = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let port = args.get(2).and_then(ArgValue::int).unwrap_or(0);
    let proto = args
        .get(3)
        .and_then(ArgValue::str)
        .unwrap_or("any")
        .to_string();
    let pattern = args.get(5).and_then(ArgValue::str).map(str::to_string);
    check(ctx, grp, &ip, port, &proto, args.get(4), pattern.as_deref())
}

fn source(ctx: &mut RunCtx<'_>) -> Option<(String, i32, String)> {
    let m = sip(ctx)?;
    Some((
        m.info.src.ip().to_string(),
        m.info.src.port() as i32,
        m.info.proto.name().to_ascii_lowercase(),
    ))
}

fn check_source_address(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let grp = args.first().and_then(ArgValue::int).unwrap_or(0);
    let pattern = args.get(2).and_then(ArgValue::str).map(str::to_string);
    let Some((ip, port, proto)) = source(ctx) else {
        return -1;
    };
    check(ctx, grp, &ip, port, &proto, args.get(1), pattern.as_deref())
}

fn get_source_group(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some(t), Some((ip, port, proto))) = (table(), source(ctx)) else {
        return -1;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return -1;
    };
    match t.source_group(ip, port as u16, &proto) {
        Some(g) => {
            set_var(ctx, args.first(), Value::Int(g as i32));
            1
        }
        None => {
            set_var(ctx, args.first(), Value::Int(-1));
            -1
        }
    }
}

fn running() -> Result<Arc<State>, MiError> {
    STATE
        .read()
        .clone()
        .ok_or_else(|| MiError::new(500, "permissions module not running"))
}

fn mi_reload(_p: &MiParams<'_>) -> MiResult {
    let st = running()?;
    let t = st.load().map_err(|e| MiError::new(500, e))?;
    *st.table.write() = Arc::new(t);
    crate::mi::ok()
}

fn mi_dump(_p: &MiParams<'_>) -> MiResult {
    let st = running()?;
    let t = st.table.read().clone();
    let rows: Vec<serde_json::Value> = t
        .rules
        .iter()
        .map(|r| {
            json!({
                "grp": r.grp,
                "ip": r.ip.to_string(),
                "mask": r.mask,
                "port": r.port,
                "proto": r.proto,
                "pattern": r.pattern,
                "context_info": r.context_info,
            })
        })
        .collect();
    Ok(json!({ "Partitions": [{ "name": "default", "Destinations": rows }] }))
}

/// `subnet_dump`: the rows that cover more than one address.
fn mi_subnet_dump(_p: &MiParams<'_>) -> MiResult {
    let st = running()?;
    let t = st.table.read().clone();
    let rows: Vec<serde_json::Value> = t
        .rules
        .iter()
        .filter(|r| r.mask < if r.ip.is_ipv4() { 32 } else { 128 })
        .map(|r| {
            json!({
                "grp": r.grp,
                "ip": r.ip.to_string(),
                "mask": r.mask,
                "port": r.port,
                "proto": r.proto,
                "pattern": r.pattern,
                "context_info": r.context_info,
            })
        })
        .collect();
    Ok(json!({ "Partitions": [{ "name": "default", "Subnets": rows }] }))
}

static MI: &[MiCommand] = &[
    MiCommand {
        name: "subnet_dump",
        aliases: &[],
        help: "lists the cached subnets of the address table",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_subnet_dump,
            },
            Recipe {
                params: &["partition"],
                handler: mi_subnet_dump,
            },
        ],
    },
    MiCommand {
        name: "address_reload",
        aliases: &[],
        help: "reloads the address table",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_reload,
            },
            Recipe {
                params: &["partition"],
                handler: mi_reload,
            },
        ],
    },
    MiCommand {
        name: "address_dump",
        aliases: &[],
        help: "lists the cached address table",
        flags: 0,
        recipes: &[
            Recipe {
                params: &[],
                handler: mi_dump,
            },
            Recipe {
                params: &["partition"],
                handler: mi_dump,
            },
        ],
    },
];

const ROUTES: RouteMask = RouteMask::ALL;

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "permissions",
    params: &[
        ParamSpec::str("db_url"),
        ParamSpec::str("address_table"),
        ParamSpec::str("id_col"),
        ParamSpec::str("grp_col"),
        ParamSpec::str("ip_col"),
        ParamSpec::str("mask_col"),
        ParamSpec::str("port_col"),
        ParamSpec::str("proto_col"),
        ParamSpec::str("pattern_col"),
        ParamSpec::str("info_col"),
        ParamSpec::str("partition").multi(),
        ParamSpec::str("default_allow_file"),
        ParamSpec::str("default_deny_file"),
        ParamSpec::int("check_all_branches"),
        ParamSpec::str("allow_suffix"),
        ParamSpec::str("deny_suffix"),
    ],
    functions: &[
        FunctionSpec {
            name: "check_address",
            params: &[p::INT, p::STR, p::INT, p::STR, p::OPT_VAR, p::OPT_STR],
            routes: ROUTES,
            handler: check_address,
        },
        FunctionSpec {
            name: "check_source_address",
            params: &[p::INT, p::OPT_VAR, p::OPT_STR],
            routes: ROUTES,
            handler: check_source_address,
        },
        FunctionSpec {
            name: "get_source_group",
            params: &[p::VAR],
            routes: ROUTES,
            handler: get_source_group,
        },
    ],
    mi_commands: MI,
    init: Some(init),
    ..ModuleDescriptor::EMPTY
};

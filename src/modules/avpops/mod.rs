//! avpops (OpenSIPS 3.x): AVPs from the script. AVPs are named as OpenSIPS writes them, in a
//! string: `"$avp(name)"`, with `/flags` after it where the function takes flags.
//!
//! - [`memory`]: `is_avp_set`, `avp_delete`, `avp_copy`, `avp_insert`, `avp_shuffle`, `avp_print`;
//! - [`check`]: `avp_check(name, "op/value[/flags]")`;
//! - [`op`]: `avp_op("src[/dst]", "op/value[/flags]")`;
//! - [`subst`]: `avp_subst("src[/dst][/flags]", "/re/repl/flags")`;
//! - [`pushto`]: `avp_pushto("$ru|$du|$br", "$pv[/g]")`;
//! - [`db`]: `avp_db_load/store/delete` on `usr_preferences` (the code of sqlops's
//!   `sql_avp_*`, on avpops's own `db_url` / `avp_table` / columns) and `avp_db_query`.

pub mod check;
pub mod db;
pub mod memory;
pub mod op;
pub mod pushto;
pub mod subst;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::thread::LocalKey;

/// The log-and-false tail of every avpops function, shared with sqlops.
use crate::modules::sqlops::report;
use crate::script::module::{ArgCheck, p};
use crate::script::pv::{PvSpec, parse_pv};
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

/// `"$avp(name)/flags"` → ("name", "flags").
pub fn avp_name(text: &str) -> Option<(&str, &str)> {
    let t = text.trim();
    let (spec, flags) = match t.rsplit_once('/') {
        Some((s, f)) if s.ends_with(')') => (s, f),
        _ => (t, ""),
    };
    let inner = spec.strip_prefix("$avp(")?.strip_suffix(')')?.trim();
    (!inner.is_empty()).then_some((inner, flags))
}

fn name_arg<'a>(args: &'a [ArgValue<'_>], i: usize, func: &str) -> Option<(&'a str, &'a str)> {
    let text = args.get(i).and_then(ArgValue::str)?;
    let parsed = avp_name(text);
    if parsed.is_none() {
        tracing::error!("{func}: `{text}` is not an AVP (write \"$avp(name)\")");
    }
    parsed
}

/// A pseudo-variable written in a function argument (`$avp(x)`, `$fd`, `$var(y)`).
pub fn pv_arg(text: &str) -> Result<PvSpec, String> {
    let t = text.trim();
    if !t.starts_with('$') {
        return Err(format!("`{t}` is not a variable"));
    }
    parse_pv(t).map_err(|e| format!("`{t}`: {}", e.msg))
}

/// The AVP name of `$avp(name)` (literal names only), None for other variables.
pub fn avp_of(pv: &PvSpec) -> Option<&str> {
    (pv.name == "avp" && pv.index.is_none() && pv.trans.is_empty())
        .then(|| pv.inner_literal())
        .flatten()
}

/// The value operand of `avp_check` / `avp_op`: `value = pseudo-variable | fix_value`,
/// `fix_value = 'i:'integer | 's:'string | string`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Pv(PvSpec),
    Int(i32),
    /// `s:text`: a string, whatever it looks like.
    Str(String),
    /// A bare literal: a string in OpenSIPS; osips also compares it as an integer with integer
    /// values when it is one (`avp_check("$avp(n)", "lt/345")`, as the OpenSIPS examples read).
    Plain(String),
}

/// `'i:'` integer, decimal or `0x` hex (OpenSIPS `parse_intstr_value`).
fn parse_fix_int(text: &str) -> Option<i32> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok().map(|u| u as i32),
        None => t.parse::<i64>().ok().and_then(|i| i32::try_from(i).ok()),
    }
}

impl Operand {
    pub fn parse(text: &str) -> Result<Operand, String> {
        if text.is_empty() {
            return Err("no value".into());
        }
        if text.starts_with('$') {
            return pv_arg(text).map(Operand::Pv);
        }
        let b = text.as_bytes();
        if b.len() > 1 && b[1] == b':' {
            let rest = &text[2..];
            if rest.is_empty() {
                return Err(format!("`{text}`: empty value"));
            }
            return match b[0] {
                b'i' | b'I' => parse_fix_int(rest)
                    .map(Operand::Int)
                    .ok_or_else(|| format!("`{rest}` is not an integer as `i:` says")),
                b's' | b'S' => Ok(Operand::Str(rest.to_string())),
                c => Err(format!("unknown value type `{}:`", c as char)),
            };
        }
        Ok(Operand::Plain(text.to_string()))
    }

    /// The values it stands for now: every value of an `$avp(name)`, else one.
    pub fn values(&self, ctx: &mut RunCtx<'_>) -> Result<Vec<Value>, String> {
        match self {
            Operand::Pv(pv) => match avp_of(pv) {
                Some(name) => Ok(ctx.avps.values(name).cloned().collect()),
                None => {
                    let v = ctx.get_pv(pv).map_err(|e| format!("{}: {e}", pv.text))?;
                    Ok(if v.is_null() { Vec::new() } else { vec![v] })
                }
            },
            Operand::Int(i) => Ok(vec![Value::Int(*i)]),
            Operand::Str(s) | Operand::Plain(s) => Ok(vec![Value::str(s.as_str())]),
        }
    }
}

/// `op '/' value ['/' flags]`: the value ends at the next `/` as in OpenSIPS.
pub fn split_op_value(text: &str) -> Result<(&str, &str, &str), String> {
    let t = text.trim();
    let (op, rest) = t
        .split_once('/')
        .ok_or_else(|| format!("`{t}`: expected operator/value[/flags]"))?;
    let (value, flags) = rest.split_once('/').unwrap_or((rest, ""));
    if value.is_empty() {
        return Err(format!("`{t}`: no value"));
    }
    Ok((op, value, flags))
}

/// Parsed arguments by text, per worker thread. Constant arguments are also checked when the
/// script is compiled (`arg_checks`); the parse kept here is the one the handler uses, and a
/// variable's text may differ at each call, so the cache is bounded.
pub type ParseCache<T> = RefCell<HashMap<String, Rc<T>>>;

const CACHE_MAX: usize = 256;

pub fn cached<T>(
    cache: &'static LocalKey<ParseCache<T>>,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Rc<T>, String> {
    if let Some(hit) = cache.with(|c| c.borrow().get(text).cloned()) {
        return Ok(hit);
    }
    let parsed = Rc::new(parse(text)?);
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.insert(text.to_string(), parsed.clone());
    });
    Ok(parsed)
}

const ROUTES: RouteMask = RouteMask::ALL;

pub static DESCRIPTOR: ModuleDescriptor = ModuleDescriptor {
    name: "avpops",
    params: &[
        ParamSpec::str("db_url").multi(),
        ParamSpec::str("avp_table"),
        ParamSpec::int("use_domain"),
        ParamSpec::str("uuid_column"),
        ParamSpec::str("username_column"),
        ParamSpec::str("domain_column"),
        ParamSpec::str("attribute_column"),
        ParamSpec::str("value_column"),
        ParamSpec::str("type_column"),
        ParamSpec::str("db_scheme").multi(),
        ParamSpec::int("buf_size"),
    ],
    arg_checks: &[
        ArgCheck {
            function: "avp_check",
            arg: 1,
            check: |t| check::Check::parse(t).map(drop),
        },
        ArgCheck {
            function: "avp_op",
            arg: 0,
            check: |t| op::parse_names(t).map(drop),
        },
        ArgCheck {
            function: "avp_op",
            arg: 1,
            check: |t| op::OpValue::parse(t).map(drop),
        },
        ArgCheck {
            function: "avp_subst",
            arg: 0,
            check: |t| subst::parse_avps(t).map(drop),
        },
        ArgCheck {
            function: "avp_subst",
            arg: 1,
            check: |t| subst::SubstExpr::parse(t).map(drop),
        },
        ArgCheck {
            function: "avp_pushto",
            arg: 0,
            check: |t| pushto::Dest::parse(t).map(drop),
        },
    ],
    functions: &[
        FunctionSpec {
            name: "is_avp_set",
            params: &[p::RAW],
            routes: ROUTES,
            handler: memory::is_avp_set,
        },
        FunctionSpec {
            name: "avp_delete",
            params: &[p::RAW],
            routes: ROUTES,
            handler: memory::avp_delete,
        },
        FunctionSpec {
            name: "avp_copy",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: memory::avp_copy,
        },
        FunctionSpec {
            name: "avp_insert",
            params: &[p::RAW, p::ANY, p::INT],
            routes: ROUTES,
            handler: memory::avp_insert,
        },
        FunctionSpec {
            name: "avp_shuffle",
            params: &[p::RAW],
            routes: ROUTES,
            handler: memory::avp_shuffle,
        },
        FunctionSpec {
            name: "avp_print",
            params: &[],
            routes: ROUTES,
            handler: memory::avp_print,
        },
        FunctionSpec {
            name: "avp_check",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: check::avp_check,
        },
        FunctionSpec {
            name: "avp_op",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: op::avp_op,
        },
        FunctionSpec {
            name: "avp_subst",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: subst::avp_subst,
        },
        FunctionSpec {
            name: "avp_pushto",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: pushto::avp_pushto,
        },
        FunctionSpec {
            name: "avp_db_load",
            params: &[p::RAW, p::RAW, p::OPT_ANY, p::OPT_STR],
            routes: ROUTES,
            handler: db::avp_db_load,
        },
        FunctionSpec {
            name: "avp_db_store",
            params: &[p::RAW, p::RAW, p::OPT_ANY],
            routes: ROUTES,
            handler: db::avp_db_store,
        },
        FunctionSpec {
            name: "avp_db_delete",
            params: &[p::RAW, p::RAW, p::OPT_ANY],
            routes: ROUTES,
            handler: db::avp_db_delete,
        },
        FunctionSpec {
            name: "avp_db_query",
            params: &[p::RAW, p::OPT_RAW, p::OPT_ANY],
            routes: ROUTES,
            handler: db::avp_db_query,
        },
    ],
    init: Some(db::init),
    ..ModuleDescriptor::EMPTY
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avp_names_and_flags() {
        assert_eq!(avp_name("$avp(x)"), Some(("x", "")));
        assert_eq!(
            avp_name(" $avp(trunk_attrs)/g "),
            Some(("trunk_attrs", "g"))
        );
        assert_eq!(avp_name("$avp(a)/gd"), Some(("a", "gd")));
        assert_eq!(avp_name("$var(x)"), None);
        assert_eq!(avp_name("$avp()"), None);
    }

    #[test]
    fn operands() {
        assert_eq!(Operand::parse("i:0x1f").unwrap(), Operand::Int(31));
        assert_eq!(Operand::parse("i:-4").unwrap(), Operand::Int(-4));
        assert_eq!(Operand::parse("s:12").unwrap(), Operand::Str("12".into()));
        assert_eq!(Operand::parse("345").unwrap(), Operand::Plain("345".into()));
        assert!(matches!(Operand::parse("$avp(x)").unwrap(), Operand::Pv(_)));
        assert!(Operand::parse("i:abc").unwrap_err().contains("abc"));
        assert!(Operand::parse("x:1").unwrap_err().contains("x:"));
        assert!(Operand::parse("i:").is_err());
        assert!(Operand::parse("").is_err());
    }

    #[test]
    fn op_value_split() {
        assert_eq!(split_op_value("lt/345/g").unwrap(), ("lt", "345", "g"));
        assert_eq!(split_op_value("eq/$td").unwrap(), ("eq", "$td", ""));
        assert!(split_op_value("eq").is_err());
        assert!(split_op_value("eq//g").is_err());
    }
}

#[cfg(test)]
mod arg_check_tests {
    use crate::script::{Registry, check_str};

    fn check(body: &str) -> (bool, String) {
        let script = format!("loadmodule \"avpops.so\"\nroute {{\n{body}}}\n");
        let checked = check_str("t.cfg", &script, &Registry::builtin());
        (checked.has_errors(), checked.render())
    }

    #[test]
    fn bad_constant_arguments_are_script_errors_with_their_place() {
        let (bad, out) = check(
            "    avp_check(\"$avp(a)\", \"zz/1\");\n    avp_subst(\"$avp(a)\", \"no-slashes\");\n",
        );
        assert!(bad, "{out}");
        assert!(
            out.contains("argument 2 of `avp_check` is invalid"),
            "{out}"
        );
        assert!(out.contains("t.cfg:3:26"), "{out}");
        assert!(
            out.contains("argument 2 of `avp_subst` is invalid"),
            "{out}"
        );
        assert!(out.contains("t.cfg:4:26"), "{out}");
        // OpenSIPS's fixups refuse these too: string operands of avp_op, pushing to a header.
        let (bad, out) = check(
            "    avp_op(\"$avp(n)\", \"sub/s:1\");\n    avp_pushto(\"$hdr(X-Foo)\", \"$avp(b)\");\n",
        );
        assert!(bad, "{out}");
        assert!(out.contains("the operation needs an integer"), "{out}");
        assert!(out.contains("push to header is obsolete"), "{out}");
    }

    #[test]
    fn good_constant_arguments_and_variables_pass() {
        let (bad, out) = check(
            "    avp_check(\"$avp(a)\", \"eq/$var(x)/i\");\n    avp_op(\"$avp(a)\", \"add/i:1\");\n    avp_subst(\"$avp(a)\", \"/a/b/g\");\n    avp_pushto(\"$ru\", \"$avp(a)\");\n    avp_check(\"$avp(a)\", $var(op));\n",
        );
        assert!(!bad, "{out}");
    }
}

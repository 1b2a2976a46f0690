//! avpops: AVP housekeeping from the script — `is_avp_set`, `avp_delete`, `avp_copy`,
//! `avp_insert`, `avp_shuffle`, `avp_print`. AVPs are named as OpenSIPS writes them, in a string:
//! `"$avp(name)"`, with `/flags` after it where the function takes flags (`g`: every value, `d`:
//! delete the source after copying). The database functions (`avp_db_*`) are sqlops's
//! (`sql_avp_load`, ...), where OpenSIPS 3.5 moved them; they are not exported under the old names.

use rand::seq::SliceRandom;

use crate::script::module::p;
use crate::script::{
    ArgValue, FunctionSpec, ModuleDescriptor, ParamSpec, RouteMask, RunCtx, Value,
};

/// `"$avp(name)/flags"` → ("name", "flags").
fn avp_name(text: &str) -> Option<(&str, &str)> {
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

/// `is_avp_set("$avp(name)")`: true when the AVP has a value.
fn is_avp_set(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match name_arg(args, 0, "is_avp_set") {
        Some((name, _)) if ctx.avps.count(name) > 0 => 1,
        _ => -1,
    }
}

/// `avp_delete("$avp(name)[/g]")`: the newest value, or every value with `g`.
fn avp_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, flags)) = name_arg(args, 0, "avp_delete") else {
        return -1;
    };
    if ctx.avps.count(name) == 0 {
        return -1;
    }
    if flags.contains('g') {
        ctx.avps.delete_all(name);
    } else {
        ctx.avps.delete_at(name, 0);
    }
    1
}

/// `avp_copy("$avp(from)", "$avp(to)[/g][d]")`: the newest value (every value with `g`) of
/// `from` pushed onto `to`, oldest first so the order is kept; `d` deletes what was copied.
fn avp_copy(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let (Some((from, _)), Some((to, flags))) =
        (name_arg(args, 0, "avp_copy"), name_arg(args, 1, "avp_copy"))
    else {
        return -1;
    };
    let all = flags.contains('g');
    let mut values: Vec<Value> = ctx.avps.values(from).cloned().collect();
    if values.is_empty() {
        return -1;
    }
    if !all {
        values.truncate(1);
    }
    if flags.contains('d') {
        if all {
            ctx.avps.delete_all(from);
        } else {
            ctx.avps.delete_at(from, 0);
        }
    }
    for v in values.into_iter().rev() {
        ctx.avps.push(to, v);
    }
    1
}

/// `avp_insert("$avp(name)", value, index)`: inserts so that `$(avp(name)[index])` is `value`
/// (at the bottom when the index is past the end).
fn avp_insert(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, _)) = name_arg(args, 0, "avp_insert") else {
        return -1;
    };
    let value = match args.get(1) {
        Some(ArgValue::Int(i)) => Value::Int(*i),
        Some(ArgValue::Str(s)) => Value::str(s.clone()),
        _ => return -1,
    };
    let Some(index) = args.get(2).and_then(ArgValue::int).filter(|i| *i >= 0) else {
        return -1;
    };
    let mut values: Vec<Value> = ctx.avps.values(name).cloned().collect();
    let at = (index as usize).min(values.len());
    values.insert(at, value);
    ctx.avps.delete_all(name);
    for v in values.into_iter().rev() {
        ctx.avps.push(name, v);
    }
    1
}

/// `avp_shuffle("$avp(name)")`: the values in random order.
fn avp_shuffle(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, _)) = name_arg(args, 0, "avp_shuffle") else {
        return -1;
    };
    let mut values: Vec<Value> = ctx.avps.values(name).cloned().collect();
    if values.is_empty() {
        return -1;
    }
    values.shuffle(&mut rand::rng());
    ctx.avps.delete_all(name);
    for v in values {
        ctx.avps.push(name, v);
    }
    1
}

/// `avp_print()`: every AVP and its values in the log (debug level, as OpenSIPS).
fn avp_print(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let mut names: Vec<String> = ctx.avps.names().map(str::to_string).collect();
    names.sort();
    for n in names {
        let values: Vec<String> = ctx.avps.values(&n).map(|v| v.to_string()).collect();
        tracing::debug!("avp_print: $avp({n}) = [{}]", values.join(", "));
    }
    1
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
    functions: &[
        FunctionSpec {
            name: "is_avp_set",
            params: &[p::RAW],
            routes: ROUTES,
            handler: is_avp_set,
        },
        FunctionSpec {
            name: "avp_delete",
            params: &[p::RAW],
            routes: ROUTES,
            handler: avp_delete,
        },
        FunctionSpec {
            name: "avp_copy",
            params: &[p::RAW, p::RAW],
            routes: ROUTES,
            handler: avp_copy,
        },
        FunctionSpec {
            name: "avp_insert",
            params: &[p::RAW, p::ANY, p::INT],
            routes: ROUTES,
            handler: avp_insert,
        },
        FunctionSpec {
            name: "avp_shuffle",
            params: &[p::RAW],
            routes: ROUTES,
            handler: avp_shuffle,
        },
        FunctionSpec {
            name: "avp_print",
            params: &[],
            routes: ROUTES,
            handler: avp_print,
        },
    ],
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
}

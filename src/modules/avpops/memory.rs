//! AVP housekeeping: `is_avp_set`, `avp_delete`, `avp_copy`, `avp_insert`, `avp_shuffle`,
//! `avp_print`.

use rand::seq::SliceRandom;

use crate::script::{ArgValue, RunCtx, Value};

use super::name_arg;

/// `is_avp_set("$avp(name)")`: true when the AVP has a value.
pub fn is_avp_set(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    match name_arg(args, 0, "is_avp_set") {
        Some((name, _)) if ctx.avps.count(name) > 0 => 1,
        _ => -1,
    }
}

/// `avp_delete("$avp(name)[/g]")`: the newest value, or every value with `g`.
pub fn avp_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
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
pub fn avp_copy(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
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
pub fn avp_insert(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
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
pub fn avp_shuffle(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
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
pub fn avp_print(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let mut names: Vec<String> = ctx.avps.names().map(str::to_string).collect();
    names.sort();
    for n in names {
        let values: Vec<String> = ctx.avps.values(&n).map(|v| v.to_string()).collect();
        tracing::debug!("avp_print: $avp({n}) = [{}]", values.join(", "));
    }
    1
}

//! AVP housekeeping: `is_avp_set`, `avp_delete`, `avp_copy`, `avp_insert`, `avp_shuffle`,
//! `avp_print`.

use rand::seq::SliceRandom;

use crate::script::{ArgValue, RunCtx, Value};

use super::name_arg;

/// Whether the newest value stands the `is_avp_set` flags: `s` a string, `n` an integer,
/// `e` empty (`""` or 0); no flag: any value.
pub fn value_matches(v: &Value, flags: &str) -> Result<bool, String> {
    let int = matches!(v, Value::Int(_) | Value::StrInt(..));
    let mut ok = true;
    for f in flags.chars() {
        ok &= match f.to_ascii_lowercase() {
            's' => !int,
            'n' => int,
            'e' => match v {
                Value::Int(i) | Value::StrInt(_, i) => *i == 0,
                Value::Str(s) => s.is_empty(),
                Value::Null => false,
            },
            other => return Err(format!("unknown flag `{other}` (e, s, n)")),
        };
    }
    Ok(ok)
}

/// `is_avp_set("$avp(name)[/flags]")`: true when the AVP has a value (of the kind the flags say).
pub fn is_avp_set(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let Some((name, flags)) = name_arg(args, 0, "is_avp_set") else {
        return -1;
    };
    let Some(v) = ctx.avps.values(name).next() else {
        return -1;
    };
    match value_matches(v, flags) {
        Ok(true) => 1,
        Ok(false) => -1,
        Err(e) => {
            tracing::error!("is_avp_set: {e}");
            -1
        }
    }
}

/// `avp_delete` without a name: `*`/`a` every AVP, `s` those named by a string, `i` those
/// named by a number (OpenSIPS matching flags; its numeric script-flag suffix has no use here).
fn delete_matching(ctx: &mut RunCtx<'_>, spec: &str) -> Result<i32, String> {
    let (kind, rest) = spec.split_at(1);
    let (digits, flags) = rest.split_once('/').unwrap_or((rest, ""));
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{spec}`: bad AVP flags `{digits}`"));
    }
    if let Some(f) = flags.chars().find(|f| !matches!(f, 'g' | 'G')) {
        return Err(format!("`{spec}`: unknown flag `{f}` (g)"));
    }
    let numeric = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    let names: Vec<String> = ctx
        .avps
        .names()
        .filter(|n| match kind {
            "i" | "I" => numeric(n),
            "s" | "S" => !numeric(n),
            _ => true,
        })
        .map(str::to_string)
        .collect();
    for n in &names {
        ctx.avps.delete_all(n);
    }
    Ok(if names.is_empty() { -1 } else { 1 })
}

/// `avp_delete("$avp(name)[/g]")`: the newest value, or every value with `g`; with matching
/// flags instead of a name (`"*"`, `"a"`, `"s"`, `"i"`), every AVP of that kind.
pub fn avp_delete(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let text = args.first().and_then(ArgValue::str).unwrap_or("").trim();
    if matches!(
        text.chars().next(),
        Some('*' | 'a' | 'A' | 's' | 'S' | 'i' | 'I')
    ) {
        return delete_matching(ctx, text).unwrap_or_else(|e| {
            tracing::error!("avp_delete: {e}");
            -1
        });
    }
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

/// `avp_copy` flags `n` / `s`: the value as an integer / a string.
fn cast(v: Value, flags: &str) -> Result<Value, String> {
    match v {
        Value::Str(s) if flags.contains(['n', 'N']) => Value::parse_int(&s)
            .map(Value::Int)
            .ok_or_else(|| format!("`{s}` is not an integer")),
        Value::Int(i) if flags.contains(['s', 'S']) => Ok(Value::str(i.to_string())),
        other => Ok(other),
    }
}

/// `avp_copy("$avp(from)", "$avp(to)[/g][d][n|s]")`: the newest value (every value with `g`) of
/// `from` pushed onto `to`, oldest first so the order is kept; `d` deletes what was copied, `n` /
/// `s` copy as integers / strings.
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
    let values = match values
        .into_iter()
        .map(|v| cast(v, flags))
        .collect::<Result<Vec<Value>, String>>()
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("avp_copy: {e}");
            return -1;
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_casts() {
        assert_eq!(cast(Value::str("42"), "gn").unwrap(), Value::Int(42));
        assert!(cast(Value::str("x"), "n").is_err());
        assert_eq!(cast(Value::Int(7), "s").unwrap(), Value::str("7"));
        assert_eq!(cast(Value::Int(7), "g").unwrap(), Value::Int(7));
    }

    #[test]
    fn is_avp_set_flags() {
        assert!(value_matches(&Value::str("x"), "").unwrap());
        assert!(value_matches(&Value::str("x"), "s").unwrap());
        assert!(!value_matches(&Value::str("x"), "n").unwrap());
        assert!(value_matches(&Value::Int(3), "n").unwrap());
        assert!(!value_matches(&Value::Int(3), "e").unwrap());
        assert!(value_matches(&Value::Int(0), "ne").unwrap());
        assert!(value_matches(&Value::str(""), "se").unwrap());
        assert!(value_matches(&Value::str("x"), "q").is_err());
    }
}

//! `avp_op("$avp(src)[/$avp(dst)]", "op/value[/flags]")`: integer arithmetic on AVPs. Operators
//! add sub mul div mod and or xor not (`not` gives `~value`, as OpenSIPS); the value is `i:N`
//! (decimal or `0x` hex), a bare integer, or a variable holding an integer (every value of an
//! `$avp`). The result is added to `dst` (`src` when omitted). Only integer values of `src` take
//! part: the newest one, or each with `g`; `d` deletes the values used. Division or modulo by
//! 0 logs an error and gives 0, as OpenSIPS. Results keep the order of their sources.

use super::{Operand, avp_name, report, split_op_value};
use crate::script::{ArgValue, RunCtx, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Not,
}

impl ArithOp {
    fn parse(text: &str) -> Result<ArithOp, String> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "add" => ArithOp::Add,
            "sub" => ArithOp::Sub,
            "mul" => ArithOp::Mul,
            "div" => ArithOp::Div,
            "mod" => ArithOp::Mod,
            "and" => ArithOp::And,
            "or" => ArithOp::Or,
            "xor" => ArithOp::Xor,
            "not" => ArithOp::Not,
            other => return Err(format!("unknown operation `{other}`")),
        })
    }

    /// C `int` arithmetic (wrapping).
    pub fn apply(self, a: i32, b: i32) -> i32 {
        match self {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div | ArithOp::Mod if b == 0 => {
                tracing::error!("avp_op: division by 0");
                0
            }
            ArithOp::Div => a.wrapping_div(b),
            ArithOp::Mod => a.wrapping_rem(b),
            ArithOp::And => a & b,
            ArithOp::Or => a | b,
            ArithOp::Xor => a ^ b,
            ArithOp::Not => !b,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpValue {
    pub op: ArithOp,
    pub value: Operand,
    pub all: bool,
    pub delete: bool,
}

impl OpValue {
    pub fn parse(text: &str) -> Result<OpValue, String> {
        let (op, value, flags) = split_op_value(text)?;
        let op = ArithOp::parse(op)?;
        let value = match Operand::parse(value)? {
            Operand::Plain(s) => Value::parse_int(&s)
                .map(Operand::Int)
                .ok_or_else(|| format!("`{s}`: the operation needs an integer value"))?,
            Operand::Str(s) => return Err(format!("`s:{s}`: the operation needs an integer")),
            other => other,
        };
        let mut all = false;
        let mut delete = false;
        for f in flags.chars() {
            match f {
                'g' | 'G' => all = true,
                'd' | 'D' => delete = true,
                other => return Err(format!("unknown flag `{other}` (g, d)")),
            }
        }
        Ok(OpValue {
            op,
            value,
            all,
            delete,
        })
    }
}

/// `"$avp(src)[/$avp(dst)]"` → (src, dst).
pub fn parse_names(text: &str) -> Result<(String, String), String> {
    let t = text.trim();
    let (src, dst) = match t.split_once('/') {
        Some((s, d)) => (s, Some(d)),
        None => (t, None),
    };
    let name = |s: &str| match avp_name(s) {
        Some((n, "")) => Ok(n.to_string()),
        _ => Err(format!("`{s}` is not an AVP (write \"$avp(name)\")")),
    };
    let src = name(src)?;
    let dst = match dst {
        Some(d) => name(d)?,
        None => src.clone(),
    };
    Ok((src, dst))
}

pub fn run(ctx: &mut RunCtx<'_>, src: &str, dst: &str, ov: &OpValue) -> Result<i32, String> {
    // Indices (newest first) of the integer values of `src` taking part.
    let mut used: Vec<(usize, i32)> = ctx
        .avps
        .values(src)
        .enumerate()
        .filter_map(|(i, v)| match v {
            Value::Int(n) | Value::StrInt(_, n) => Some((i, *n)),
            _ => None,
        })
        .collect();
    if !ov.all {
        used.truncate(1);
    }
    if used.is_empty() && ov.op != ArithOp::Not {
        return Err(format!("$avp({src}) has no integer value"));
    }
    let operands: Vec<i32> = ov
        .value
        .values(ctx)?
        .iter()
        .filter_map(|v| match v {
            Value::Int(n) | Value::StrInt(_, n) => Some(*n),
            _ => None,
        })
        .collect();
    if operands.is_empty() {
        return Err("the value has no integer".into());
    }
    let sources: Vec<i32> = if used.is_empty() {
        vec![0]
    } else {
        used.iter().map(|(_, n)| *n).collect()
    };
    let results: Vec<i32> = sources
        .iter()
        .flat_map(|a| operands.iter().map(move |b| ov.op.apply(*a, *b)))
        .collect();
    if ov.delete {
        // Highest index first so the lower ones stay valid.
        for (i, _) in used.iter().rev() {
            ctx.avps.delete_at(src, *i as i32);
        }
    }
    for r in results.into_iter().rev() {
        ctx.avps.push(dst, Value::Int(r));
    }
    Ok(1)
}

/// `avp_op(name, op_value)`.
pub fn avp_op(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let names = args.first().and_then(ArgValue::str).unwrap_or("");
    let op_value = args.get(1).and_then(ArgValue::str).unwrap_or("");
    let r = parse_names(names).and_then(|(src, dst)| {
        let ov = OpValue::parse(op_value).map_err(|e| format!("`{op_value}`: {e}"))?;
        run(ctx, &src, &dst, &ov)
    });
    report("avp_op", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        assert_eq!(ArithOp::Add.apply(i32::MAX, 1), i32::MIN);
        assert_eq!(ArithOp::Sub.apply(3, 5), -2);
        assert_eq!(ArithOp::Mul.apply(6, 7), 42);
        assert_eq!(ArithOp::Div.apply(7, 2), 3);
        assert_eq!(ArithOp::Div.apply(7, 0), 0);
        assert_eq!(ArithOp::Mod.apply(7, 0), 0);
        assert_eq!(ArithOp::Mod.apply(-7, 3), -1);
        assert_eq!(ArithOp::And.apply(6, 3), 2);
        assert_eq!(ArithOp::Or.apply(4, 1), 5);
        assert_eq!(ArithOp::Xor.apply(6, 3), 5);
        assert_eq!(ArithOp::Not.apply(99, 0), -1);
    }

    #[test]
    fn op_values() {
        let o = OpValue::parse("add/i:0x10/gd").unwrap();
        assert_eq!((o.op, o.all, o.delete), (ArithOp::Add, true, true));
        assert_eq!(o.value, Operand::Int(16));
        assert_eq!(OpValue::parse("sub/345").unwrap().value, Operand::Int(345));
        assert!(OpValue::parse("add/abc").unwrap_err().contains("integer"));
        assert!(OpValue::parse("add/s:1").is_err());
        assert!(OpValue::parse("pow/1").unwrap_err().contains("pow"));
        assert!(OpValue::parse("add/1/x").unwrap_err().contains("`x`"));
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_names("$avp(a)").unwrap(),
            ("a".to_string(), "a".to_string())
        );
        assert_eq!(
            parse_names("$avp(a)/$avp(b)").unwrap(),
            ("a".to_string(), "b".to_string())
        );
        assert!(parse_names("$var(a)").is_err());
        assert!(parse_names("$avp(a)/$var(b)").is_err());
    }
}

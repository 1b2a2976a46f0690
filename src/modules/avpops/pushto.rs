//! `avp_pushto(destination, "$pv[/g]")`: writes a value into the request. Destinations as in
//! OpenSIPS 3.x: `$ru` (the whole Request-URI), `$ru/username`, `$ru/domain`, `$du` (destination
//! URI) and `$br` (a new branch). `$hdr(...)` is refused as OpenSIPS does (append_hf() /
//! append_to_reply() add headers). With `g` every value of an `$avp` is pushed: for `$ru` each
//! value after the first first moves the current Request-URI into a branch, as OpenSIPS;
//! `$du` and `$br` take string values only.

use super::{avp_of, pv_arg, report};
use crate::runtime::core_fns;
use crate::script::{ArgValue, RunCtx, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Ruri,
    RuriUser,
    RuriHost,
    DstUri,
    Branch,
}

impl Dest {
    pub fn parse(text: &str) -> Result<Dest, String> {
        let t = text.trim();
        let (var, part) = match t.split_once('/') {
            Some((v, p)) => (v, Some(p.to_ascii_lowercase())),
            None => (t, None),
        };
        let pv = pv_arg(var)?;
        match (pv.name.as_str(), part.as_deref()) {
            ("ru", None) => Ok(Dest::Ruri),
            ("ru", Some("username")) => Ok(Dest::RuriUser),
            ("ru", Some("domain")) => Ok(Dest::RuriHost),
            ("ru", Some(p)) => Err(format!("unknown $ru part `{p}` (username, domain)")),
            ("du", None) => Ok(Dest::DstUri),
            ("br", None) => Ok(Dest::Branch),
            ("du" | "br", Some(p)) => Err(format!("`{var}` takes no `/{p}`")),
            ("hdr", _) => Err(
                "push to header is obsolete: use append_hf() or append_to_reply() (textops)".into(),
            ),
            _ => Err(format!(
                "unsupported destination `{t}` (expected $ru, $du, $br)"
            )),
        }
    }
}

/// `"$pv[/g]"` → the values to push.
fn values(ctx: &mut RunCtx<'_>, text: &str) -> Result<Vec<Value>, String> {
    let t = text.trim();
    let (var, flags) = match t.rsplit_once('/') {
        Some((v, f)) if v.ends_with(')') || !v.contains('(') => (v, f),
        _ => (t, ""),
    };
    let mut all = false;
    for f in flags.chars() {
        match f {
            'g' | 'G' => all = true,
            other => return Err(format!("`{t}`: unknown flag `{other}` (g)")),
        }
    }
    let pv = pv_arg(var)?;
    if let Some(name) = avp_of(&pv) {
        let mut v: Vec<Value> = ctx.avps.values(name).cloned().collect();
        if !all {
            v.truncate(1);
        }
        if v.is_empty() {
            return Err(format!("{var} has no value"));
        }
        return Ok(v);
    }
    let v = ctx.get_pv(&pv).map_err(|e| format!("{var}: {e}"))?;
    if v.is_null() {
        return Err(format!("{var} has no value"));
    }
    Ok(vec![v])
}

fn call(
    ctx: &mut RunCtx<'_>,
    f: fn(&mut RunCtx<'_>, &[ArgValue<'_>]) -> i32,
    text: Option<&str>,
) -> Result<(), String> {
    let args: Vec<ArgValue<'_>> = text.map(|t| ArgValue::Str(t.into())).into_iter().collect();
    if f(ctx, &args) > 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot push `{}`",
            text.unwrap_or("the Request-URI")
        ))
    }
}

pub fn push(ctx: &mut RunCtx<'_>, dest: Dest, values: &[Value]) -> Result<i32, String> {
    for (n, v) in values.iter().enumerate() {
        let text = v.to_display();
        let string_typed = matches!(v, Value::Str(_) | Value::StrInt(..));
        match dest {
            Dest::Ruri | Dest::RuriUser | Dest::RuriHost => {
                if n > 0 {
                    call(ctx, core_fns::append_branch, None)?;
                }
                let f = match dest {
                    Dest::Ruri => core_fns::seturi,
                    Dest::RuriUser => core_fns::setuser,
                    _ => core_fns::sethost,
                };
                call(ctx, f, Some(&text))?;
            }
            Dest::DstUri | Dest::Branch if !string_typed => {
                return Err(format!("{text}: an integer cannot be a URI"));
            }
            Dest::DstUri => call(ctx, core_fns::setdsturi, Some(&text))?,
            Dest::Branch => call(ctx, core_fns::append_branch, Some(&text))?,
        }
    }
    Ok(1)
}

/// `avp_pushto(destination, name)`.
pub fn avp_pushto(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let dest = args.first().and_then(ArgValue::str).unwrap_or("");
    let name = args.get(1).and_then(ArgValue::str).unwrap_or("");
    let r = Dest::parse(dest).and_then(|d| {
        let v = values(ctx, name)?;
        push(ctx, d, &v)
    });
    report("avp_pushto", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(Dest::parse("$ru").unwrap(), Dest::Ruri);
        assert_eq!(Dest::parse("$ru/username").unwrap(), Dest::RuriUser);
        assert_eq!(Dest::parse("$ru/DOMAIN").unwrap(), Dest::RuriHost);
        assert_eq!(Dest::parse("$du").unwrap(), Dest::DstUri);
        assert_eq!(Dest::parse("$br").unwrap(), Dest::Branch);
        assert!(Dest::parse("$ru/port").unwrap_err().contains("port"));
        assert!(Dest::parse("$du/x").is_err());
        assert!(Dest::parse("$hdr(X-A)").unwrap_err().contains("append_hf"));
        assert!(Dest::parse("$fu").unwrap_err().contains("$ru, $du, $br"));
        assert!(Dest::parse("ru").is_err());
    }
}

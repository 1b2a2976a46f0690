//! Transformations `{class.method,params}` (OpenSIPS `transformations.c`): parsed once at compile
//! time, evaluated on values. `uri`, `via`, `nameaddr` and `sdp` use the SIP parser (`crate::sip`).

mod csv;
mod ip;
mod param;
mod re;
mod s;
mod sdp;
mod sipmsg;

pub use ip::ip_matches;
pub use re::{Subst, parse_subst};

use super::pv::{PvError, PvSpec, parse_pv};
use super::value::{Str, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrClass {
    S,
    Uri,
    Via,
    Param,
    NameAddr,
    Ip,
    Csv,
    Sdp,
    Re,
}

impl TrClass {
    pub fn name(self) -> &'static str {
        match self {
            TrClass::S => "s",
            TrClass::Uri => "uri",
            TrClass::Via => "via",
            TrClass::Param => "param",
            TrClass::NameAddr => "nameaddr",
            TrClass::Ip => "ip",
            TrClass::Csv => "csv",
            TrClass::Sdp => "sdp",
            TrClass::Re => "re",
        }
    }
}

/// A transformation parameter: literal text or a variable read at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum TrParam {
    Lit(Str),
    Pv(Box<PvSpec>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub class: TrClass,
    /// Method, lower-cased (`substr`, `encode.hexa`, `param`).
    pub method: String,
    pub params: Vec<TrParam>,
    /// `{nameaddr.N.field}` index prefix.
    pub index: Option<TrParam>,
    /// Text between the braces, for messages.
    pub text: String,
}

/// (method, min params, max params, last param is raw text up to `}`)
type MethodDef = (&'static str, usize, usize, bool);

const S_METHODS: &[MethodDef] = &[
    ("len", 0, 0, false),
    ("int", 0, 0, false),
    ("md5", 0, 0, false),
    ("crc32", 0, 0, false),
    ("sha1", 0, 0, false),
    ("sha224", 0, 0, false),
    ("sha256", 0, 0, false),
    ("sha384", 0, 0, false),
    ("sha512", 0, 0, false),
    ("sha1_hmac", 1, 1, false),
    ("sha224_hmac", 1, 1, false),
    ("sha256_hmac", 1, 1, false),
    ("sha384_hmac", 1, 1, false),
    ("sha512_hmac", 1, 1, false),
    ("reverse", 0, 0, false),
    ("substr", 2, 2, false),
    ("select", 2, 2, true),
    ("encode.hexa", 0, 0, false),
    ("decode.hexa", 0, 0, false),
    ("hex2dec", 0, 0, false),
    ("dec2hex", 0, 0, false),
    ("escape.common", 0, 0, false),
    ("unescape.common", 0, 0, false),
    ("escape.user", 0, 0, false),
    ("unescape.user", 0, 0, false),
    ("escape.param", 0, 0, false),
    ("unescape.param", 0, 0, false),
    ("tolower", 0, 0, false),
    ("toupper", 0, 0, false),
    ("index", 1, 2, false),
    ("rindex", 1, 2, false),
    ("fill.left", 2, 2, false),
    ("fill.right", 2, 2, false),
    ("width", 1, 1, false),
    ("trim", 0, 0, false),
    ("trimr", 0, 0, false),
    ("triml", 0, 0, false),
    ("b64encode", 0, 0, false),
    ("b64decode", 0, 0, false),
    ("encode.base64", 0, 0, false),
    ("decode.base64", 0, 0, false),
    ("xor", 1, 1, false),
    ("eval", 0, 0, false),
    ("date2unix", 0, 0, false),
];

const URI_METHODS: &[MethodDef] = &[
    ("user", 0, 0, false),
    ("host", 0, 0, false),
    ("domain", 0, 0, false),
    ("passwd", 0, 0, false),
    ("port", 0, 0, false),
    ("params", 0, 0, false),
    ("param", 1, 1, false),
    ("headers", 0, 0, false),
    ("transport", 0, 0, false),
    ("ttl", 0, 0, false),
    ("uparam", 0, 0, false),
    ("maddr", 0, 0, false),
    ("method", 0, 0, false),
    ("lr", 0, 0, false),
    ("r2", 0, 0, false),
    ("schema", 0, 0, false),
];

const VIA_METHODS: &[MethodDef] = &[
    ("name", 0, 0, false),
    ("version", 0, 0, false),
    ("transport", 0, 0, false),
    ("host", 0, 0, false),
    ("domain", 0, 0, false),
    ("port", 0, 0, false),
    ("comment", 0, 0, false),
    ("params", 0, 0, false),
    ("param", 1, 1, false),
    ("branch", 0, 0, false),
    ("received", 0, 0, false),
    ("rport", 0, 0, false),
];

const PARAM_METHODS: &[MethodDef] = &[
    ("value", 1, 2, false),
    ("exist", 1, 2, false),
    ("valueat", 1, 2, false),
    ("name", 1, 2, false),
    ("count", 0, 1, false),
];

const NAMEADDR_METHODS: &[MethodDef] = &[
    ("name", 0, 0, false),
    ("uri", 0, 0, false),
    ("len", 0, 0, false),
    ("param", 1, 1, false),
    ("params", 0, 0, false),
];

const IP_METHODS: &[MethodDef] = &[
    ("pton", 0, 0, false),
    ("ntop", 0, 0, false),
    ("isip", 0, 0, false),
    ("isip4", 0, 0, false),
    ("isip6", 0, 0, false),
    ("family", 0, 0, false),
    ("resolve", 0, 0, false),
    ("matches", 1, 1, false),
    ("isprivate", 0, 0, false),
];

const CSV_METHODS: &[MethodDef] = &[("count", 0, 0, false), ("value", 1, 1, false)];

const SDP_METHODS: &[MethodDef] = &[
    ("line", 1, 2, false),
    ("stream", 1, 1, false),
    ("stream-delete", 1, 1, false),
];

const RE_METHODS: &[MethodDef] = &[("subst", 1, 1, true)];

fn class_of(name: &str) -> Option<(TrClass, &'static [MethodDef])> {
    Some(match name {
        "s" => (TrClass::S, S_METHODS),
        "uri" => (TrClass::Uri, URI_METHODS),
        "via" => (TrClass::Via, VIA_METHODS),
        "param" => (TrClass::Param, PARAM_METHODS),
        "nameaddr" => (TrClass::NameAddr, NAMEADDR_METHODS),
        "ip" => (TrClass::Ip, IP_METHODS),
        "csv" => (TrClass::Csv, CSV_METHODS),
        "sdp" => (TrClass::Sdp, SDP_METHODS),
        "re" => (TrClass::Re, RE_METHODS),
        _ => return None,
    })
}

/// Splits on commas at depth 0 (parentheses of `$(...)` variables protect their commas).
fn split_params(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push((start, &s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, &s[start..]));
    out
}

fn param_of(s: &str, at: usize) -> Result<TrParam, PvError> {
    if s.starts_with('$') && s.len() > 1 && !s.starts_with("$$") {
        parse_pv(s)
            .map(|p| TrParam::Pv(Box::new(p)))
            .map_err(|e| PvError { at: e.at + at, ..e })
    } else {
        Ok(TrParam::Lit(s.to_string().into()))
    }
}

/// Parses the text between `{` and `}`: `class.method[,p1[,p2]]`.
pub fn parse_transform(text: &str) -> Result<Transform, PvError> {
    let head_end = text.find(',').unwrap_or(text.len());
    let head = text[..head_end].trim();
    let Some(dot) = head.find('.') else {
        return Err(PvError {
            at: 0,
            msg: format!("transformation `{head}` has no method (expected class.method)"),
        });
    };
    let cname = head[..dot].to_ascii_lowercase();
    let Some((class, methods)) = class_of(&cname) else {
        return Err(PvError {
            at: 0,
            msg: format!(
                "unknown transformation class `{cname}` (known: s, uri, via, param, nameaddr, ip, csv, sdp, re)"
            ),
        });
    };
    let mut method = head[dot + 1..].to_ascii_lowercase();
    let mut index = None;
    if class == TrClass::NameAddr {
        // {nameaddr.N.field}: N is a number or a variable.
        if let Some((first, rest)) = method.split_once('.') {
            let first_is_index =
                first.starts_with('$') || first.trim_start_matches('-').parse::<i32>().is_ok();
            if first_is_index {
                index = Some(param_of(&head[dot + 1..dot + 1 + first.len()], dot + 1)?);
                method = rest.to_string();
            }
        }
    }
    let Some(&(_, min, max, raw_last)) = methods.iter().find(|m| m.0 == method) else {
        return Err(PvError {
            at: dot + 1,
            msg: format!("unknown transformation method `{cname}.{method}`"),
        });
    };
    let mut params = Vec::new();
    if head_end < text.len() {
        let rest = &text[head_end + 1..];
        let base = head_end + 1;
        let parts = split_params(rest);
        if raw_last && max >= 1 {
            // The last parameter is everything after the (max-1)th comma: `{s.select,1,,}` selects on ','.
            let mut consumed = 0;
            for (off, p) in parts.iter().take(max - 1) {
                params.push(param_of(p.trim(), base + off)?);
                consumed = off + p.len() + 1;
            }
            let last = &rest[consumed.min(rest.len())..];
            params.push(if last.starts_with('$') && class != TrClass::Re {
                param_of(last, base + consumed)?
            } else if class == TrClass::Re && last.starts_with('$') {
                param_of(last.trim(), base + consumed)?
            } else {
                TrParam::Lit(last.to_string().into())
            });
        } else {
            for (off, p) in parts {
                params.push(param_of(p.trim(), base + off)?);
            }
        }
    }
    if params.len() < min || params.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(PvError {
            at: 0,
            msg: format!(
                "transformation `{cname}.{method}` takes {want} parameter{}, {} given",
                if max == 1 { "" } else { "s" },
                params.len()
            ),
        });
    }
    Ok(Transform {
        class,
        method,
        params,
        index,
        text: text.to_string(),
    })
}

/// What evaluating a transformation needs from its surroundings.
pub trait TrEnv {
    /// Value of a variable given as a parameter.
    fn pv_value(&mut self, pv: &PvSpec) -> Value;
    /// Expands a format string held in a value (`{s.eval}`); None when expansion is unavailable.
    fn expand(&mut self, text: &str) -> Option<String>;
}

/// A transformation class that cannot run yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transformation class `{0}` needs the SIP parser, which the runtime does not use yet")]
pub struct TrUnavailable(pub &'static str);

impl Transform {
    /// Parameter `i` as a value (variables read through `env`).
    pub(crate) fn param(&self, i: usize, env: &mut dyn TrEnv) -> Value {
        match self.params.get(i) {
            None => Value::Null,
            Some(TrParam::Lit(s)) => Value::str(s.clone()),
            Some(TrParam::Pv(pv)) => env.pv_value(pv),
        }
    }

    pub(crate) fn param_str(&self, i: usize, env: &mut dyn TrEnv) -> Option<Str> {
        self.param(i, env).into_text()
    }

    pub(crate) fn param_int(&self, i: usize, env: &mut dyn TrEnv) -> Option<i32> {
        match self.param(i, env) {
            Value::Str(s) => Value::parse_int(&s),
            v => v.as_int(),
        }
    }

    /// Applies the transformation; failures give NULL, as in OpenSIPS.
    pub fn eval(&self, input: Value, env: &mut dyn TrEnv) -> Result<Value, TrUnavailable> {
        Ok(match self.class {
            TrClass::S => s::eval(self, input, env),
            TrClass::Param => param::eval(self, input, env),
            TrClass::Csv => csv::eval(self, input, env),
            TrClass::Re => re::eval(self, input, env),
            TrClass::Ip => ip::eval(self, input, env),
            TrClass::Uri => sipmsg::uri(self, input, env),
            TrClass::Via => sipmsg::via(self, input, env),
            TrClass::NameAddr => sipmsg::nameaddr(self, input, env),
            TrClass::Sdp => sdp::eval(self, input, env),
        })
    }
}

/// Applies a chain left to right.
pub fn eval_chain(
    chain: &[Transform],
    mut v: Value,
    env: &mut dyn TrEnv,
) -> Result<Value, TrUnavailable> {
    for t in chain {
        v = t.eval(v, env)?;
    }
    Ok(v)
}

/// Binary strings (`{ip.pton}`, `{s.decode.hexa}`) are kept as one char per byte (U+0000..U+00FF)
/// when they are not valid UTF-8, so they survive a round trip through the other transformations.
pub(crate) fn bytes_to_value(b: Vec<u8>) -> Value {
    match String::from_utf8(b) {
        Ok(s) => Value::str(s),
        Err(e) => Value::str(
            e.into_bytes()
                .iter()
                .map(|&c| c as char)
                .collect::<String>(),
        ),
    }
}

/// Inverse of [`bytes_to_value`] for strings made of chars ≤ U+00FF; other strings give their UTF-8.
/// Plain ASCII / UTF-8 text is borrowed (no allocation).
pub(crate) fn value_bytes(s: &str) -> std::borrow::Cow<'_, [u8]> {
    if !s.is_ascii() && s.chars().all(|c| (c as u32) < 256) {
        std::borrow::Cow::Owned(s.chars().map(|c| c as u8).collect())
    } else {
        std::borrow::Cow::Borrowed(s.as_bytes())
    }
}

#[cfg(test)]
pub(crate) mod test_env {
    use super::*;
    use std::collections::HashMap;

    /// Variables by name for transformation tests.
    #[derive(Default)]
    pub struct Env(pub HashMap<String, Value>);

    impl TrEnv for Env {
        fn pv_value(&mut self, pv: &PvSpec) -> Value {
            self.0.get(&pv.text).cloned().unwrap_or(Value::Null)
        }
        fn expand(&mut self, text: &str) -> Option<String> {
            let mut out = text.to_string();
            for (k, v) in &self.0 {
                out = out.replace(k.as_str(), &v.to_display());
            }
            Some(out)
        }
    }

    /// Evaluates `$(x{...}{...})` style chain text like "s.len" on a value.
    pub fn run(chain: &str, v: Value) -> Value {
        run_env(chain, v, &mut Env::default())
    }

    pub fn run_env(chain: &str, v: Value, env: &mut Env) -> Value {
        let pv = parse_pv(&format!("$(var(x){chain})")).expect("parse");
        eval_chain(&pv.trans, v, env).expect("eval")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_methods_and_params() {
        let t = parse_transform("s.substr,1,-2").unwrap();
        assert_eq!(t.class, TrClass::S);
        assert_eq!(t.method, "substr");
        assert_eq!(t.params.len(), 2);
        let t = parse_transform("s.select,1,,").unwrap();
        assert_eq!(
            t.params,
            vec![TrParam::Lit("1".into()), TrParam::Lit(",".into())]
        );
        let t = parse_transform("re.subst,/a,b/c/g").unwrap();
        assert_eq!(t.params, vec![TrParam::Lit("/a,b/c/g".into())]);
        let t = parse_transform("nameaddr.-1.uri").unwrap();
        assert_eq!(t.index, Some(TrParam::Lit("-1".into())));
        assert_eq!(t.method, "uri");
        let t = parse_transform("S.Len").unwrap();
        assert_eq!(t.method, "len");
        let t = parse_transform("param.value,$var(n)").unwrap();
        assert!(matches!(t.params[0], TrParam::Pv(_)));
    }

    #[test]
    fn parse_errors() {
        assert!(
            parse_transform("json.parse")
                .unwrap_err()
                .msg
                .contains("unknown transformation class")
        );
        assert!(
            parse_transform("s.nope")
                .unwrap_err()
                .msg
                .contains("unknown transformation method")
        );
        assert!(
            parse_transform("s.substr,1")
                .unwrap_err()
                .msg
                .contains("takes 2 parameters, 1 given")
        );
        assert!(parse_transform("s").is_err());
    }
}

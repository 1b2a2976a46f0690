//! `{uri.*}`, `{via.*}` and `{nameaddr.*}`: the value parsed with the SIP parser (`crate::sip`).
//! A part that is missing, or a value that does not parse, gives NULL (as in OpenSIPS). Parts
//! share the input string's buffer (no copy).

use super::{TrEnv, TrParam, Transform};
use crate::script::value::{Str, Value};
use crate::sip::scan::CommaList;
use crate::sip::{NameAddr, Uri, Via};

/// `b` (bytes the parser returned from `src`) as a value sharing `src`.
fn part(src: &Str, b: &[u8]) -> Value {
    match src.slice_bytes(b) {
        Some(t) => Value::Str(t),
        None => Value::str(String::from_utf8_lossy(b).into_owned()),
    }
}

fn opt(src: &Str, b: Option<&[u8]>) -> Value {
    b.map(|b| part(src, b)).unwrap_or(Value::Null)
}

fn int(n: u32) -> Value {
    Value::str_int(n as i32)
}

/// The parameter list without its leading `;`.
fn params_text(src: &Str, raw: &[u8]) -> Value {
    let t = raw.strip_prefix(b";").unwrap_or(raw);
    if t.is_empty() {
        Value::Null
    } else {
        part(src, t)
    }
}

fn param_value(src: &Str, p: Option<Option<&[u8]>>) -> Value {
    match p {
        None => Value::Null,
        Some(None) => Value::Str(Str::new()),
        Some(Some(v)) => part(src, v),
    }
}

/// Where the parts of a URI lie in the transformation's input (byte offsets).
#[derive(Debug, Clone, Copy)]
struct UriLayout {
    user: Option<(u32, u32)>,
    password: Option<(u32, u32)>,
    host: (u32, u32),
    port: Option<u16>,
    params: (u32, u32),
    headers: Option<(u32, u32)>,
    scheme: (u32, u32),
}

impl UriLayout {
    fn parse(src: &str) -> Option<UriLayout> {
        let text = src.trim();
        let text = text
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .unwrap_or(text);
        let u = Uri::parse(text.as_bytes()).ok()?;
        let base = src.as_ptr() as usize;
        // Offsets of a slice the parser returned from `src` (an empty one may point elsewhere).
        let at = |b: &[u8]| -> Option<(u32, u32)> {
            if b.is_empty() {
                return Some((0, 0));
            }
            let start = (b.as_ptr() as usize).checked_sub(base)?;
            let end = start + b.len();
            (end <= src.len()).then_some((start as u32, end as u32))
        };
        let opt_at = |b: Option<&[u8]>| match b {
            None => Some(None),
            Some(b) => at(b).map(Some),
        };
        Some(UriLayout {
            user: opt_at(u.user)?,
            password: opt_at(u.password)?,
            host: at(u.host)?,
            port: u.port,
            params: at(u.params.raw())?,
            headers: opt_at(u.headers)?,
            scheme: at(u.scheme_raw)?,
        })
    }
}

thread_local! {
    /// The last URI text parsed by `{uri.*}` and its layout (None: it does not parse), as
    /// OpenSIPS keeps `_tr_uri` / `_tr_parsed_uri`: `$(fu{uri.user})` then `$(fu{uri.host})`
    /// parse the URI once.
    static LAST_URI: std::cell::RefCell<Option<(Str, Option<UriLayout>)>> =
        const { std::cell::RefCell::new(None) };
}

fn uri_layout(src: &Str) -> Option<UriLayout> {
    LAST_URI.with_borrow_mut(|last| {
        if let Some((text, layout)) = last.as_ref()
            && text.as_bytes() == src.as_bytes()
        {
            return *layout;
        }
        let layout = UriLayout::parse(src);
        *last = Some((src.clone(), layout));
        layout
    })
}

pub(super) fn uri(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(src) = input.into_text() else {
        return Value::Null;
    };
    let Some(u) = uri_layout(&src) else {
        return Value::Null;
    };
    let b = src.as_bytes();
    let get = |r: (u32, u32)| &b[r.0 as usize..r.1 as usize];
    let params = crate::sip::Params::new(get(u.params));
    match t.method.as_str() {
        "user" => opt(&src, u.user.map(get)),
        "host" | "domain" => part(&src, get(u.host)),
        "passwd" => opt(&src, u.password.map(get)),
        "port" => u.port.map(|p| int(p as u32)).unwrap_or(Value::Null),
        "params" => params_text(&src, params.raw()),
        "param" => match t.param_str(0, env) {
            Some(name) => param_value(&src, params.get(name.as_bytes())),
            None => Value::Null,
        },
        "headers" => opt(&src, u.headers.map(get)),
        "transport" => opt(&src, params.value(b"transport")),
        "ttl" => opt(&src, params.value(b"ttl")),
        "uparam" => opt(&src, params.value(b"user")),
        "maddr" => opt(&src, params.value(b"maddr")),
        "method" => opt(&src, params.value(b"method")),
        "lr" => param_value(&src, params.get(b"lr")),
        "r2" => param_value(&src, params.get(b"r2")),
        "schema" => part(&src, get(u.scheme)),
        _ => Value::Null,
    }
}

pub(super) fn via(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(src) = input.into_text() else {
        return Value::Null;
    };
    let text = src.as_str();
    // A Via line with several values: the first one.
    let Some(Ok(first)) = CommaList::new(text.as_bytes()).next() else {
        return Value::Null;
    };
    let Ok(v) = Via::parse(first) else {
        return Value::Null;
    };
    match t.method.as_str() {
        "name" => part(&src, v.protocol),
        "version" => part(&src, v.version),
        "transport" => part(&src, v.transport),
        "host" | "domain" => part(&src, v.host),
        "port" => v.port.map(|p| int(p as u32)).unwrap_or(Value::Null),
        "comment" => {
            let raw = String::from_utf8_lossy(v.raw);
            match (raw.find('('), raw.rfind(')')) {
                (Some(a), Some(b)) if b > a => Value::str(raw[a + 1..b].to_string()),
                _ => Value::Null,
            }
        }
        "params" => params_text(&src, v.params.raw()),
        "param" => match t.param_str(0, env) {
            Some(name) => param_value(&src, v.params.get(name.as_bytes())),
            None => Value::Null,
        },
        "branch" => opt(&src, v.branch()),
        "received" => opt(&src, v.received()),
        "rport" => match v.rport() {
            Some(Some(p)) => int(p as u32),
            Some(None) => Value::str(String::new()),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

pub(super) fn nameaddr(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(src) = input.into_text() else {
        return Value::Null;
    };
    let text = src.as_str();
    let Ok(items) = CommaList::new(text.as_bytes()).collect::<Result<Vec<&[u8]>, _>>() else {
        return Value::Null;
    };
    let idx = match &t.index {
        None => 0,
        Some(TrParam::Lit(l)) => l.trim().parse::<i32>().unwrap_or(0),
        Some(TrParam::Pv(p)) => env.pv_value(p).as_int().unwrap_or(0),
    };
    let n = items.len() as i32;
    let i = if idx < 0 { n + idx } else { idx };
    let Some(item) = usize::try_from(i).ok().and_then(|i| items.get(i)) else {
        return Value::Null;
    };
    let Ok(na) = NameAddr::parse(item) else {
        return Value::Null;
    };
    match t.method.as_str() {
        "name" => match na.display_unquoted() {
            Some(d) => part(&src, &d),
            None => Value::Null,
        },
        "uri" => part(&src, na.uri.raw),
        "len" => int(na.raw.len() as u32),
        "params" => params_text(&src, na.params.raw()),
        "param" => match t.param_str(0, env) {
            Some(name) => param_value(&src, na.params.get(name.as_bytes())),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use crate::script::transform::test_env::run;
    use crate::script::value::Value;

    fn st(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn uri_parts() {
        let u = st("sip:alice:pw@example.com:5070;transport=tcp;lr;user=phone?Subject=x");
        assert_eq!(run("{uri.user}", u.clone()), st("alice"));
        assert_eq!(run("{uri.host}", u.clone()), st("example.com"));
        assert_eq!(run("{uri.passwd}", u.clone()), st("pw"));
        assert_eq!(run("{uri.port}", u.clone()).as_int(), Some(5070));
        assert_eq!(run("{uri.transport}", u.clone()), st("tcp"));
        assert_eq!(run("{uri.param,transport}", u.clone()), st("tcp"));
        assert_eq!(run("{uri.uparam}", u.clone()), st("phone"));
        assert_eq!(run("{uri.lr}", u.clone()), st(""));
        assert_eq!(run("{uri.headers}", u.clone()), st("Subject=x"));
        assert_eq!(run("{uri.schema}", u.clone()), st("sip"));
        assert_eq!(
            run("{uri.params}", u.clone()),
            st("transport=tcp;lr;user=phone")
        );
        assert_eq!(run("{uri.maddr}", u), Value::Null);
        assert_eq!(run("{uri.user}", st("not a uri")), Value::Null);
        assert_eq!(run("{uri.host}", st("<sip:b@127.0.0.1>")), st("127.0.0.1"));
    }

    #[test]
    fn the_last_uri_kept_follows_the_input() {
        // Alternating inputs, one that does not parse, the same text as a new string: every
        // answer is the one of its own input.
        for _ in 0..2 {
            assert_eq!(run("{uri.user}", st("sip:a@h1")), st("a"));
            assert_eq!(run("{uri.user}", st("sip:b@h2")), st("b"));
            assert_eq!(run("{uri.host}", st("sip:b@h2")), st("h2"));
            assert_eq!(run("{uri.user}", st("not a uri")), Value::Null);
            assert_eq!(run("{uri.user}", st("<sip:c@h3;lr>")), st("c"));
            assert_eq!(run("{uri.lr}", st("<sip:c@h3;lr>")), st(""));
            assert_eq!(run("{uri.params}", st("sip:c@h3")), Value::Null);
        }
        let long = "sip:a-user-name-longer-than-inline@host.example.com;transport=tcp";
        let v = run("{uri.transport}", Value::str(long.to_string()));
        assert_eq!(v, st("tcp"));
    }

    #[test]
    fn via_parts() {
        let v = st(
            "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1;rport=5062;received=127.0.0.2, SIP/2.0/TCP x",
        );
        assert_eq!(run("{via.transport}", v.clone()), st("UDP"));
        assert_eq!(run("{via.host}", v.clone()), st("127.0.0.1"));
        assert_eq!(run("{via.port}", v.clone()).as_int(), Some(5062));
        assert_eq!(run("{via.branch}", v.clone()), st("z9hG4bK1"));
        assert_eq!(run("{via.received}", v.clone()), st("127.0.0.2"));
        assert_eq!(run("{via.rport}", v.clone()).as_int(), Some(5062));
        assert_eq!(run("{via.param,branch}", v.clone()), st("z9hG4bK1"));
        assert_eq!(run("{via.name}", v), st("SIP"));
    }

    #[test]
    fn nameaddr_parts() {
        let n = st("\"Bob B\" <sip:bob@example.com>;tag=abc, <sip:carol@example.org>");
        assert_eq!(run("{nameaddr.name}", n.clone()), st("Bob B"));
        assert_eq!(run("{nameaddr.uri}", n.clone()), st("sip:bob@example.com"));
        assert_eq!(run("{nameaddr.param,tag}", n.clone()), st("abc"));
        assert_eq!(run("{nameaddr.params}", n.clone()), st("tag=abc"));
        assert_eq!(
            run("{nameaddr.1.uri}", n.clone()),
            st("sip:carol@example.org")
        );
        assert_eq!(
            run("{nameaddr.-1.uri}", n.clone()),
            st("sip:carol@example.org")
        );
        assert_eq!(run("{nameaddr.uri}{uri.user}", n), st("bob"));
    }
}

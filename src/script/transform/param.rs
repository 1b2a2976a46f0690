//! `{param.*}`: the value is a list `name1=value1;name2=value2;...`.

use super::{TrEnv, Transform};
use crate::script::transform::s::pick;
use crate::script::value::Value;
use crate::sip::scan::find_byte;

/// Splits a parameter list into (name, value) pairs; a valueless parameter has value None.
fn iter_params(s: &str, sep: char) -> Params<'_> {
    Params { rest: Some(s), sep }
}

struct Params<'a> {
    rest: Option<&'a str>,
    sep: char,
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let r = self.rest?;
            let at = if self.sep.is_ascii() {
                memchr::memchr(self.sep as u8, r.as_bytes())
            } else {
                r.find(self.sep)
            };
            let (p, next) = match at {
                Some(i) => (&r[..i], Some(&r[i + self.sep.len_utf8()..])),
                None => (r, None),
            };
            self.rest = next;
            let p = p.trim_ascii();
            if p.is_empty() {
                continue;
            }
            return Some(match memchr::memchr(b'=', p.as_bytes()) {
                Some(i) => (p[..i].trim_ascii_end(), Some(p[i + 1..].trim_ascii_start())),
                None => (p, None),
            });
        }
    }
}

/// `{param.value,name}` / `{param.exist,name}` with an ASCII separator: Some(value) for the first
/// parameter named `name` (case-insensitive), Some(None) when it has no value; the same trimming
/// as [`iter_params`]. Segments are found with one search each, and only a segment starting with
/// the name is looked into.
fn lookup<'a>(s: &'a str, sep: u8, name: &str) -> Option<Option<&'a str>> {
    if name.is_empty() || name.bytes().any(|c| c == b'=' || c.is_ascii_whitespace()) {
        return iter_params(s, sep as char)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|p| p.1);
    }
    let mut rest = s;
    loop {
        let (seg, next) = match find_byte(sep, rest.as_bytes()) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let p = seg.trim_ascii();
        if let Some(head) = p.get(..name.len())
            && (head == name || head.eq_ignore_ascii_case(name))
        {
            let after = p[name.len()..].trim_ascii_start();
            if after.is_empty() {
                return Some(None);
            }
            if let Some(v) = after.strip_prefix('=') {
                return Some(Some(v.trim_ascii_start()));
            }
        }
        rest = next?;
    }
}

pub(super) fn eval(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(text) = input.into_text() else {
        return Value::Null;
    };
    let sep_idx = if t.method == "count" { 0 } else { 1 };
    let sep = if t.params.len() > sep_idx {
        match t.param_str(sep_idx, env).and_then(|s| s.chars().next()) {
            Some(c) => c,
            None => return Value::Null,
        }
    } else {
        ';'
    };
    let mut params = iter_params(&text, sep);
    match t.method.as_str() {
        "count" => Value::Int(params.count() as i32),
        "value" | "exist" => {
            let Some(name) = t.param_str(0, env) else {
                return Value::Null;
            };
            let found = if sep.is_ascii() {
                lookup(&text, sep as u8, &name)
            } else {
                params
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .map(|p| p.1)
            };
            if t.method == "exist" {
                return Value::str_int(found.is_some() as i32);
            }
            match found {
                Some(Some(v)) => Value::Str(text.slice_of(v)),
                Some(None) => Value::str(""),
                None => Value::Null,
            }
        }
        "valueat" | "name" => {
            let Some(idx) = t.param_int(0, env) else {
                return Value::Null;
            };
            let params: Vec<_> = params.collect();
            match pick(&params, idx) {
                Some((n, _)) if t.method == "name" => Value::Str(text.slice_of(n)),
                Some((_, v)) => Value::Str(text.slice_of(v.unwrap_or(""))),
                None => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_env::{Env, run, run_env};
    use super::iter_params;
    use crate::script::value::Value;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    #[test]
    fn documented_examples() {
        assert_eq!(run("{param.value,c}", s("a=1;b=2;c=3")), s("3"));
        assert_eq!(
            run("{param.exist,ob}", s("a=0;b=2;ob;c=3")),
            Value::StrInt("1".into(), 1)
        );
        assert_eq!(
            run("{param.exist,a}", s("a=0;b=2;ob;c=3")),
            Value::StrInt("1".into(), 1)
        );
        assert_eq!(
            run("{param.exist,foo}", s("a=0;b=2;ob;c=3")),
            Value::StrInt("0".into(), 0)
        );
        assert_eq!(run("{param.valueat,1}", s("a=1;b=2;c=3")), s("2"));
        assert_eq!(run("{param.valueat,-1}", s("a=1;b=2;c=3")), s("3"));
        assert_eq!(run("{param.name,1}", s("a=1;b=2;c=3")), s("b"));
        assert_eq!(run("{param.count}", s("a=1;b=2;c=3")), Value::Int(3));
        assert_eq!(run("{param.value,zz}", s("a=1")), Value::Null);
    }

    #[test]
    fn the_one_pass_lookup_agrees_with_the_list() {
        let lists = [
            "a=1;b=2;c=3",
            " a = 1 ; B=2;;c",
            "=x;a",
            ";;",
            "",
            "sip:alice@example.com:5070;transport=udp",
            "a=1;a=2",
            "x=;y= 3 ;",
        ];
        for l in lists {
            for name in ["a", "b", "c", "", "x", "y", "transport", "zz"] {
                let want = iter_params(l, ';')
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|p| p.1);
                assert_eq!(super::lookup(l, b';', name), want, "{l:?} {name:?}");
            }
        }
    }

    #[test]
    fn nested_name_from_variable() {
        let mut env = Env::default();
        env.0.insert("$var(x)".into(), s("a=1;b=22;c=333"));
        let v = run_env(
            "{param.value,$(var(x){param.name,1})}{s.len}",
            s("a=1;b=22;c=333"),
            &mut env,
        );
        // The inner variable is looked up by its text in the test environment: give it the name.
        assert_eq!(v, Value::Null);
        env.0.insert("$(var(x){param.name,1})".into(), s("b"));
        let v = run_env(
            "{param.value,$(var(x){param.name,1})}{s.len}",
            s("a=1;b=22;c=333"),
            &mut env,
        );
        assert_eq!(v, Value::Int(2));
    }
}

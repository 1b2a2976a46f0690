//! `{csv.*}`: the value is `field1,field2,...` (fields may be double-quoted, `""` inside quotes).

use super::{TrEnv, Transform};
use crate::script::transform::s::pick;
use crate::script::value::Value;

pub(crate) fn split_csv(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub(super) fn eval(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(text) = input.as_str() else {
        return Value::Null;
    };
    let fields = split_csv(&text);
    match t.method.as_str() {
        "count" => Value::Int(fields.len() as i32),
        "value" => match t.param_int(0, env) {
            Some(i) => pick(&fields, i)
                .map(|f| Value::str(f.clone()))
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_env::run;
    use crate::script::value::Value;

    #[test]
    fn documented_examples() {
        assert_eq!(run("{csv.count}", Value::str("a,b,c")), Value::Int(3));
        assert_eq!(run("{csv.value,2}", Value::str("a,b,c")), Value::str("c"));
        assert_eq!(run("{csv.value,-1}", Value::str("a,b,c")), Value::str("c"));
        assert_eq!(run("{csv.value,3}", Value::str("a,b,c")), Value::Null);
        assert_eq!(
            run("{csv.value,1}", Value::str("a,\"b,x\",c")),
            Value::str("b,x")
        );
    }
}

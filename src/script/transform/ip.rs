//! `{ip.*}`: address tests, binary conversion, subnet match, resolution.

use super::{TrEnv, Transform, bytes_to_value, value_bytes};
use crate::script::value::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

fn bool_val(b: bool) -> Value {
    Value::Int(b as i32)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `ip/len` subnet test; None on malformed input or address-family mismatch.
pub fn ip_matches(ip: &str, net: &str) -> Option<bool> {
    let ip = parse_ip(ip)?;
    let (n, len) = match net.split_once('/') {
        Some((n, l)) => (parse_ip(n)?, Some(l.trim())),
        None => (parse_ip(net)?, None),
    };
    match (ip, n) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits: u32 = match len {
                None => 32,
                Some(l) => match l.parse::<u32>() {
                    Ok(v) if v <= 32 => v,
                    _ => u32::from(l.parse::<Ipv4Addr>().ok()?).count_ones(),
                },
            };
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Some(u32::from(a) & mask == u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits: u32 = match len {
                None => 128,
                Some(l) => l.parse().ok().filter(|v| *v <= 128)?,
            };
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            Some(u128::from(a) & mask == u128::from(b) & mask)
        }
        _ => None,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            o[0] == 10
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 127
        }
        IpAddr::V6(_) => false,
    }
}

pub(super) fn eval(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(text) = input.as_str() else {
        return Value::Null;
    };
    match t.method.as_str() {
        "pton" => match parse_ip(&text) {
            Some(IpAddr::V4(v)) => bytes_to_value(v.octets().to_vec()),
            Some(IpAddr::V6(v)) => bytes_to_value(v.octets().to_vec()),
            None => Value::Null,
        },
        "ntop" => {
            let b = value_bytes(&text);
            match b.len() {
                4 => Value::str(Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&b);
                    Value::str(Ipv6Addr::from(a).to_string())
                }
                _ => Value::Null,
            }
        }
        "family" => match value_bytes(&text).len() {
            4 => Value::str("INET"),
            16 => Value::str("INET6"),
            _ => Value::Null,
        },
        "isip" => bool_val(parse_ip(&text).is_some()),
        "isip4" => bool_val(matches!(parse_ip(&text), Some(IpAddr::V4(_)))),
        "isip6" => bool_val(matches!(parse_ip(&text), Some(IpAddr::V6(_)))),
        "isprivate" => match parse_ip(&text) {
            Some(ip) => bool_val(is_private(ip)),
            None => Value::Null,
        },
        "matches" => {
            let Some(net) = t.param_str(0, env) else {
                return Value::Null;
            };
            ip_matches(&text, &net).map(bool_val).unwrap_or(Value::Null)
        }
        "resolve" => {
            if parse_ip(&text).is_some() {
                return Value::str(text.into_owned());
            }
            let addrs: Vec<IpAddr> = match (text.as_ref(), 0u16).to_socket_addrs() {
                Ok(a) => a.map(|a| a.ip()).collect(),
                Err(_) => return Value::Null,
            };
            let pick = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first());
            pick.map(|a| Value::str(a.to_string()))
                .unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_env::run;
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    #[test]
    fn documented_examples() {
        assert_eq!(
            run("{ip.pton}{ip.ntop}", s("194.168.4.134")),
            s("194.168.4.134")
        );
        assert_eq!(run("{ip.pton}{s.len}", s("194.168.4.134")), Value::Int(4));
        assert_eq!(run("{ip.isip}", s("194.168.4.134")), Value::Int(1));
        assert_eq!(run("{ip.isip}", s("194.168.4.134.1")), Value::Int(0));
        assert_eq!(run("{ip.isip4}", s("194.168.4.134")), Value::Int(1));
        assert_eq!(run("{ip.isip6}", s("194.168.4.134")), Value::Int(0));
        assert_eq!(
            run("{ip.isip6}", s("2001:0db8:85a3:0000:0000:8a2e:0370:7334")),
            Value::Int(1)
        );
        assert_eq!(run("{ip.pton}{ip.family}", s("194.168.4.134")), s("INET"));
        assert_eq!(run("{ip.pton}{ip.family}", s("::1")), s("INET6"));
        assert_eq!(
            run("{ip.pton}{ip.ntop}", s("2001:db8::1")),
            s("2001:db8::1")
        );
        assert_eq!(
            run("{ip.matches,10.10.0.1/24}", s("10.10.0.77")),
            Value::Int(1)
        );
        assert_eq!(
            run("{ip.matches,10.10.0.1/24}", s("10.10.1.77")),
            Value::Int(0)
        );
        assert_eq!(run("{ip.matches,10.10.0.1/24}", s("::1")), Value::Null);
        assert_eq!(run("{ip.isprivate}", s("192.168.1.1")), Value::Int(1));
        assert_eq!(run("{ip.isprivate}", s("100.64.0.1")), Value::Int(1));
        assert_eq!(run("{ip.isprivate}", s("127.0.0.1")), Value::Int(1));
        assert_eq!(run("{ip.isprivate}", s("8.8.8.8")), Value::Int(0));
        assert_eq!(run("{ip.resolve}", s("127.0.0.1")), s("127.0.0.1"));
    }

    #[test]
    fn masks() {
        assert_eq!(ip_matches("10.1.2.3", "10.0.0.0/8"), Some(true));
        assert_eq!(ip_matches("10.1.2.3", "10.0.0.0/255.255.0.0"), Some(false));
        assert_eq!(ip_matches("10.0.2.3", "10.0.0.0/255.255.0.0"), Some(true));
        assert_eq!(ip_matches("2001:db8::5", "2001:db8::/32"), Some(true));
        assert_eq!(ip_matches("x", "10.0.0.0/8"), None);
    }
}

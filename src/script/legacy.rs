//! Core keywords and values of OpenSIPS 1.x/2.x (removed in 2.4), mapped to their modern meaning.
//! The parser rewrites them and warns.

/// Variable that replaces a legacy keyword used as the left side of a comparison.
pub fn keyword_pv(word: &str) -> Option<&'static str> {
    Some(match word {
        "method" => "$rm",
        "uri" => "$ru",
        "src_ip" => "$si",
        "src_port" => "$sp",
        "dst_ip" => "$socket_in(ip)",
        "dst_port" => "$socket_in(port)",
        "from_uri" => "$fu",
        "to_uri" => "$tu",
        "status" => "$rs",
        "proto" => "$socket_in(proto)",
        "af" => "$socket_in(af)",
        _ => return None,
    })
}

/// Argument of `is_myself()` standing for `<var> == myself`.
pub fn myself_arg(pv: &str) -> String {
    match pv {
        "$ru" => "$rd".to_string(),
        "$fu" => "$fd".to_string(),
        "$tu" => "$td".to_string(),
        other => other.to_string(),
    }
}

/// Legacy constants on the right side of a comparison, as the string the modern variable holds.
pub fn constant(word: &str) -> Option<&'static str> {
    Some(match word {
        "INET" => "INET",
        "INET6" => "INET6",
        "UDP" | "udp" => "udp",
        "TCP" | "tcp" => "tcp",
        "TLS" | "tls" => "tls",
        "SCTP" | "sctp" => "sctp",
        "WS" | "ws" => "ws",
        "WSS" | "wss" => "wss",
        "max_len" => "65535",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(keyword_pv("method"), Some("$rm"));
        assert_eq!(keyword_pv("dst_port"), Some("$socket_in(port)"));
        assert_eq!(keyword_pv("foo"), None);
        assert_eq!(myself_arg("$ru"), "$rd");
        assert_eq!(constant("UDP"), Some("udp"));
    }
}

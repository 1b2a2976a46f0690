//! Contact header values (RFC 3261 §20.10, RFC 5626 `+sip.instance` / `reg-id`).

use super::error::HeaderError;
use super::hdr::HdrId;
use super::msg::Msg;
use super::nameaddr::NameAddr;
use super::scan::{parse_u32, trim};

/// One Contact value, or `*` (wildcard, used by REGISTER to remove every binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Contact<'a>, HeaderError> {
        if trim(raw) == b"*" {
            return Ok(Contact::Star);
        }
        let addr = NameAddr::parse(raw)?;
        if let Some(e) = addr.params.get(b"expires")
            && e.and_then(parse_u32).is_none()
        {
            return Err(HeaderError::new("bad Contact expires"));
        }
        if let Some(q) = addr.params.get(b"q")
            && q.and_then(parse_q).is_none()
        {
            return Err(HeaderError::new("bad Contact q"));
        }
        Ok(Contact::Addr(addr))
    }

    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.addr()?.params.value(b"expires").and_then(parse_u32)
    }

    /// `q` parameter in thousandths (q=0.5 gives 500).
    pub fn q(&self) -> Option<u16> {
        self.addr()?.params.value(b"q").and_then(parse_q)
    }

    /// `+sip.instance` value without quotes or `<>` (e.g. `urn:uuid:...`).
    pub fn instance(&self) -> Option<&'a [u8]> {
        let v = self.addr()?.params.value(b"+sip.instance")?;
        Some(
            v.strip_prefix(b"<")
                .and_then(|v| v.strip_suffix(b">"))
                .unwrap_or(v),
        )
    }

    /// RFC 5626 `reg-id`.
    pub fn reg_id(&self) -> Option<u32> {
        self.addr()?.params.value(b"reg-id").and_then(parse_u32)
    }
}

/// `q` value ("0", "0.5", "1.000") in thousandths.
pub fn parse_q(v: &[u8]) -> Option<u16> {
    let (int, frac) = match super::scan::find_byte(b'.', v) {
        Some(d) => (&v[..d], &v[d + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl Msg {
    /// Every Contact value in order (across lines and commas).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, HeaderError>> + '_ {
        self.list_values(HdrId::Contact)
            .map(|r| r.and_then(Contact::parse))
    }

    /// The first Contact value.
    pub fn contact(&self) -> Option<Result<Contact<'_>, HeaderError>> {
        self.header(HdrId::Contact)?;
        Some(
            self.first_list_value(HdrId::Contact)
                .and_then(Contact::parse),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contact_params() {
        let c = Contact::parse(br#"<sip:alice@192.0.2.4:5060;ob>;expires=3600;q=0.7;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1"#).unwrap();
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.q(), Some(700));
        assert_eq!(
            c.instance(),
            Some(&b"urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF"[..])
        );
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.addr().unwrap().uri.port, Some(5060));
        assert_eq!(Contact::parse(b" * ").unwrap(), Contact::Star);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Contact::parse(b"<sip:a@b>;expires=-1").is_err());
        assert!(Contact::parse(b"<sip:a@b>;q=2").is_err());
        assert_eq!(parse_q(b"1.000"), Some(1000));
        assert_eq!(parse_q(b"0.33"), Some(330));
    }
}

//! Script functions that start transactions of osips's own (§8.3): `t_new_request` (a new
//! request, through `local_route`) and `t_replicate` (a copy of the current request sent
//! statefully elsewhere; its replies end here).

use std::sync::Arc;

use bytes::Bytes;

use crate::runtime::core_fns::sip;
use crate::script::{ArgValue, RunCtx};
use crate::sip::{Method, Msg};
use crate::transport::{Destination, Proto};

use super::local::{LocalRequest, originate};
use super::tx::{Transaction, UacDone};
use super::uac::{self, BranchSpec};

/// `"[display ]URI"` as a From / To value: the URI in angle brackets after the display name.
pub fn name_addr(text: &str) -> String {
    let text = text.trim();
    let (display, uri) = match text.rsplit_once(' ') {
        Some((d, u)) => (d.trim(), u.trim()),
        None => ("", text),
    };
    let uri = if uri.starts_with('<') {
        uri.to_string()
    } else {
        format!("<{uri}>")
    };
    if display.is_empty() {
        uri
    } else {
        format!("{display} {uri}")
    }
}

/// The request text of `t_new_request` (top Via a placeholder, as `mi::build_uac_request`).
pub fn new_request_text(
    method: &str,
    ruri: &str,
    from: &str,
    to: &str,
    body: Option<&str>,
) -> Result<String, String> {
    if method.is_empty() || method.contains(char::is_whitespace) {
        return Err(format!("bad method `{method}`"));
    }
    if ruri.is_empty() || ruri.contains(char::is_whitespace) {
        return Err(format!("bad Request-URI `{ruri}`"));
    }
    let mut headers = format!(
        "From: {};tag={}\r\nTo: {}\r\n",
        name_addr(from),
        super::mi::random_hex(),
        name_addr(to)
    );
    let body = match body.filter(|b| !b.is_empty()) {
        Some(b) => {
            let (ct, text) = b
                .split_once(' ')
                .ok_or_else(|| format!("no content type before the body `{b}`"))?;
            headers.push_str(&format!("Content-Type: {ct}\r\n"));
            Some(text)
        }
        None => None,
    };
    Ok(super::mi::build_uac_request(method, ruri, &headers, body))
}

fn log_outcome(what: &'static str) -> UacDone {
    Box::new(move |code, _| tracing::debug!("{what}: final reply {code}"))
}

/// `t_new_request(method, ruri, from, to[, body[, ctx]])`.
pub fn t_new_request(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let s = |i: usize| args.get(i).and_then(ArgValue::str).unwrap_or("");
    let text = match new_request_text(s(0), s(1), s(2), s(3), Some(s(4))) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("t_new_request: {e}");
            return -1;
        }
    };
    // Startup, timer and event routes have no message: the process-wide runtime then.
    let shared = sip(ctx)
        .map(|m| m.shared.clone())
        .or_else(crate::runtime::global_shared);
    let Some(shared) = shared else {
        tracing::error!("t_new_request: the proxy is not running");
        return -1;
    };
    let msg = match Msg::parse(Bytes::from(text)) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("t_new_request: bad request: {e}");
            return -1;
        }
    };
    let req = LocalRequest {
        msg,
        uri: s(1).to_string(),
        dst_uri: None,
        proxy: None,
        uac_ctx: args.get(5).and_then(ArgValue::str).map(str::to_string),
    };
    match originate(&shared, req, log_outcome("t_new_request")) {
        Ok(_) => 1,
        Err(e) => {
            tracing::error!("t_new_request: {e}");
            -1
        }
    }
}

/// `t_replicate(uri[, flags])`: the request as it is now, sent statefully to `uri`; the
/// replies are absorbed.
pub fn t_replicate(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let uri = args.first().and_then(ArgValue::str).unwrap_or("").trim();
    let Some(m) = sip(ctx) else { return -1 };
    if !m.msg.is_request() || matches!(m.msg.method(), Method::Ack | Method::Cancel) {
        tracing::error!("t_replicate: only requests other than ACK / CANCEL are replicated");
        return -1;
    }
    if uri.is_empty() {
        tracing::error!("t_replicate: no destination URI");
        return -1;
    }
    // The t_relay flags; none changes how the single copy is sent here.
    if let Some(f) = args.get(1).and_then(ArgValue::str)
        && super::funcs::parse_flags(f).is_none()
    {
        tracing::error!("t_replicate: unknown flags `{f}`");
        return -1;
    }
    let shared = m.shared.clone();
    let cfg = super::config::of(shared.script());
    let tm = super::tm(&shared);
    let tx: Arc<Transaction> = Transaction::new(
        shared.clone(),
        cfg.clone(),
        None,
        m.msg.clone(),
        m.info.clone(),
        Destination::new(Proto::Udp, m.info.src),
    );
    tm.table.by_id.insert_new(tx.id, tx.clone());
    tm.stats.uac_transactions.inc();
    tm.stats.inuse.inc();
    {
        let mut st = tx.state.lock();
        st.on_done = Some(log_outcome("t_replicate"));
        st.flags = m.flags;
        let life = st.fr_timeout + st.fr_inv_timeout + cfg.t1x64();
        tx.delete_after(&mut st, life);
    }
    let spec = BranchSpec {
        uri: m.ruri().into_owned(),
        dst_uri: Some(uri.to_string()),
        socket: m.send_socket,
        ..BranchSpec::default()
    };
    let branch = match uac::prepare(&tx, &m.msg, &m.info, &spec, 0) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("t_replicate: to {uri}: {e}");
            tx.delete();
            return e.code();
        }
    };
    let mut st = tx.state.lock();
    st.branches.push(branch);
    if let Err(e) = uac::start(&tx, &mut st, 0) {
        drop(st);
        tracing::error!("t_replicate: to {uri}: {e}");
        tx.delete();
        return e.code();
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_and_to_take_an_optional_display_name() {
        assert_eq!(name_addr("sip:a@h"), "<sip:a@h>");
        assert_eq!(name_addr("Alice sip:a@h"), "Alice <sip:a@h>");
        assert_eq!(name_addr("\"A B\" <sip:a@h>"), "\"A B\" <sip:a@h>");
    }

    #[test]
    fn new_requests_carry_from_to_and_typed_body() {
        let t = new_request_text(
            "MESSAGE",
            "sip:bob@127.0.0.1",
            "Alice sip:alice@h",
            "sip:bob@h",
            Some("text/plain hello there"),
        )
        .unwrap();
        let m = Msg::parse(Bytes::from(t)).unwrap();
        assert_eq!(m.method(), Method::Message);
        assert_eq!(m.ruri(), b"sip:bob@127.0.0.1");
        let from = String::from_utf8_lossy(m.header_by_name("From").unwrap()).into_owned();
        assert!(from.starts_with("Alice <sip:alice@h>;tag="), "{from}");
        assert_eq!(m.header_by_name("To"), Some(&b"<sip:bob@h>"[..]));
        assert_eq!(m.header_by_name("Content-Type"), Some(&b"text/plain"[..]));
        assert_eq!(m.body(), b"hello there");
        assert_eq!(m.cseq().method, Method::Message);
    }

    #[test]
    fn bad_new_requests_are_refused() {
        assert!(new_request_text("", "sip:b@h", "sip:a@h", "sip:b@h", None).is_err());
        assert!(new_request_text("OPTIONS", "", "sip:a@h", "sip:b@h", None).is_err());
        assert!(
            new_request_text("MESSAGE", "sip:b@h", "sip:a@h", "sip:b@h", Some("nospace")).is_err()
        );
    }
}

//! tm MI commands: `t_uac_dlg` (send a request statefully through `local_route`, answer with
//! its final reply), `t_uac_cancel` (cancel such a request), `t_hash` (table occupancy) and
//! `t_reply` (answer a pending transaction, named by `$T_id`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::mi::{MiCommand, MiError, MiParams, MiResult, Recipe};
use crate::runtime::core_fns::{parse_hop, resolve};
use crate::sip::Msg;
use crate::transport::Proto;

use super::local::{LocalRequest, originate};
use super::tx::Transaction;
use super::uas;

/// `$T_id` / MI `trans_id` text of a transaction: `hash:label` (the id's two halves).
pub fn trans_id(id: u64) -> String {
    format!("{}:{}", id >> 32, id & 0xffff_ffff)
}

fn parse_trans_id(s: &str) -> Option<u64> {
    let (h, l) = s.trim().split_once(':')?;
    let (h, l): (u64, u64) = (h.parse().ok()?, l.parse().ok()?);
    (h <= u32::MAX as u64 && l <= u32::MAX as u64).then_some((h << 32) | l)
}

/// `.` stands for "none" in OpenSIPS MI string parameters.
fn opt(p: &MiParams<'_>, name: &str) -> Result<Option<String>, MiError> {
    Ok(p.opt_string(name)?.filter(|s| !s.is_empty() && s != "."))
}

pub(super) fn header_lines(text: &str) -> Vec<(String, String)> {
    text.split(['\n'])
        .map(|l| l.trim_end_matches('\r'))
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .filter(|(n, _)| !n.is_empty())
        .collect()
}

fn has(h: &[(String, String)], names: &[&str]) -> bool {
    h.iter()
        .any(|(n, _)| names.iter().any(|x| n.eq_ignore_ascii_case(x)))
}

pub(super) fn random_hex() -> String {
    use std::hash::BuildHasher;
    format!(
        "{:016x}",
        std::hash::RandomState::new().hash_one(std::time::SystemTime::now())
    )
}

/// The request text `t_uac_dlg` sends (the Via is added per branch).
pub fn build_uac_request(method: &str, ruri: &str, headers: &str, body: Option<&str>) -> String {
    let h = header_lines(headers);
    // The Via is a placeholder: the branch writes its own.
    let mut out =
        format!("{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0;branch=z9hG4bK0\r\n");
    for (n, v) in &h {
        let skip = ["Content-Length", "l", "Via", "v"];
        if !skip.iter().any(|x| n.eq_ignore_ascii_case(x)) {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    if !has(&h, &["From", "f"]) {
        out.push_str(&format!(
            "From: <sip:osips@localhost>;tag={}\r\n",
            random_hex()
        ));
    }
    if !has(&h, &["To", "t"]) {
        out.push_str(&format!("To: <{ruri}>\r\n"));
    }
    if !has(&h, &["Call-ID", "i"]) {
        out.push_str(&format!("Call-ID: {}@osips\r\n", random_hex()));
    }
    if !has(&h, &["CSeq"]) {
        out.push_str(&format!("CSeq: 1 {method}\r\n"));
    }
    if !has(&h, &["Max-Forwards"]) {
        out.push_str("Max-Forwards: 70\r\n");
    }
    let body = body.unwrap_or("");
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out
}

fn t_uac_dlg(p: &MiParams<'_>) -> MiResult {
    let shared = crate::runtime::global_shared()
        .ok_or_else(|| MiError::server_error("the proxy is not running"))?;
    let method = p.string("method")?;
    let ruri = p.string("ruri")?;
    let headers = opt(p, "headers")?.unwrap_or_default();
    let body = opt(p, "body")?;
    let text = build_uac_request(&method, &ruri, &headers, body.as_deref());
    let msg = Msg::parse(Bytes::from(text))
        .map_err(|e| MiError::invalid_params(format!("bad request: {e}")))?;
    let proxy = match opt(p, "next_hop")? {
        Some(h) => Some(
            parse_hop(&h, Proto::Udp)
                .and_then(|(pr, host, port)| resolve(pr, &host, port))
                .map_err(MiError::invalid_params)?,
        ),
        None => None,
    };
    let cfg = super::config::of(shared.script());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let req = LocalRequest {
        msg,
        uri: ruri,
        dst_uri: None,
        proxy,
        uac_ctx: None,
    };
    let done: super::tx::UacDone = Box::new(move |code, reply| {
        let _ = done_tx.send((code, reply));
    });
    originate(&shared, req, done).map_err(|e| MiError::server_error(e.to_string()))?;
    let wait = cfg.fr_timeout.max(cfg.fr_inv_timeout) + Duration::from_secs(5);
    let (code, reply) = done_rx
        .recv_timeout(wait)
        .map_err(|_| MiError::server_error("no final reply"))?;
    Ok(uac_result(code, reply.as_ref()))
}

fn uac_result(code: u16, reply: Option<&Msg>) -> Value {
    match reply {
        Some(r) => json!({
            "Status": format!("{code} {}", String::from_utf8_lossy(r.reason())),
            "Message": String::from_utf8_lossy(&r.to_bytes()),
        }),
        None => json!({
            "Status": format!("{code} {}", if code == 408 { "Request Timeout" } else { "Local error" }),
            "Message": "",
        }),
    }
}

fn t_reply(p: &MiParams<'_>) -> MiResult {
    let code = p.int("code")?;
    if !(100..=699).contains(&code) {
        return Err(MiError::invalid_params("code must be 100..699"));
    }
    let reason = p.string("reason")?;
    let id = parse_trans_id(&p.string("trans_id")?)
        .ok_or_else(|| MiError::invalid_params("trans_id is hash:label"))?;
    let to_tag = opt(p, "to_tag")?;
    let headers = opt(p, "new_headers")?;
    let body = opt(p, "body")?;
    let tx: Arc<Transaction> = super::tm_if_started()
        .and_then(|tm| tm.table.by_id.get(&id))
        .ok_or_else(|| MiError::new(404, "Transaction not found"))?;
    let mut st = tx.state.lock();
    if let Some(t) = to_tag {
        st.uas.to_tag = t;
    }
    let mut extra = Vec::new();
    for (n, v) in header_lines(headers.as_deref().unwrap_or("")) {
        extra.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    st.uas.extra_headers = extra;
    let b = body.as_ref().map(|b| (b.as_bytes(), &b"text/plain"[..]));
    let sent = uas::local_reply(&tx, &mut st, code as u16, &reason, b);
    st.uas.extra_headers.clear();
    if sent {
        crate::mi::ok()
    } else {
        Err(MiError::new(481, "Transaction already answered"))
    }
}

/// The CSeq number of an MI `cseq` ("5" or "5 INVITE").
fn cseq_number(s: &str) -> Option<u32> {
    s.split_whitespace().next()?.parse().ok()
}

/// `t_uac_cancel(callid, cseq)`: cancels every pending branch of the request osips sent
/// (`t_uac_dlg`, `t_new_request`) with that Call-ID and CSeq.
fn t_uac_cancel(p: &MiParams<'_>) -> MiResult {
    let callid = p.string("callid")?;
    let cseq = cseq_number(&p.string("cseq")?)
        .ok_or_else(|| MiError::invalid_params("cseq is a number"))?;
    let tx = super::tm_if_started()
        .and_then(|tm| {
            tm.table
                .by_call_id(callid.as_bytes(), cseq)
                .into_iter()
                .find(|t| t.key.is_none() && t.state.lock().uas.status < 200)
        })
        .ok_or_else(|| MiError::new(481, "No such transaction"))?;
    super::reply::cancel_all(&tx);
    crate::mi::ok()
}

/// `t_hash`: per hash entry, the transactions now and ever.
fn t_hash(_p: &MiParams<'_>) -> MiResult {
    let sizes = super::tm_if_started()
        .map(|tm| tm.table.by_id.shard_sizes())
        .unwrap_or_default();
    let rows: Vec<Value> = sizes
        .iter()
        .enumerate()
        .map(|(i, (cur, total))| json!({"index": i, "Current": cur, "Total": total}))
        .collect();
    Ok(Value::Array(rows))
}

const UAC_DLG_3: &[&str] = &["method", "ruri", "headers"];
const UAC_DLG_4: &[&str] = &["method", "ruri", "headers", "next_hop"];
const UAC_DLG_5: &[&str] = &["method", "ruri", "headers", "next_hop", "socket"];
const UAC_DLG_6: &[&str] = &["method", "ruri", "headers", "next_hop", "socket", "body"];
const REPLY_4: &[&str] = &["code", "reason", "trans_id", "to_tag"];
const REPLY_5: &[&str] = &["code", "reason", "trans_id", "to_tag", "new_headers"];
const REPLY_6: &[&str] = &[
    "code",
    "reason",
    "trans_id",
    "to_tag",
    "new_headers",
    "body",
];

const CANCEL_2: &[&str] = &["callid", "cseq"];

pub static MI_COMMANDS: [MiCommand; 4] = [
    MiCommand {
        name: "t_uac_cancel",
        aliases: &[],
        help: "cancels a request osips sent (by Call-ID and CSeq)",
        flags: 0,
        recipes: &[Recipe {
            params: CANCEL_2,
            handler: t_uac_cancel,
        }],
    },
    MiCommand {
        name: "t_hash",
        aliases: &[],
        help: "transactions per hash entry (now and in total)",
        flags: 0,
        recipes: &[Recipe {
            params: &[],
            handler: t_hash,
        }],
    },
    MiCommand {
        name: "t_uac_dlg",
        aliases: &[],
        help: "sends a request statefully and returns its final reply",
        flags: 0,
        recipes: &[
            Recipe {
                params: UAC_DLG_3,
                handler: t_uac_dlg,
            },
            Recipe {
                params: UAC_DLG_4,
                handler: t_uac_dlg,
            },
            Recipe {
                params: UAC_DLG_5,
                handler: t_uac_dlg,
            },
            Recipe {
                params: UAC_DLG_6,
                handler: t_uac_dlg,
            },
        ],
    },
    MiCommand {
        name: "t_reply",
        aliases: &[],
        help: "answers a pending transaction (trans_id from $T_id)",
        flags: 0,
        recipes: &[
            Recipe {
                params: REPLY_4,
                handler: t_reply,
            },
            Recipe {
                params: REPLY_5,
                handler: t_reply,
            },
            Recipe {
                params: REPLY_6,
                handler: t_reply,
            },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trans_ids_round_trip() {
        let id = 0x1234_5678_9abc_def0;
        assert_eq!(parse_trans_id(&trans_id(id)), Some(id));
        assert_eq!(parse_trans_id("1"), None);
        assert_eq!(parse_trans_id("x:1"), None);
        assert_eq!(cseq_number("5 INVITE"), Some(5));
        assert_eq!(cseq_number("7"), Some(7));
        assert_eq!(cseq_number("INVITE"), None);
    }

    #[test]
    fn uac_requests_get_the_mandatory_headers() {
        let t = build_uac_request(
            "OPTIONS",
            "sip:bob@127.0.0.1",
            "From: <sip:a@h>;tag=1\r\nContent-Length: 99\r\n",
            None,
        );
        let m = Msg::parse(Bytes::from(t)).unwrap();
        assert_eq!(m.from_tag(), Some(&b"1"[..]));
        assert_eq!(m.cseq().num, 1);
        assert!(!m.call_id().is_empty());
        assert_eq!(m.content_length(), Some(0));
        assert_eq!(m.max_forwards(), Some(70));
    }
}

//! Replies to PUBLISH and SUBSCRIBE, sent through the request's transaction (made here when the
//! script did not call `t_newtran`), with the headers the reply needs.

use crate::modules::tm;
use crate::runtime::msgctx::SipCtx;

/// Starts answering this request: its transaction (made here unless the script called
/// `t_newtran`) and the To tag of the replies (ours in the dialog a SUBSCRIBE makes).
/// Err: the script's return value (0 for a retransmission, already answered again).
pub fn begin(m: &mut SipCtx) -> Result<String, i32> {
    match tm::funcs::new_transaction(m) {
        Ok((tx, true)) => Ok(tx.state.lock().uas.to_tag.clone()),
        Ok((tx, false)) => {
            tm::uas::retransmit_reply(&tx);
            Err(0)
        }
        Err(rc) => Err(rc),
    }
}

/// Sends `code reason` with `headers` (whole CRLF-ended lines); true when sent.
pub fn send(m: &mut SipCtx, code: u16, reason: &str, headers: &str) -> bool {
    let tx = match tm::funcs::new_transaction(m) {
        Ok((tx, true)) => tx,
        Ok((tx, false)) => {
            tm::uas::retransmit_reply(&tx);
            return false;
        }
        Err(_) => return false,
    };
    m.replied = true;
    let mut st = tx.state.lock();
    st.uas.extra_headers = headers.as_bytes().to_vec();
    let sent = tm::uas::local_reply(&tx, &mut st, code, reason, None);
    st.uas.extra_headers.clear();
    sent
}

//! Script functions working on an existing transaction (§8.3): `t_cancel_branch`,
//! `t_add_hdrs`, `t_add_cancel_reason`, `t_flush_flags`, `t_reply_by_callid`.

use std::sync::Arc;

use crate::runtime::core_fns::sip;
use crate::script::{ArgValue, RunCtx};
use crate::sip::Method;

use super::ctx::{self, TmRoute};
use super::tx::Transaction;
use super::{reply, uac, uas};

/// Which branches `t_cancel_branch` cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelWhich {
    /// `""`: the branch of the reply (only while it is not final).
    This,
    /// `"a"`: every pending branch (not this one when its reply is final).
    All,
    /// `"o"`: every pending branch but this one.
    Others,
}

impl CancelWhich {
    pub fn parse(s: &str) -> Option<CancelWhich> {
        let s = s.trim().to_ascii_lowercase();
        if !s.chars().all(|c| c == 'a' || c == 'o') {
            return None;
        }
        Some(if s.contains('a') {
            CancelWhich::All
        } else if s.contains('o') {
            CancelWhich::Others
        } else {
            CancelWhich::This
        })
    }

    /// Whether branch `i` is to be cancelled, for the reply `code` on branch `this`.
    pub fn selects(self, i: usize, this: usize, code: u16) -> bool {
        match self {
            CancelWhich::This => i == this && code < 200,
            CancelWhich::All => i != this || code < 200,
            CancelWhich::Others => i != this,
        }
    }
}

/// The header lines of a script argument (`"Name: value\r\n..."`), CRLF-terminated.
pub fn header_block(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in super::mi::header_lines(text) {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out
}

/// `t_cancel_branch(["a"|"o"|""])` in an onreply route.
pub fn t_cancel_branch(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let arg = args.first().and_then(ArgValue::str).unwrap_or("");
    let Some(which) = CancelWhich::parse(arg) else {
        tracing::error!("t_cancel_branch: unknown flag `{arg}` (\"a\", \"o\" or none)");
        return -1;
    };
    let Some(m) = sip(ctx) else { return -1 };
    let Some(c) = ctx::get(m).filter(|c| c.route == TmRoute::Reply) else {
        tracing::error!("t_cancel_branch: no transaction in this route");
        return -1;
    };
    let (Some(tx), Some(this), Some(code)) = (c.tx.clone(), c.branch, c.reply_code) else {
        return -1;
    };
    if !tx.is_invite {
        return -1;
    }
    let mut ended = false;
    {
        let mut st = tx.state.lock();
        for (i, b) in st.branches.iter_mut().enumerate() {
            if which.selects(i, this, code) {
                ended |= uac::cancel_branch(&tx, b, i);
            }
        }
    }
    if ended {
        reply::check_final(&tx);
    }
    1
}

fn run_tx(m: &crate::runtime::SipCtx) -> Option<Arc<Transaction>> {
    ctx::get(m).and_then(|c| c.tx.clone())
}

/// `t_add_hdrs(hdrs)`: the headers go on every branch (and CANCEL) of the transaction sent
/// from now on.
pub fn t_add_hdrs(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let text = args.first().and_then(ArgValue::str).unwrap_or("");
    let Some(m) = sip(ctx) else { return -1 };
    let Some(tx) = run_tx(m) else {
        tracing::error!("t_add_hdrs: no transaction (call t_newtran first)");
        return -1;
    };
    let lines = super::mi::header_lines(text);
    if lines.is_empty() {
        tracing::error!("t_add_hdrs: no `Name: value` header in `{text}`");
        return -1;
    }
    tx.state.lock().extra_hdrs = lines;
    tx.cancel_hdrs.lock().added = header_block(text);
    1
}

/// `t_add_cancel_reason(hdr)`: the Reason header the CANCELs carry, set while relaying a
/// CANCEL (before `t_relay`), or on the run's own transaction.
pub fn t_add_cancel_reason(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let text = args.first().and_then(ArgValue::str).unwrap_or("");
    let block = header_block(text);
    if block.is_empty() {
        tracing::error!("t_add_cancel_reason: `{text}` is not a `Reason: ...` header");
        return -1;
    }
    let Some(m) = sip(ctx) else { return -1 };
    let target = if m.msg.is_request() && m.msg.method() == Method::Cancel {
        super::tm_if_started().and_then(|tm| tm.table.lookup_cancelled(&m.msg))
    } else {
        run_tx(m)
    };
    match target {
        Some(tx) => {
            tx.cancel_hdrs.lock().reason = block;
            1
        }
        None => {
            tracing::error!("t_add_cancel_reason: no transaction to cancel");
            -1
        }
    }
}

/// `t_flush_flags()`: the message flags as they are now become the transaction's.
pub fn t_flush_flags(ctx: &mut RunCtx<'_>, _args: &[ArgValue<'_>]) -> i32 {
    let Some(m) = sip(ctx) else { return -1 };
    let flags = m.flags;
    match run_tx(m) {
        Some(tx) => {
            tx.state.lock().flags = flags;
            1
        }
        None => {
            tracing::error!("t_flush_flags: no transaction for this message");
            -1
        }
    }
}

/// `t_reply_by_callid(code, reason[, callid[, cseq]])`: replies the pending server transaction
/// with that Call-ID and CSeq number (by default the current request's), e.g. the INVITE from
/// its CANCEL's route.
pub fn t_reply_by_callid(ctx: &mut RunCtx<'_>, args: &[ArgValue<'_>]) -> i32 {
    let code = args.first().and_then(ArgValue::int).unwrap_or(0);
    if !(100..=699).contains(&code) {
        tracing::error!("t_reply_by_callid: bad reply code {code}");
        return -1;
    }
    let reason = args
        .get(1)
        .and_then(ArgValue::str)
        .unwrap_or("")
        .to_string();
    let call_id = args.get(2).and_then(ArgValue::str).map(str::to_string);
    let cseq = args.get(3).and_then(|a| match a {
        ArgValue::Int(i) => Some(*i as i64),
        a => a.str().and_then(|s| s.trim().parse().ok()),
    });
    let Some(m) = sip(ctx) else { return -1 };
    let call_id = match call_id.filter(|c| !c.is_empty()) {
        Some(c) => c.into_bytes(),
        None => m.msg.call_id().to_vec(),
    };
    let cseq = match cseq {
        Some(n) if (0..=u32::MAX as i64).contains(&n) => n as u32,
        Some(n) => {
            tracing::error!("t_reply_by_callid: bad CSeq number {n}");
            return -1;
        }
        None => m.msg.cseq().num,
    };
    let Some(tm) = super::tm_if_started() else {
        return -1;
    };
    let own = run_tx(m).map(|t| t.id);
    let found = tm
        .table
        .by_call_id(&call_id, cseq)
        .into_iter()
        .filter(|t| t.key.is_some() && Some(t.id) != own && t.method != Method::Cancel)
        .find(|t| t.state.lock().uas.status < 200);
    let Some(tx) = found else {
        tracing::info!("t_reply_by_callid: no pending transaction for this Call-ID / CSeq");
        return -1;
    };
    let mut st = tx.state.lock();
    if uas::local_reply(&tx, &mut st, code as u16, &reason, None) {
        1
    } else {
        -1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_flags_select_branches() {
        let pick = |w: CancelWhich, code| -> Vec<usize> {
            (0..3).filter(|&i| w.selects(i, 1, code)).collect()
        };
        assert_eq!(CancelWhich::parse(""), Some(CancelWhich::This));
        assert_eq!(CancelWhich::parse("a"), Some(CancelWhich::All));
        assert_eq!(CancelWhich::parse("o"), Some(CancelWhich::Others));
        assert_eq!(CancelWhich::parse("x"), None);
        assert_eq!(pick(CancelWhich::This, 180), vec![1]);
        assert!(pick(CancelWhich::This, 486).is_empty());
        assert_eq!(pick(CancelWhich::All, 180), vec![0, 1, 2]);
        assert_eq!(pick(CancelWhich::All, 486), vec![0, 2]);
        assert_eq!(pick(CancelWhich::Others, 180), vec![0, 2]);
    }

    #[test]
    fn header_blocks_are_crlf_terminated_lines() {
        assert_eq!(
            header_block("X-A: 1\r\nX-B:2"),
            b"X-A: 1\r\nX-B: 2\r\n".to_vec()
        );
        assert!(header_block("no colon").is_empty());
    }
}

//! Requests osips originates (MI `t_uac_dlg`, `t_new_request`, the dialog module's BYEs, presence
//! NOTIFYs): the script's `local_route` runs on each before it is sent (headers, `$ru` / `$du`,
//! `t_on_reply` / `t_on_failure`, `drop()`), then it goes out statefully with the outcome given to
//! a callback.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::runtime::{Shared, SipCtx};
use crate::script::Value;
use crate::script::ast::RouteKind;
use crate::script::vars::AvpStore;
use crate::sip::Msg;
use crate::transport::{Destination, Proto, ReceiveInfo};

use super::ctx::{TmCtx, TmRoute};
use super::tx::{Transaction, UacDone};
use super::uac::{self, BranchSpec};

/// The AVP `t_new_request`'s context value is in, in `local_route`.
pub const UAC_CTX_AVP: &str = "uac_ctx";

/// One request osips originates. `msg` has a placeholder top Via (see
/// `mi::build_uac_request`); the branch writes ours.
pub struct LocalRequest {
    pub msg: Msg,
    pub uri: String,
    pub dst_uri: Option<String>,
    /// An explicit next hop (MI `next_hop`), over `$du` / the Request-URI.
    pub proxy: Option<Destination>,
    /// `$avp(uac_ctx)` in `local_route`.
    pub uac_ctx: Option<String>,
}

/// Why a local request was not sent.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("dropped by local_route")]
    Dropped,
    #[error("local_route nests too deep (t_new_request in local_route loops)")]
    TooDeep,
    #[error("{0}")]
    Send(String),
}

fn nowhere() -> ReceiveInfo {
    let addr = SocketAddr::from(([0, 0, 0, 0], 0));
    ReceiveInfo::udp(addr, addr, 0)
}

/// How deep `local_route` runs may nest (a `t_new_request` in `local_route` starts another).
pub const MAX_NESTING: u32 = 8;

thread_local! {
    static NESTING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `local_route` on `sc` with `avps`, counting the nesting on this thread.
fn run_local_route(
    shared: &Arc<Shared>,
    sc: &mut SipCtx,
    route: usize,
    avps: &mut AvpStore,
) -> Result<bool, LocalError> {
    let depth = NESTING.with(|n| n.get());
    if depth >= MAX_NESTING {
        return Err(LocalError::TooDeep);
    }
    NESTING.with(|n| n.set(depth + 1));
    let out = crate::runtime::handler::run_route_avps(shared.script(), sc, route, Some(avps));
    NESTING.with(|n| n.set(depth));
    Ok(out.dropped)
}

/// Sends `req` statefully after `local_route`; `done` gets the final code (also when sending
/// fails after the transaction was made). Returns the transaction.
pub fn originate(
    shared: &Arc<Shared>,
    mut req: LocalRequest,
    done: UacDone,
) -> Result<Arc<Transaction>, LocalError> {
    let cfg = super::config::of(shared.script());
    let tm = super::tm(shared);
    let info = nowhere();
    let tx = Transaction::new(
        shared.clone(),
        cfg.clone(),
        None,
        req.msg.clone(),
        info.clone(),
        Destination::new(Proto::Udp, info.src),
    );
    let mut socket = None;
    if let Some(route) = shared.script().route_index(RouteKind::Local, None) {
        let mut sc = SipCtx::new(req.msg.clone(), info.clone(), shared.clone());
        sc.dst_uri = req.dst_uri.clone();
        if req.uri.as_bytes() != sc.msg.ruri() {
            sc.new_ruri = Some(req.uri.clone());
        }
        sc.tm = Some(Box::new(TmCtx {
            tx: Some(tx.clone()),
            route: TmRoute::Local,
            ..TmCtx::default()
        }));
        let mut avps = AvpStore::default();
        if let Some(c) = &req.uac_ctx {
            avps.push(UAC_CTX_AVP, Value::str(c.clone()));
        }
        if run_local_route(shared, &mut sc, route, &mut avps)? {
            return Err(LocalError::Dropped);
        }
        req.uri = sc.ruri().into_owned();
        req.dst_uri = sc.dst_uri.clone();
        socket = sc.send_socket;
        let mut st = tx.state.lock();
        st.flags = sc.flags;
        st.avps = avps;
        st.ruri = req.uri.clone();
        req.msg = sc.msg;
        st.request = req.msg.clone();
    }
    tm.table.by_id.insert_new(tx.id, tx.clone());
    tm.stats.uac_transactions.inc();
    tm.stats.inuse.inc();
    {
        let mut st = tx.state.lock();
        st.on_done = Some(done);
        st.originated = true;
        let life = st.fr_timeout + st.fr_inv_timeout + cfg.t1x64();
        tx.delete_after(&mut st, life);
    }
    let spec = BranchSpec {
        uri: req.uri,
        dst_uri: req.dst_uri,
        proxy: req.proxy,
        socket,
        local: true,
        ..BranchSpec::default()
    };
    let branch = uac::prepare(&tx, &req.msg, &info, &spec, 0).map_err(|e| {
        tx.delete();
        LocalError::Send(e.to_string())
    })?;
    let mut st = tx.state.lock();
    st.branches.push(branch);
    if let Err(e) = uac::start(&tx, &mut st, 0) {
        drop(st);
        tx.delete();
        return Err(LocalError::Send(e.to_string()));
    }
    drop(st);
    Ok(tx)
}

/// Sends `text` (a whole request whose top Via is a placeholder, see
/// `mi::build_uac_request`) to `uri`, through `dst_uri` when given; `done` gets the final code.
pub fn send_request(
    shared: &Arc<Shared>,
    text: String,
    uri: &str,
    dst_uri: Option<String>,
    done: UacDone,
) -> Result<(), String> {
    let msg = Msg::parse(Bytes::from(text)).map_err(|e| format!("bad request: {e}"))?;
    let req = LocalRequest {
        msg,
        uri: uri.to_string(),
        dst_uri,
        proxy: None,
        uac_ctx: None,
    };
    originate(shared, req, done)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

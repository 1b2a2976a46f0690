//! Requests osips originates for other modules (the dialog module's BYEs): sent statefully as
//! MI `t_uac_dlg` does, with the outcome given to a callback.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::runtime::Shared;
use crate::sip::Msg;
use crate::transport::{Destination, Proto, ReceiveInfo};

use super::tx::{Transaction, UacDone};
use super::uac::{self, BranchSpec};

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
    let cfg = super::config::of(shared.script());
    let tm = super::tm(shared);
    let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
    let info = ReceiveInfo {
        proto: Proto::Udp,
        src: nowhere,
        local: nowhere,
        socket: 0,
        conn: None,
        force_rport: false,
    };
    let tx = Transaction::new(
        shared.clone(),
        cfg.clone(),
        None,
        msg.clone(),
        info.clone(),
        Destination::new(Proto::Udp, nowhere),
    );
    tm.table.by_id.insert_new(tx.id, tx.clone());
    tm.stats.uac_transactions.inc();
    tm.stats.inuse.inc();
    {
        let mut st = tx.state.lock();
        st.on_done = Some(done);
        let life = st.fr_timeout + st.fr_inv_timeout + cfg.t1x64();
        tx.delete_after(&mut st, life);
    }
    let spec = BranchSpec {
        uri: uri.to_string(),
        dst_uri,
        local: true,
        ..BranchSpec::default()
    };
    let branch = uac::prepare(&tx, &msg, &info, &spec, 0).map_err(|e| {
        tx.delete();
        e.to_string()
    })?;
    let mut st = tx.state.lock();
    st.branches.push(branch);
    if let Err(e) = uac::start(&tx, &mut st, 0) {
        drop(st);
        tx.delete();
        return Err(e.to_string());
    }
    Ok(())
}

//! tm statistics (`get_statistics tm:`), registered in the runtime's registry.

use std::sync::Arc;

use crate::stats::{StatDef, StatVar, Stats};

pub static STATS: [StatDef; 13] = [
    StatDef::counter("received_replies"),
    StatDef::counter("relayed_replies"),
    StatDef::counter("local_replies"),
    StatDef::counter("UAS_transactions"),
    StatDef::counter("UAC_transactions"),
    StatDef::counter("2xx_transactions"),
    StatDef::counter("3xx_transactions"),
    StatDef::counter("4xx_transactions"),
    StatDef::counter("5xx_transactions"),
    StatDef::counter("6xx_transactions"),
    StatDef::gauge("inuse_transactions"),
    StatDef::counter("timeout_finalresponse"),
    StatDef::counter("retransmissions"),
];

/// Handles on the registered statistics.
pub struct TmStats {
    pub received_replies: Arc<StatVar>,
    pub relayed_replies: Arc<StatVar>,
    pub local_replies: Arc<StatVar>,
    pub uas_transactions: Arc<StatVar>,
    pub uac_transactions: Arc<StatVar>,
    /// 2xx..6xx_transactions, by class.
    pub by_class: [Arc<StatVar>; 5],
    pub inuse: Arc<StatVar>,
    pub timeouts: Arc<StatVar>,
    pub retransmissions: Arc<StatVar>,
}

impl TmStats {
    pub fn register(stats: &Stats) -> TmStats {
        let v = stats.register_group("tm", &STATS);
        TmStats {
            received_replies: v[0].clone(),
            relayed_replies: v[1].clone(),
            local_replies: v[2].clone(),
            uas_transactions: v[3].clone(),
            uac_transactions: v[4].clone(),
            by_class: [
                v[5].clone(),
                v[6].clone(),
                v[7].clone(),
                v[8].clone(),
                v[9].clone(),
            ],
            inuse: v[10].clone(),
            timeouts: v[11].clone(),
            retransmissions: v[12].clone(),
        }
    }

    /// Counts a transaction completed with final reply `code`.
    pub fn completed(&self, code: u16) {
        if let Some(s) = (code / 100)
            .checked_sub(2)
            .and_then(|i| self.by_class.get(i as usize))
        {
            s.inc();
        }
    }
}

//! [`PvClass`]: the class of a pseudo-variable resolved from its name once, when the script is
//! compiled, so reads dispatch on a small integer instead of comparing the name at every access
//! (OpenSIPS keeps the getter's function pointer in `pv_spec_t` for the same reason).

/// The classes the interpreter and the SIP message context read without a name lookup; every
/// other name (module variables, rarely read core ones) is [`PvClass::Other`] and is matched by
/// name as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PvClass {
    #[default]
    Other,
    // Script variables.
    Var,
    Avp,
    Shv,
    Param,
    Return,
    /// `$rc`, `$retcode`.
    Rc,
    /// `$err.*`.
    Err,
    // The message.
    /// `$ru`, `$ruri`.
    Ru,
    /// `$rU`, `$ruri.user`.
    RuUser,
    /// `$rd`, `$ruri.domain`.
    RuDomain,
    /// `$rp`.
    RuPort,
    /// `$ou`, `$ouri`.
    Ou,
    OuUser,
    OuDomain,
    Rm,
    Rs,
    Rr,
    Rv,
    Si,
    Sp,
    Ri,
    /// `$Rp`.
    RiPort,
    /// `$pr`, `$proto`.
    Proto,
    SocketIn,
    /// `$fu`, `$from`.
    Fu,
    /// `$fU`, `$from.user`.
    FuUser,
    /// `$fd`, `$from.domain`.
    FuDomain,
    /// `$fn`.
    FuName,
    /// `$ft`.
    FuTag,
    /// `$tu`, `$to`.
    Tu,
    TuUser,
    TuDomain,
    TuName,
    TuTag,
    Ci,
    Cs,
    Ct,
    /// `$cT`.
    ContentType,
    Cl,
    Ua,
    Rb,
    Mb,
    Ml,
    /// `$mf`, `$flags`.
    Mf,
    Bf,
    /// `$du`, `$duri`.
    Du,
    Dd,
    Dp,
    Hdr,
    HdrCnt,
    MsgIsRequest,
    MsgType,
    Pid,
    /// `$Ts`.
    TsSec,
    /// `$Tsm`.
    TsMicro,
    /// `$TS`.
    TsStart,
    Time,
    /// `$branch`, `$msg.branch.uri`.
    Branch,
    /// `$au`, `$ar`, `$auth.nonce`... (read by name).
    Auth,
    /// `$challenge.*` (read by name).
    Challenge,
}

impl PvClass {
    /// A variable of the SIP message (`$ru` ... `$challenge.*`): read from the message context.
    #[inline]
    pub fn is_message(self) -> bool {
        self as u8 >= PvClass::Ru as u8
    }

    /// The class of a variable name (without `$`).
    pub fn of(name: &str) -> PvClass {
        use PvClass::*;
        match name {
            "var" => Var,
            "avp" => Avp,
            "shv" => Shv,
            "param" => Param,
            "return" => Return,
            "rc" | "retcode" => Rc,
            n if n.starts_with("err.") => Err,
            "ru" | "ruri" => Ru,
            "rU" | "ruri.user" => RuUser,
            "rd" | "ruri.domain" => RuDomain,
            "rp" => RuPort,
            "ou" | "ouri" => Ou,
            "oU" => OuUser,
            "od" => OuDomain,
            "rm" => Rm,
            "rs" => Rs,
            "rr" => Rr,
            "rv" => Rv,
            "si" => Si,
            "sp" => Sp,
            "Ri" => Ri,
            "Rp" => RiPort,
            "pr" | "proto" => Proto,
            "socket_in" => SocketIn,
            "fu" | "from" => Fu,
            "fU" | "from.user" => FuUser,
            "fd" | "from.domain" => FuDomain,
            "fn" => FuName,
            "ft" => FuTag,
            "tu" | "to" => Tu,
            "tU" | "to.user" => TuUser,
            "td" | "to.domain" => TuDomain,
            "tn" => TuName,
            "tt" => TuTag,
            "ci" => Ci,
            "cs" => Cs,
            "ct" => Ct,
            "cT" => ContentType,
            "cl" => Cl,
            "ua" => Ua,
            "rb" => Rb,
            "mb" => Mb,
            "ml" => Ml,
            "mf" | "flags" => Mf,
            "bf" => Bf,
            "du" | "duri" => Du,
            "dd" => Dd,
            "dp" => Dp,
            "hdr" => Hdr,
            "hdrcnt" => HdrCnt,
            "msg.is_request" => MsgIsRequest,
            "msg.type" => MsgType,
            "pid" => Pid,
            "Ts" => TsSec,
            "Tsm" => TsMicro,
            "TS" => TsStart,
            "time" => Time,
            "branch" | "msg.branch.uri" => Branch,
            "au" | "ad" | "aU" | "ar" | "an" | "adu" | "auth.nonce" | "auth.resp"
            | "auth.cnonce" | "auth.opaque" | "auth.alg" | "auth.qop" | "auth.nc" => Auth,
            "challenge.algorithm"
            | "challenge.realm"
            | "challenge.nonce"
            | "challenge.opaque"
            | "challenge.qop"
            | "challenge.ik"
            | "challenge.ck" => Challenge,
            _ => Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PvClass;

    #[test]
    fn names_and_aliases_share_a_class() {
        assert_eq!(PvClass::of("ru"), PvClass::Ru);
        assert_eq!(PvClass::of("ruri"), PvClass::Ru);
        assert_eq!(PvClass::of("from.user"), PvClass::FuUser);
        assert_eq!(PvClass::of("err.class"), PvClass::Err);
        assert_eq!(PvClass::of("challenge.realm"), PvClass::Challenge);
        assert_eq!(PvClass::of("Ri"), PvClass::Ri);
        assert_eq!(PvClass::of("ri"), PvClass::Other);
        assert_eq!(PvClass::of("dlg_val"), PvClass::Other);
        assert!(PvClass::Ru.is_message() && PvClass::Challenge.is_message());
        assert!(!PvClass::Err.is_message() && !PvClass::Other.is_message());
    }
}

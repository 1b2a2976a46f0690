//! sipp scenario XML for the end-to-end tests: the wrapper, `<ereg>` checks, one request and
//! its expected reply, a UAS answering 200, REGISTER with and without digest auth, and the
//! pieces of an INVITE call (INVITE, in-dialog requests, replies) with the common call flows.
#![allow(dead_code)]

/// A whole scenario: `body` and a `<Reference>` of `vars` (the `<ereg>` results).
pub fn wrap(name: &str, body: &str, vars: &[String]) -> String {
    let refs = if vars.is_empty() {
        String::new()
    } else {
        format!("  <Reference variables=\"{}\"/>\n", vars.join(","))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n{body}\n{refs}</scenario>\n"
    )
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One check sipp makes on a received message.
pub struct Check<'a> {
    /// POSIX extended regex (no `\n`: use `[[:space:]]`).
    pub re: &'a str,
    /// `msg` (the whole message) or `hdr` (the value of `header`).
    pub search_in: &'a str,
    pub header: Option<&'a str>,
    /// The message must not match.
    pub inverse: bool,
}

impl<'a> Check<'a> {
    /// A regex on the whole message; written `!regex`, one that must not match.
    pub fn msg(re: &'a str) -> Check<'a> {
        match re.strip_prefix('!') {
            Some(r) => Check {
                re: r,
                search_in: "msg",
                header: None,
                inverse: true,
            },
            None => Check {
                re,
                search_in: "msg",
                header: None,
                inverse: false,
            },
        }
    }
}

/// `<ereg>` actions for `checks`, assigned to `{prefix}0`, `{prefix}1`...; returns the XML and
/// the variable names (for [`wrap`]).
pub fn ereg_actions(checks: &[Check<'_>], prefix: &str) -> (String, Vec<String>) {
    let mut xml = String::new();
    let mut vars = Vec::new();
    for (i, c) in checks.iter().enumerate() {
        let hdr = c
            .header
            .map(|h| format!(" header=\"{h}\""))
            .unwrap_or_default();
        let check = if c.inverse {
            "check_it_inverse"
        } else {
            "check_it"
        };
        xml.push_str(&format!(
            "      <ereg regexp=\"{}\" search_in=\"{}\"{hdr} {check}=\"true\" assign_to=\"{prefix}{i}\"/>\n",
            xml_escape(c.re),
            c.search_in
        ));
        vars.push(format!("{prefix}{i}"));
    }
    (xml, vars)
}

/// `<ereg>` checks on the whole message, one per regex (`!regex`: must not match); returns the
/// XML and the comma-separated variables.
pub fn eregs(checks: &[&str]) -> (String, String) {
    let checks: Vec<Check<'_>> = checks.iter().map(|c| Check::msg(c)).collect();
    let (xml, vars) = ereg_actions(&checks, "c");
    (xml, vars.join(","))
}

/// `<recv>` of `what` (`request="INVITE"`, `response="200"`...) running `checks`.
pub fn recv_checked(what: &str, checks: &[Check<'_>], prefix: &str) -> (String, Vec<String>) {
    let (eregs, vars) = ereg_actions(checks, prefix);
    (
        format!("  <recv {what}>\n    <action>\n{eregs}    </action>\n  </recv>\n"),
        vars,
    )
}

/// A UAS answering one `method` request with 200 after `checks`.
pub fn uas_200_checked(name: &str, method: &str, checks: &[Check<'_>]) -> String {
    uas_200_tagged(name, method, checks, "[pid]uas[call_number]")
}

/// As [`uas_200_checked`], with `to_tag` (sipp keywords allowed) as the 200's To tag.
pub fn uas_200_tagged(name: &str, method: &str, checks: &[Check<'_>], to_tag: &str) -> String {
    let (recv, vars) = recv_checked(&format!("request=\"{method}\""), checks, "c");
    let body = format!(
        r#"{recv}  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag={to_tag}
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>"#
    );
    wrap(name, &body, &vars)
}

/// A UAS answering one `method` request with 200 after `checks` (regexes on the whole
/// request, `!regex` for one that must not match).
pub fn uas_200(method: &str, checks: &[&str]) -> String {
    let checks: Vec<Check<'_>> = checks.iter().map(|c| Check::msg(c)).collect();
    uas_200_checked("uas", method, &checks)
}

/// A UAC sending `request_line` with `headers` (each a whole line; Via, Call-ID and
/// Content-Length are added) and expecting `code`, with `checks` on the reply.
pub fn uac_request(
    name: &str,
    request_line: &str,
    headers: &[String],
    code: u16,
    checks: &[Check<'_>],
) -> String {
    uac_request_after(name, request_line, headers, &[], code, checks)
}

/// As [`uac_request`], with `provisional` responses optionally received before `code`.
pub fn uac_request_after(
    name: &str,
    request_line: &str,
    headers: &[String],
    provisional: &[u16],
    code: u16,
    checks: &[Check<'_>],
) -> String {
    let mut h = String::new();
    for line in headers {
        h.push_str("      ");
        h.push_str(line);
        h.push('\n');
    }
    let (recv, vars) = if checks.is_empty() {
        (format!("  <recv response=\"{code}\"/>\n"), Vec::new())
    } else {
        recv_checked(&format!("response=\"{code}\""), checks, "r")
    };
    let optional: String = provisional
        .iter()
        .map(|c| format!("  <recv response=\"{c}\" optional=\"true\"/>\n"))
        .collect();
    let body = format!(
        r#"  <send retrans="500">
    <![CDATA[
      {request_line} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      Call-ID: [call_id]
{h}      Content-Length: 0

    ]]>
  </send>
{optional}{recv}"#
    );
    wrap(name, &body, &vars)
}

/// One `<send>` of a request out of dialog: From `from` (tag `[pid]T[call_number]`), To `to`,
/// Contact `contact`; `extra` lines (each ending in a newline) go before Content-Length.
pub fn request(
    method: &str,
    ruri: &str,
    from: &str,
    to: &str,
    cseq: u32,
    contact: &str,
    extra: &str,
) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      {method} {ruri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <{from}>;tag=[pid]T[call_number]
      To: <{to}>
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: {contact}
      Max-Forwards: 70
{extra}      Content-Length: 0

    ]]>
  </send>
"#
    )
}

/// `<recv>` of a response (`auth`: keep the challenge for `[authentication]`), checking the
/// whole message against `regex` into `var` when given.
pub fn expect(code: u16, auth: bool, regex: Option<&str>, var: &str) -> String {
    let auth = if auth { " auth=\"true\"" } else { "" };
    match regex {
        None => format!("  <recv response=\"{code}\"{auth}/>\n"),
        Some(re) => format!(
            "  <recv response=\"{code}\"{auth}>\n    <action>\n      <ereg regexp=\"{re}\" search_in=\"msg\" check_it=\"true\" assign_to=\"{var}\"/>\n    </action>\n  </recv>\n"
        ),
    }
}

/// REGISTER `aor` at `registrar` with `Expires: expires`, expecting `code` (no auth).
pub fn register(registrar: &str, aor: &str, contact: &str, expires: u32, code: u16) -> String {
    let mut s = request(
        "REGISTER",
        registrar,
        aor,
        aor,
        1,
        contact,
        &format!("      Expires: {expires}\n"),
    );
    s.push_str(&expect(code, false, None, ""));
    wrap("register", &s, &[])
}

/// REGISTER challenged with 401, then sent again with sipp's `[authentication]` (`-au`/`-ap`);
/// the second reply must be `final_code`.
pub fn register_with_auth(
    registrar: &str,
    aor: &str,
    contact: &str,
    expires: u32,
    final_code: u16,
) -> String {
    let exp = format!("      Expires: {expires}\n");
    let mut s = request("REGISTER", registrar, aor, aor, 1, contact, &exp);
    s.push_str(&expect(401, true, None, ""));
    s.push_str(&request(
        "REGISTER",
        registrar,
        aor,
        aor,
        2,
        contact,
        &format!("{exp}      [authentication]\n"),
    ));
    s.push_str(&expect(final_code, final_code == 401, None, ""));
    wrap("register with auth", &s, &[])
}

// --- INVITE calls (caller on `[service]@[remote_ip]:[remote_port]`) ---

pub const FROM: &str =
    "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]";
pub const CONTACT: &str = "Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>";
pub const NEW_VIA: &str = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]";
pub const TO_SERVICE: &str = "To: [service] <sip:[service]@[remote_ip]:[remote_port]>";
pub const RURI: &str = "sip:[service]@[remote_ip]:[remote_port]";
/// An audio offer or answer (PCMU on `[media_port]`).
pub const SDP: &str = "v=0\no=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\ns=-\nc=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

/// The `<send>` of an INVITE with an SDP offer (`retrans`: every 500 ms over UDP).
pub fn invite(ruri: &str, to: &str, cseq: u32, retrans: bool) -> String {
    format!(
        r#"<send{retr}><![CDATA[
INVITE {ruri} SIP/2.0
{NEW_VIA}
{FROM}
{to}
Call-ID: [call_id]
CSeq: {cseq} INVITE
{CONTACT}
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{SDP}]]></send>"#,
        retr = if retrans { " retrans=\"500\"" } else { "" }
    )
}

/// The `<send>` of an ACK, BYE... in the dialog (`routes`: with the learnt route set).
pub fn in_dialog(method: &str, cseq: u32, routes: bool) -> String {
    let routes = if routes { "[routes]\n" } else { "" };
    format!(
        r#"<send><![CDATA[
{method} [next_url] SIP/2.0
{NEW_VIA}
{FROM}
[last_To:]
{routes}Call-ID: [call_id]
CSeq: {cseq} {method}
{CONTACT}
Max-Forwards: 70
Content-Length: 0

]]></send>"#
    )
}

/// The hop-by-hop ACK of a non-2xx final reply to the first INVITE.
pub fn ack_final() -> String {
    format!(
        r#"<send><![CDATA[
ACK {RURI} SIP/2.0
[last_Via:]
{FROM}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>"#
    )
}

/// The `<send>` of a CANCEL of the INVITE sent by `invite(RURI, TO_SERVICE, 1, ..)`, with
/// `extra` header lines (each ending in a newline).
pub fn cancel(extra: &str) -> String {
    format!(
        r#"<send><![CDATA[
CANCEL {RURI} SIP/2.0
[last_Via:]
{FROM}
{TO_SERVICE}
Call-ID: [call_id]
CSeq: 1 CANCEL
{extra}Max-Forwards: 70
Content-Length: 0

]]></send>
"#
    )
}

/// The `<send>` of a reply to the last request (`with_tag`: a To tag; `sdp`: an answer;
/// `cseq`: another CSeq than the request's; `record_route`: the request's Record-Route back).
pub fn reply(
    code: &str,
    with_tag: bool,
    sdp: bool,
    cseq: Option<&str>,
    record_route: bool,
) -> String {
    let to = if with_tag {
        "[last_To:];tag=[pid]SIPpTag01[call_number]"
    } else {
        "[last_To:]"
    };
    let cseq = cseq.map_or("[last_CSeq:]".to_string(), |c| format!("CSeq: {c}"));
    let rr = if record_route {
        "[last_Record-Route:]\n"
    } else {
        ""
    };
    let (ct, body) = if sdp {
        (
            "Content-Type: application/sdp\nContent-Length: [len]",
            format!("\n{SDP}"),
        )
    } else {
        ("Content-Length: 0", "\n".to_string())
    };
    format!(
        r#"<send><![CDATA[
SIP/2.0 {code}
[last_Via:]
{rr}[last_From:]
{to}
[last_Call-ID:]
{cseq}
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{ct}
{body}]]></send>"#
    )
}

/// Caller: INVITE answered with `code` after optional 100 and 180, ACKed hop by hop.
pub fn uac_expect(name: &str, code: u16) -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += &format!(
        r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="{code}"/>
"#
    );
    s += &ack_final();
    wrap(name, &s, &[])
}

/// Callee: 180, `ring_ms` later 200 with SDP, the ACK, then 200 for the BYE.
pub fn uas_answer(name: &str, ring_ms: u32, record_route: bool) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false, None, record_route);
    s += &format!("<pause milliseconds=\"{ring_ms}\"/>");
    s += &reply("200 OK", true, true, None, record_route);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += r#"<recv request="BYE"/>"#;
    s += &reply("200 OK", false, false, None, record_route);
    s += "<pause milliseconds=\"500\"/>";
    wrap(name, &s, &[])
}

/// Callee: rings (180) until cancelled, answers the CANCEL 200 and ends the INVITE with 487,
/// then takes the ACK. With `cancel_within_ms` sipp fails when the CANCEL comes later.
pub fn uas_ring_until_cancel(name: &str, cancel_within_ms: Option<u32>) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("180 Ringing", true, false, None, false);
    s += &match cancel_within_ms {
        Some(ms) => format!(r#"<recv request="CANCEL" timeout="{ms}"/>"#),
        None => r#"<recv request="CANCEL"/>"#.to_string(),
    };
    s += &reply("200 OK", true, false, None, false);
    s += &reply(
        "487 Request Terminated",
        true,
        false,
        Some("1 INVITE"),
        false,
    );
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += "<pause milliseconds=\"300\"/>";
    wrap(name, &s, &[])
}

/// Callee: 486 Busy Here, then the ACK.
pub fn uas_busy(name: &str, record_route: bool) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply("486 Busy Here", true, false, None, record_route);
    s += r#"<recv request="ACK" crlf="true"/>"#;
    s += "<pause milliseconds=\"300\"/>";
    wrap(name, &s, &[])
}

// --- Calls between two sipp phones with fixed tags (caller1 / callee1) ---

/// An audio SDP from `user` at `ip:port` (PCMU); `extra` lines (each ending in a newline) follow.
pub fn sdp(user: &str, ip: &str, port: u16, extra: &str) -> String {
    format!(
        "v=0\no={user} 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n{extra}"
    )
}

/// `Content-Type` / `Content-Length` lines and the body of `sdp` (or none).
fn body_lines(sdp: Option<&str>) -> String {
    match sdp {
        Some(b) => format!("Content-Type: application/sdp\nContent-Length: [len]\n\n{b}\n"),
        None => "Content-Length: 0\n\n".to_string(),
    }
}

/// `<send>` of a first INVITE to `ruri` (From, To, Contact: whole header values) with `sdp`.
pub fn invite_to(ruri: &str, from: &str, to: &str, contact: &str, sdp: Option<&str>) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[
INVITE {ruri} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: {from}
To: {to}
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: {contact}
Max-Forwards: 70
{body}    ]]>
  </send>
"#,
        body = body_lines(sdp)
    )
}

/// `<recv {what}>` running `actions` (`<ereg>`, `<exec>` lines).
pub fn recv_with(what: &str, actions: &str) -> String {
    format!("  <recv {what}>\n    <action>\n{actions}    </action>\n  </recv>\n")
}

/// `<send>` of an in-dialog request along the learnt route set (`from`, `to`: whole header
/// lines, such as `[last_To:]`).
pub fn routed(method: &str, from: &str, to: &str, cseq: u32, retrans: bool) -> String {
    let retr = if retrans { " retrans=\"500\"" } else { "" };
    format!(
        r#"  <send{retr}>
    <![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
{from}
{to}
[routes]
Call-ID: [call_id]
CSeq: {cseq} {method}
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"#
    )
}

/// `<send>` of a 200 to the last request, echoing its Record-Route, with To tag `to_tag`,
/// Contact `contact` and `sdp` (or no body).
pub fn answer(to_tag: &str, contact: &str, sdp: Option<&str>) -> String {
    format!(
        r#"  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag={to_tag}
[last_Call-ID:]
[last_CSeq:]
Contact: {contact}
{body}    ]]>
  </send>
"#,
        body = body_lines(sdp)
    )
}

/// `<send>` of a 200 to the last in-dialog request (a BYE), without body.
pub fn ok_to_last() -> String {
    r#"  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
"#
    .to_string()
}

/// UAS refusing one INVITE with `status` (e.g. `503 Service Unavailable`), then taking the ACK.
pub fn uas_refuse_invite(name: &str, status: &str) -> String {
    let mut s = String::from(r#"<recv request="INVITE" crlf="true"/>"#);
    s += &reply(status, true, false, None, false);
    s += r#"<recv request="ACK"/>"#;
    wrap(name, &s, &[])
}

/// An INVITE from caller@example.com to `user@example.com` (100 / 180 optional) that must end
/// with `code`, the reply matching `reply_re`.
pub fn call_expect(user: &str, code: u16, reply_re: &str) -> String {
    let hdrs = vec![
        "From: <sip:caller@example.com>;tag=[pid]SIPpTag00[call_number]".to_string(),
        format!("To: <sip:{user}@example.com>"),
        "CSeq: 1 INVITE".to_string(),
        "Contact: <sip:caller@[local_ip]:[local_port]>".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    uac_request_after(
        "caller",
        &format!("INVITE sip:{user}@example.com"),
        &hdrs,
        &[100, 180],
        code,
        &[Check::msg(reply_re)],
    )
}

/// A MESSAGE to `user`@ the remote (osips) that must get `code`, the reply matching `status`.
pub fn message_expect(name: &str, user: &str, code: u16, status: &str) -> String {
    let headers = vec![
        "From: <sip:caller@127.0.0.1:[local_port]>;tag=[pid]T[call_number]".to_string(),
        format!("To: <sip:{user}@127.0.0.1:[remote_port]>"),
        "CSeq: 1 MESSAGE".to_string(),
        "Max-Forwards: 70".to_string(),
    ];
    uac_request(
        name,
        &format!("MESSAGE sip:{user}@127.0.0.1:[remote_port]"),
        &headers,
        code,
        &[Check::msg(status)],
    )
}

/// Caller: INVITE (100 / 180 optional) answered with 200, ACKed in the dialog, hung up 200 ms
/// later with a BYE that gets 200.
pub fn uac_answered(name: &str) -> String {
    let mut s = invite(RURI, TO_SERVICE, 1, true);
    s += r#"<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="200" rrs="true"/>"#;
    s += &in_dialog("ACK", 1, false);
    s += "<pause milliseconds=\"200\"/>";
    s += &in_dialog("BYE", 2, false);
    s += r#"<recv response="200"/>"#;
    wrap(name, &s, &[])
}

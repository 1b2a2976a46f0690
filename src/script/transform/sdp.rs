//! `{sdp.*}`: the value is an SDP body (OpenSIPS `tr_eval_sdp`).
//!
//! - `{sdp.line,t[,n]}`: the n-th (0-based) line of type `t`, whole (`m=audio ...`), without its line end.
//! - `{sdp.stream,idx|media}`: one media section (from its `m=` line to the next), by index
//!   (negative counts from the end) or the first of a media type (case-insensitive).
//! - `{sdp.stream-delete,idx|media}`: the body without that section (by index) or without every
//!   section of that media type.
//!
//! Anything not found, or a body that does not parse, gives NULL.

use super::{TrEnv, Transform, bytes_to_value, value_bytes};
use crate::script::value::Value;
use crate::sip::sdp::Sdp;

/// Which media sections a `stream` / `stream-delete` parameter names.
enum Which {
    Index(i32),
    Media(String),
}

fn which(t: &Transform, env: &mut dyn TrEnv) -> Option<Which> {
    match t.param(0, env) {
        Value::Null => None,
        v => match v.as_int() {
            Some(i) if !matches!(v, Value::Str(_)) => Some(Which::Index(i)),
            _ => {
                let s = v.as_str()?.into_owned();
                match Value::parse_int(&s) {
                    Some(i) => Some(Which::Index(i)),
                    None => Some(Which::Media(s)),
                }
            }
        },
    }
}

/// Byte range of media section `i` in the body.
fn section_range(sdp: &Sdp<'_>, i: usize) -> Option<(usize, usize)> {
    let sec = sdp.media(i)?;
    let lines = sec.lines();
    Some((lines.first()?.start, lines.last()?.end))
}

/// Indexes of the media sections `w` selects.
fn selected(sdp: &Sdp<'_>, w: &Which, first_only: bool) -> Vec<usize> {
    let n = sdp.media_count();
    match w {
        Which::Index(i) => {
            let i = if *i < 0 {
                n as i64 + *i as i64
            } else {
                *i as i64
            };
            if (0..n as i64).contains(&i) {
                vec![i as usize]
            } else {
                Vec::new()
            }
        }
        Which::Media(m) => {
            let mut v: Vec<usize> = sdp
                .media_sections()
                .filter(|s| {
                    s.media()
                        .is_some_and(|md| md.media.eq_ignore_ascii_case(m.as_bytes()))
                })
                .filter_map(|s| s.index)
                .collect();
            if first_only {
                v.truncate(1);
            }
            v
        }
    }
}

pub(super) fn eval(t: &Transform, input: Value, env: &mut dyn TrEnv) -> Value {
    let Some(text) = input.as_str() else {
        return Value::Null;
    };
    let body = value_bytes(&text);
    let Ok(sdp) = Sdp::parse(&body) else {
        return Value::Null;
    };
    match t.method.as_str() {
        "line" => {
            let Some(kind) = t.param_str(0, env).and_then(|k| k.bytes().next()) else {
                return Value::Null;
            };
            let n = if t.params.len() > 1 {
                match t.param_int(1, env) {
                    Some(n) if n >= 0 => n as usize,
                    _ => return Value::Null,
                }
            } else {
                0
            };
            match sdp.lines.iter().filter(|l| l.kind == kind).nth(n) {
                Some(l) => bytes_to_value(body[l.start..l.end - l.eol as usize].to_vec()),
                None => Value::Null,
            }
        }
        "stream" => {
            let Some(w) = which(t, env) else {
                return Value::Null;
            };
            match selected(&sdp, &w, true)
                .first()
                .and_then(|&i| section_range(&sdp, i))
            {
                Some((a, b)) => bytes_to_value(body[a..b].to_vec()),
                None => Value::Null,
            }
        }
        "stream-delete" => {
            let Some(w) = which(t, env) else {
                return Value::Null;
            };
            let cut: Vec<(usize, usize)> = selected(&sdp, &w, false)
                .into_iter()
                .filter_map(|i| section_range(&sdp, i))
                .collect();
            if cut.is_empty() {
                return Value::Null;
            }
            let mut out = Vec::with_capacity(body.len());
            let mut at = 0;
            for (a, b) in cut {
                out.extend_from_slice(&body[at..a]);
                at = b;
            }
            out.extend_from_slice(&body[at..]);
            bytes_to_value(out)
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use crate::script::transform::test_env::run;
    use crate::script::value::Value;

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 6000 RTP/AVP 8\r\n";

    fn s(v: Value) -> String {
        v.as_str()
            .map(|s| s.into_owned())
            .unwrap_or("<null>".into())
    }

    #[test]
    fn line_by_type_and_index() {
        assert_eq!(
            s(run("{sdp.line,m}", Value::str(SDP))),
            "m=audio 4000 RTP/AVP 0"
        );
        assert_eq!(
            s(run("{sdp.line,m,1}", Value::str(SDP))),
            "m=video 5000 RTP/AVP 96"
        );
        assert_eq!(
            s(run("{sdp.line,a,1}", Value::str(SDP))),
            "a=rtpmap:96 H264/90000"
        );
        assert_eq!(s(run("{sdp.line,m,3}", Value::str(SDP))), "<null>");
        assert_eq!(s(run("{sdp.line,z}", Value::str(SDP))), "<null>");
    }

    #[test]
    fn stream_by_index_and_media() {
        assert_eq!(
            s(run("{sdp.stream,1}", Value::str(SDP))),
            "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        );
        assert_eq!(
            s(run("{sdp.stream,-1}", Value::str(SDP))),
            "m=audio 6000 RTP/AVP 8\r\n"
        );
        assert_eq!(
            s(run("{sdp.stream,AUDIO}", Value::str(SDP))),
            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        assert_eq!(s(run("{sdp.stream,3}", Value::str(SDP))), "<null>");
        assert_eq!(s(run("{sdp.stream,image}", Value::str(SDP))), "<null>");
    }

    #[test]
    fn stream_delete() {
        let no_audio = s(run("{sdp.stream-delete,audio}", Value::str(SDP)));
        assert!(!no_audio.contains("m=audio"), "{no_audio}");
        assert!(no_audio.contains("m=video 5000"));
        assert!(no_audio.starts_with("v=0\r\n"));
        let no_first = s(run("{sdp.stream-delete,0}", Value::str(SDP)));
        assert!(!no_first.contains("4000") && no_first.contains("6000"));
        assert_eq!(
            s(run("{sdp.stream-delete,text}", Value::str(SDP))),
            "<null>"
        );
    }

    #[test]
    fn not_sdp_is_null() {
        assert_eq!(s(run("{sdp.line,m}", Value::Null)), "<null>");
        assert_eq!(s(run("{sdp.line,m}", Value::str("garbage"))), "<null>");
    }
}

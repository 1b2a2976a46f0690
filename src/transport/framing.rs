//! SIP message framing on stream transports (RFC 3261 §18.3): a message ends `Content-Length` bytes
//! after the blank line; CRLF keep-alives (RFC 5626 §3.5.1) come between messages.

use memchr::memmem;

/// What the front of a stream buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// A keep-alive ping (`CRLFCRLF`) of this many bytes: answer with a pong (`CRLF`).
    Ping(usize),
    /// Bytes to drop without answer: a pong, or stray CRLF before a message.
    Skip(usize),
    /// A whole SIP message of this many bytes.
    Message(usize),
}

/// The stream cannot be framed: the connection should be closed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message headers longer than {0} bytes")]
    HeadersTooLong(usize),
    #[error("message of {0} bytes exceeds the limit of {1}")]
    TooLarge(usize, usize),
    #[error("invalid Content-Length")]
    BadContentLength,
}

/// Finds the first frame at the front of `buf`; `max` bounds a message's total size.
pub fn next_frame(buf: &[u8], max: usize) -> Result<Frame, FrameError> {
    let crlfs = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if crlfs > 0 {
        if buf[..crlfs].starts_with(b"\r\n\r\n") {
            return Ok(Frame::Ping(4));
        }
        if crlfs == buf.len() && buf.len() < 4 && b"\r\n\r\n".starts_with(buf) {
            // Could be a ping split across reads; a lone pong waits harmlessly for the next bytes.
            return Ok(Frame::Incomplete);
        }
        return Ok(Frame::Skip(crlfs));
    }
    let Some(head_end) = memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > max {
            return Err(FrameError::HeadersTooLong(max));
        }
        return Ok(Frame::Incomplete);
    };
    let body_start = head_end + 4;
    let body_len = content_length(&buf[..head_end + 2])?.unwrap_or(0);
    let total = body_start
        .checked_add(body_len)
        .ok_or(FrameError::BadContentLength)?;
    if total > max {
        return Err(FrameError::TooLarge(total, max));
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message(total))
}

/// The value of the first `Content-Length` (or compact `l`) header in a header block.
fn content_length(head: &[u8]) -> Result<Option<usize>, FrameError> {
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line[colon + 1..].trim_ascii();
            if value.is_empty() || value.len() > 9 || !value.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadContentLength);
            }
            let n = value
                .iter()
                .fold(0usize, |n, d| n * 10 + (d - b'0') as usize);
            return Ok(Some(n));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn whole_message() {
        assert_eq!(next_frame(MSG, 65535), Ok(Frame::Message(MSG.len())));
    }

    #[test]
    fn partial_reads_wait() {
        for cut in 1..MSG.len() {
            assert_eq!(
                next_frame(&MSG[..cut], 65535),
                Ok(Frame::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn pipelined_messages() {
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(next_frame(&two, 65535), Ok(Frame::Message(MSG.len())));
        assert_eq!(
            next_frame(&two[MSG.len()..], 65535),
            Ok(Frame::Message(MSG.len()))
        );
    }

    #[test]
    fn compact_and_missing_content_length() {
        let m = b"SIP/2.0 200 OK\r\nl: 2\r\n\r\nabX";
        assert_eq!(next_frame(m, 100), Ok(Frame::Message(m.len() - 1)));
        let m = b"SIP/2.0 200 OK\r\nVia: x\r\n\r\nNEXT";
        assert_eq!(next_frame(m, 100), Ok(Frame::Message(m.len() - 4)));
        let m = b"SIP/2.0 200 OK\r\nContent-Length:  x1\r\n\r\n";
        assert_eq!(next_frame(m, 100), Err(FrameError::BadContentLength));
    }

    #[test]
    fn keepalives() {
        assert_eq!(next_frame(b"\r\n\r\n", 100), Ok(Frame::Ping(4)));
        assert_eq!(next_frame(b"\r\n\r\nINVITE", 100), Ok(Frame::Ping(4)));
        assert_eq!(next_frame(b"\r\n", 100), Ok(Frame::Incomplete));
        assert_eq!(next_frame(b"\r\n\r", 100), Ok(Frame::Incomplete));
        assert_eq!(next_frame(b"\r\nINVITE", 100), Ok(Frame::Skip(2)));
    }

    #[test]
    fn limits() {
        assert_eq!(
            next_frame(&[b'a'; 200], 100),
            Err(FrameError::HeadersTooLong(100))
        );
        assert_eq!(
            next_frame(MSG, 50),
            Err(FrameError::TooLarge(MSG.len(), 50))
        );
        let huge = b"X sip:a SIP/2.0\r\nContent-Length: 999999999\r\n\r\n";
        assert!(matches!(
            next_frame(huge, 65535),
            Err(FrameError::TooLarge(..))
        ));
    }
}

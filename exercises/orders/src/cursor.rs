//! The order history's pagination cursor.
//!
//! A cursor names the last order of the previous page by its position in the history
//! (`placed_at`, then `id`), so the next page starts right after it even when newer
//! orders arrive in between. Clients treat it as opaque: it is the URL-safe base64 (no
//! padding) of `placed_at|id`.

use crate::error::AppError;
use crate::model::OrderRow;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The position of an order in a customer's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub placed_at: String,
    pub id: i64,
}

impl Cursor {
    /// The cursor that continues after `order`.
    pub fn after(order: &OrderRow) -> Self {
        Cursor {
            placed_at: order.placed_at.clone(),
            id: order.id,
        }
    }

    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        encode_base64url(format!("{}|{}", self.placed_at, self.id).as_bytes())
    }

    /// Parses a cursor a client sent back; anything we did not issue is rejected.
    pub fn decode(raw: &str) -> Result<Self, AppError> {
        let invalid = || AppError::BadRequest("cursor is not valid".into());
        let bytes = decode_base64url(raw).ok_or_else(invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (placed_at, id) = text.rsplit_once('|').ok_or_else(invalid)?;
        let id = id.parse::<i64>().map_err(|_| invalid())?;
        if !is_timestamp(placed_at) {
            return Err(invalid());
        }
        Ok(Cursor {
            placed_at: placed_at.to_owned(),
            id,
        })
    }
}

/// Whether `s` has the shape of our timestamps, e.g. `2026-11-29T10:00:00.000Z`.
fn is_timestamp(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE).all(|(c, &want)| match want {
            b'd' => c.is_ascii_digit(),
            _ => c == want,
        })
}

fn encode_base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        // 1, 2 or 3 input bytes become 2, 3 or 4 characters.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.is_empty() || text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let value = ALPHABET.iter().position(|&a| a == c)? as u32;
            n |= value << (18 - 6 * i);
        }
        // 2, 3 or 4 characters carry 1, 2 or 3 bytes.
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for id in [1, 42, 999, 1_000_000, i64::MAX] {
            let cursor = Cursor {
                placed_at: "2026-11-29T10:00:00.000Z".into(),
                id,
            };
            let raw = cursor.encode();
            assert!(raw.bytes().all(|c| ALPHABET.contains(&c)), "{raw}");
            assert_eq!(Cursor::decode(&raw).unwrap(), cursor);
        }
    }

    #[test]
    fn base64url_matches_the_standard_alphabet() {
        assert_eq!(encode_base64url(b""), "");
        assert_eq!(encode_base64url(b"f"), "Zg");
        assert_eq!(encode_base64url(b"fo"), "Zm8");
        assert_eq!(encode_base64url(b"foo"), "Zm9v");
        assert_eq!(encode_base64url(b"foob"), "Zm9vYg");
        assert_eq!(encode_base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode_base64url("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_base64url("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        let bad = [
            "",
            "!!!!",
            "Zm9vY",
            "Zm9v",
            &encode_base64url(b"2026-11-29T10:00:00.000Z"),
            &encode_base64url(b"2026-11-29T10:00:00.000Z|x"),
            &encode_base64url(b"yesterday|12"),
            &encode_base64url(&[0xff, 0xfe, b'|', b'1']),
        ];
        for raw in bad {
            assert!(Cursor::decode(raw).is_err(), "{raw:?}");
        }
    }
}

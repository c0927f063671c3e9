//! The reply token: the last token of a message's reply subject, `<inbox>.<token>`, which names
//! the in-flight slot the reply belongs to, so a reply finds its message with no hash map.
//!
//! A slot is reused as soon as its attempt settles, so the token also carries the slot's
//! generation (how many attempts the slot has held): a late reply to an attempt that already
//! timed out names an older generation and is dropped instead of completing the slot's new
//! occupant. The token is the lowercase hex of `generation << 32 | slot`: short (at most 16
//! characters), a valid subject token, and read back without allocating.

use std::fmt::Write as _;

/// One in-flight slot and the generation that identifies its current attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub slot: u32,
    pub generation: u32,
}

impl Token {
    /// The token as a subject token.
    #[inline]
    fn bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    /// `<prefix>.<token>`: the reply subject of the attempt this token names.
    #[inline]
    pub(crate) fn reply_subject(self, prefix: &str) -> String {
        let mut s = String::with_capacity(prefix.len() + 17);
        s.push_str(prefix);
        s.push('.');
        let _ = write!(s, "{:x}", self.bits());
        s
    }

    /// The token at the end of a reply subject; `None` when its last token is not one (a
    /// message on the inbox that no publish of ours asked for).
    #[inline]
    pub(crate) fn parse(subject: &str) -> Option<Token> {
        let last = subject.rsplit('.').next()?;
        if last.is_empty() || last.len() > 16 {
            return None;
        }
        let bits = u64::from_str_radix(last, 16).ok()?;
        Some(Token {
            slot: bits as u32,
            generation: (bits >> 32) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_survives_its_reply_subject() {
        for (slot, generation) in [(0, 0), (1, 0), (0, 1), (9_999, 7), (u32::MAX, u32::MAX)] {
            let t = Token { slot, generation };
            let subject = t.reply_subject("_INBOX.abc");
            assert!(subject.starts_with("_INBOX.abc."), "{subject}");
            assert_eq!(subject.matches('.').count(), 2, "one token: {subject}");
            assert_eq!(Token::parse(&subject), Some(t), "{subject}");
        }
        assert_eq!(
            Token {
                slot: 10,
                generation: 1
            }
            .reply_subject("p"),
            "p.10000000a"
        );
    }

    #[test]
    fn generations_tell_a_slots_attempts_apart() {
        let old = Token {
            slot: 3,
            generation: 1,
        };
        let new = Token {
            slot: 3,
            generation: 2,
        };
        assert_ne!(old.reply_subject("i"), new.reply_subject("i"));
        assert_ne!(Token::parse(&old.reply_subject("i")), Some(new));
    }

    #[test]
    fn what_is_not_a_token_is_refused() {
        for bad in [
            "",
            "_INBOX.x.",
            "_INBOX.x.zz",
            "_INBOX.x.11112222333344445",
            "x.-1",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad:?}");
        }
    }
}

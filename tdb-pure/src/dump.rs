//! `tdbdump`'s output format: per record `{`, `key(N) = "..."`, `data(N) = "..."`, `}`.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use crate::error::Result;
use crate::Tdb;

/// Escape bytes as tdbdump does: printable ASCII except `"` and `\` as is, others `\XX`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:02X}");
        }
    }
    s
}

/// Hex form (`tdbdump -x`): every byte as two uppercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

impl Tdb {
    /// The text `tdbdump` prints for this database (`hex_form` = `tdbdump -x`).
    pub fn dump(&mut self, hex_form: bool) -> Result<String> {
        let mut out = String::new();
        let enc = if hex_form { hex } else { escape };
        self.traverse_read(|_, k, d| {
            let _ = write!(
                out,
                "{{\nkey({}) = \"{}\"\ndata({}) = \"{}\"\n}}\n",
                k.len(),
                enc(k),
                d.len(),
                enc(d)
            );
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape(b"a\"b\\c\0\x7f~ "), "a\\22b\\5Cc\\00\\7F~ ");
        assert_eq!(hex(b"\x00\xab"), "00AB");
    }
}

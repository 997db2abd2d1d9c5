//! Hex decoding of trace records, the parser's hot loop: a 646 MB trace is mostly hex.
//!
//! The bulk is decoded 32 digits at a time with branch-free byte arithmetic that the
//! compiler turns into SIMD code (safe Rust, no intrinsics); only one accumulated "something
//! was bad" byte is carried, and the rare invalid input is located afterwards by a scalar
//! scan.

/// The value of one hex digit (either case), or `None`.
#[inline]
pub(crate) fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The value of a hex digit (garbage if it is not one) and 1 if it is not one, else 0;
/// written without branches so that loops over it vectorise.
#[inline(always)]
fn nibble(c: u8) -> (u8, u8) {
    let digit = c.wrapping_sub(b'0');
    // Setting bit 5 folds 'A'..='F' onto 'a'..='f'.
    let letter = (c | 0x20).wrapping_sub(b'a');
    let is_digit = digit < 10;
    let is_letter = letter < 6;
    let value = if is_digit {
        digit
    } else {
        letter.wrapping_add(10)
    };
    (value, u8::from(!(is_digit | is_letter)))
}

/// Hex digits decoded per round of the vectorised loop.
const BLOCK: usize = 32;

/// Where and why hex text failed to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadDigit {
    /// Index of the offending character in the hex text.
    pub index: usize,
    /// The character.
    pub byte: u8,
}

/// Decodes `hex` (two digits per byte, either case) into `out`, which must be exactly
/// half as long. On failure `out` holds garbage and the first bad character is reported.
pub(crate) fn decode(hex: &[u8], out: &mut [u8]) -> Result<(), BadDigit> {
    debug_assert_eq!(hex.len(), out.len() * 2);
    let mut bad = 0u8;
    let mut hex_blocks = hex.chunks_exact(BLOCK);
    let mut out_blocks = out.chunks_exact_mut(BLOCK / 2);
    for (h, o) in (&mut hex_blocks).zip(&mut out_blocks) {
        let h: &[u8; BLOCK] = h.try_into().expect("a whole block");
        let o: &mut [u8; BLOCK / 2] = o.try_into().expect("a whole block");
        let mut values = [0u8; BLOCK];
        for (v, &c) in values.iter_mut().zip(h) {
            let (value, b) = nibble(c);
            *v = value;
            bad |= b;
        }
        for (o, pair) in o.iter_mut().zip(values.chunks_exact(2)) {
            *o = (pair[0] << 4) | pair[1];
        }
    }
    let rest_hex = hex_blocks.remainder();
    let rest_out = out_blocks.into_remainder();
    for (o, pair) in rest_out.iter_mut().zip(rest_hex.chunks_exact(2)) {
        let (high, b1) = nibble(pair[0]);
        let (low, b2) = nibble(pair[1]);
        bad |= b1 | b2;
        *o = (high << 4) | (low & 0x0f);
    }
    if bad == 0 {
        return Ok(());
    }
    let index = hex
        .iter()
        .position(|&c| digit_value(c).is_none())
        .expect("a bad digit was seen");
    Err(BadDigit {
        index,
        byte: hex[index],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(hex: &[u8]) -> Result<Vec<u8>, BadDigit> {
        let mut out = vec![0u8; hex.len() / 2];
        decode(hex, &mut out).map(|()| out)
    }

    #[test]
    fn every_byte_value_round_trips_in_both_cases() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let lower: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let upper = lower.to_uppercase();
        assert_eq!(dec(lower.as_bytes()).unwrap(), bytes);
        assert_eq!(dec(upper.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn all_lengths_and_alignments_decode() {
        for n in 0..40usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(dec(hex.as_bytes()).unwrap(), bytes, "length {n}");
        }
    }

    #[test]
    fn every_non_hex_byte_is_rejected_at_every_position() {
        for bad in (0..=255u8).filter(|&c| digit_value(c).is_none()) {
            for pos in [0usize, 1, 7, 8, 15, 16, 17, 33] {
                let mut hex = vec![b'a'; 34];
                hex[pos] = bad;
                assert_eq!(
                    dec(&hex),
                    Err(BadDigit {
                        index: pos,
                        byte: bad
                    }),
                    "byte {bad:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn first_bad_digit_is_reported() {
        let hex = b"00112233445566778899aabbccddeeffXX11g2";
        assert_eq!(
            dec(hex),
            Err(BadDigit {
                index: 32,
                byte: b'X'
            })
        );
    }
}

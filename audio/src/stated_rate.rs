//! The sample rate a WAVE (RIFF, RF64) or AIFF header states, read from the file's first bytes
//! before symphonia parses it: symphonia panics on a rate of 0 Hz ("TimeBase cannot have 0
//! numerator"), and a rate no audio has must be refused before anything is sized by it.

/// The rate in the header's format chunk, when `head` starts a WAVE or AIFF file whose format
/// chunk lies within it; `None` for other formats (their decoders check their own rate).
pub fn stated_rate(head: &[u8]) -> Option<u32> {
    let kind = head.get(0..4)?;
    let form = head.get(8..12)?;
    match (kind, form) {
        (b"RIFF" | b"RF64" | b"BW64", b"WAVE") => {
            let fmt = chunk(head, b"fmt ", u32::from_le_bytes)?;
            Some(u32::from_le_bytes(fmt.get(4..8)?.try_into().ok()?))
        }
        (b"FORM", b"AIFF" | b"AIFC") => {
            let comm = chunk(head, b"COMM", u32::from_be_bytes)?;
            extended_to_u32(comm.get(8..18)?)
        }
        _ => None,
    }
}

/// The data of the first chunk named `id` after the 12-byte file header, if it lies in `head`.
fn chunk<'a>(head: &'a [u8], id: &[u8; 4], size: fn([u8; 4]) -> u32) -> Option<&'a [u8]> {
    let at = chunk_at(head, id, size)?;
    let len = size(head[at + 4..at + 8].try_into().ok()?) as usize;
    head.get(at + 8..(at + 8).saturating_add(len).min(head.len()))
}

/// Where the header of the first chunk named `id` after the 12-byte file header starts, if
/// that header lies in `head` (RIFF and RF64 sizes are little-endian, AIFF's big-endian).
pub(crate) fn chunk_at(head: &[u8], id: &[u8; 4], size: fn([u8; 4]) -> u32) -> Option<usize> {
    let mut at = 12usize;
    while let Some(header) = head.get(at..at + 8) {
        if &header[0..4] == id {
            return Some(at);
        }
        let len = size(header[4..8].try_into().ok()?) as usize;
        // Chunks are padded to an even length.
        at = (at + 8).checked_add(len)?.checked_add(len & 1)?;
    }
    None
}

/// An 80-bit IEEE extended float (AIFF's rate) as whole hertz, as symphonia reads it:
/// rates below 1 Hz are 0, rates beyond `u32::MAX` saturate.
fn extended_to_u32(bytes: &[u8]) -> Option<u32> {
    let exponent = u16::from_be_bytes(bytes.get(0..2)?.try_into().ok()?) & 0x7fff;
    let mantissa = u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?);
    // value = mantissa · 2^(exponent − 16383 − 63)
    let shift = 16383 + 63 - exponent as i32;
    Some(if mantissa == 0 || shift >= 64 {
        0
    } else if shift <= 32 {
        u32::MAX
    } else {
        (mantissa >> shift).min(u32::MAX as u64) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(magic: &[u8; 4], rate: u32, junk: usize) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(magic);
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(b"WAVE");
        if junk > 0 {
            h.extend_from_slice(b"JUNK");
            h.extend_from_slice(&(junk as u32).to_le_bytes());
            h.resize(h.len() + junk + (junk & 1), 0);
        }
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate.wrapping_mul(2)).to_le_bytes());
        h.extend_from_slice(&[2, 0, 16, 0]);
        h
    }

    #[test]
    fn reads_the_rate_of_wave_files_after_other_chunks() {
        assert_eq!(stated_rate(&wav(b"RIFF", 44_100, 0)), Some(44_100));
        assert_eq!(stated_rate(&wav(b"RF64", 0, 28)), Some(0));
        assert_eq!(stated_rate(&wav(b"RIFF", u32::MAX, 5)), Some(u32::MAX));
        // A format chunk beyond the bytes read, or another format: nothing said.
        assert_eq!(stated_rate(&wav(b"RIFF", 8000, 0)[..26]), None);
        assert_eq!(stated_rate(b"OggS\0\0\0\0\0\0\0\0OpusHead"), None);
        // A chunk size that points past the end of memory is not followed.
        let mut huge = wav(b"RIFF", 8000, 0);
        huge.splice(12..12, *b"JUNK\xff\xff\xff\xff");
        assert_eq!(stated_rate(&huge), None);
    }

    #[test]
    fn reads_aiff_rates_as_whole_hertz() {
        // 44 100 Hz: exponent 16383 + 15, mantissa 44100 << 48.
        let mut h = b"FORM\0\0\0\0AIFFCOMM\0\0\0\x12".to_vec();
        h.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 16]);
        h.extend_from_slice(&(16383u16 + 15).to_be_bytes());
        h.extend_from_slice(&(44_100u64 << 48).to_be_bytes());
        assert_eq!(stated_rate(&h), Some(44_100));
        let zero = h.len() - 10;
        h[zero..].fill(0);
        assert_eq!(stated_rate(&h), Some(0));
    }
}

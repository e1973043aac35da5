//! RF64 and BW64 (WAVE past 4 GiB, what `ffmpeg -rf64 always` and broadcast tools write): a
//! RIFF file whose 32-bit sizes are all ones and whose real sizes sit in a `ds64` chunk.
//! symphonia 0.5 reads RIFF only, so the header is rewritten as RIFF with the real sizes
//! (clamped to 32 bits: audio past 4 GiB of data is not read) before symphonia sees it.

use crate::stated_rate::chunk_at;

/// `head` (a file's first bytes) as a RIFF header when it starts an RF64 or BW64 file whose
/// `data` chunk header lies within it; `None` for any other file.
pub fn as_riff(head: &[u8]) -> Option<Vec<u8>> {
    if !matches!(head.get(0..4)?, b"RF64" | b"BW64") || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let u64_at = |at: usize| Some(u64::from_le_bytes(head.get(at..at + 8)?.try_into().ok()?));
    // The ds64 chunk comes first: riff size, data size, sample count (and a table).
    if head.get(12..16)? != b"ds64" {
        return None;
    }
    let (riff_size, data_size) = (u64_at(20)?, u64_at(28)?);
    let clamp = |size: u64| size.min(u32::MAX as u64) as u32;
    let mut riff = head.to_vec();
    riff[0..4].copy_from_slice(b"RIFF");
    riff[4..8].copy_from_slice(&clamp(riff_size).to_le_bytes());
    let data = chunk_at(head, b"data", u32::from_le_bytes)?;
    if riff[data + 4..data + 8] == u32::MAX.to_le_bytes() {
        riff[data + 4..data + 8].copy_from_slice(&clamp(data_size).to_le_bytes());
    }
    Some(riff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RF64 header as ffmpeg writes it: ds64, fmt, then data with its size all ones.
    fn rf64(data_size: u64) -> Vec<u8> {
        let mut h = b"RF64".to_vec();
        h.extend(u32::MAX.to_le_bytes());
        h.extend(b"WAVEds64");
        h.extend(28u32.to_le_bytes());
        h.extend((data_size + 72).to_le_bytes());
        h.extend(data_size.to_le_bytes());
        h.extend((data_size / 2).to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(b"fmt ");
        h.extend(16u32.to_le_bytes());
        h.extend([1, 0, 1, 0]);
        h.extend(16_000u32.to_le_bytes());
        h.extend(32_000u32.to_le_bytes());
        h.extend([2, 0, 16, 0]);
        h.extend(b"data");
        h.extend(u32::MAX.to_le_bytes());
        h
    }

    #[test]
    fn rf64_becomes_riff_with_the_real_sizes() {
        let riff = as_riff(&rf64(8_000)).unwrap();
        assert_eq!(&riff[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(riff[4..8].try_into().unwrap()), 8_072);
        let data = riff.len() - 4;
        assert_eq!(u32::from_le_bytes(riff[data..].try_into().unwrap()), 8_000);
        // Past 4 GiB the sizes are clamped.
        let riff = as_riff(&rf64(6 << 30)).unwrap();
        assert_eq!(&riff[riff.len() - 4..], &u32::MAX.to_le_bytes());
    }

    #[test]
    fn other_files_and_cut_headers_are_left_alone() {
        let mut wav = rf64(100);
        wav[0..4].copy_from_slice(b"RIFF");
        assert_eq!(as_riff(&wav), None);
        let whole = rf64(100);
        assert_eq!(as_riff(&whole[..whole.len() - 6]), None, "data header cut");
        let mut odd = rf64(100);
        odd[12..16].copy_from_slice(b"JUNK");
        assert_eq!(as_riff(&odd), None, "no ds64 first");
    }
}

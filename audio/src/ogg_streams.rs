//! Ogg files that multiplex several logical streams (two Opus streams, Opus beside a video
//! stream): the Opus decoder reads one stream, so the pages of the first Opus stream are passed
//! through and the others' dropped, counted so the caller can say so.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An Ogg page's fixed header: "OggS", version, type, granule (8), serial (4), sequence (4),
/// checksum (4), segment count.
const PAGE_HEADER: usize = 27;
/// The header-type flag of a stream's first page.
const FIRST_PAGE: u8 = 0x02;

/// A reader of the pages of the first Opus stream in an Ogg file, page by page.
pub struct FirstOpusStream<R> {
    inner: R,
    /// The chosen stream's serial number, once its first page was seen.
    serial: Option<u32>,
    /// Other streams' serial numbers seen so far, and their count (shared with the caller,
    /// who no longer holds this reader once a decoder took it).
    others: Vec<u32>,
    count: Arc<AtomicUsize>,
    /// The current page's bytes, and how many of them were read out.
    page: Vec<u8>,
    at: usize,
}

impl<R: Read> FirstOpusStream<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            serial: None,
            others: Vec::new(),
            count: Arc::default(),
            page: Vec::new(),
            at: 0,
        }
    }

    /// How many other logical streams the file held (so far), readable after the reader
    /// was handed on.
    pub fn other_streams(&self) -> Arc<AtomicUsize> {
        self.count.clone()
    }

    /// The next page, whole; `false` at the end of the input.
    fn next_page(&mut self) -> io::Result<bool> {
        let mut header = [0u8; PAGE_HEADER];
        match read_full(&mut self.inner, &mut header)? {
            0 => return Ok(false),
            PAGE_HEADER => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a cut Ogg page",
                ));
            }
        }
        if &header[0..4] != b"OggS" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an Ogg page",
            ));
        }
        let mut table = vec![0u8; header[26] as usize];
        self.inner.read_exact(&mut table)?;
        let body_len: usize = table.iter().map(|&n| n as usize).sum();
        self.page.clear();
        self.page.extend_from_slice(&header);
        self.page.extend_from_slice(&table);
        let body = self.page.len();
        self.page.resize(body + body_len, 0);
        self.inner.read_exact(&mut self.page[body..])?;
        self.at = 0;
        Ok(true)
    }

    /// Whether the page just read belongs to the chosen stream (choosing it at its first page).
    fn wanted(&mut self) -> bool {
        let serial = u32::from_le_bytes(self.page[14..18].try_into().expect("4 bytes"));
        if self.serial == Some(serial) {
            return true;
        }
        let body = PAGE_HEADER + self.page[26] as usize;
        let first = self.page[5] & FIRST_PAGE != 0;
        if self.serial.is_none() && first && self.page[body..].starts_with(b"OpusHead") {
            self.serial = Some(serial);
            return true;
        }
        if first && !self.others.contains(&serial) {
            self.others.push(serial);
            self.count.store(self.others.len(), Ordering::Relaxed);
        }
        false
    }
}

impl<R: Read> Read for FirstOpusStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.page.len() {
            if !self.next_page()? {
                return Ok(0);
            }
            if !self.wanted() {
                self.at = self.page.len();
            }
        }
        let n = buf.len().min(self.page.len() - self.at);
        buf[..n].copy_from_slice(&self.page[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Fills `buf` as far as the input goes; the number of bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ogg's page checksum: CRC-32, polynomial 0x04c11db7, not reflected, over the page with
    /// its checksum field zeroed.
    fn checksum(page: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &byte in page {
            crc ^= (byte as u32) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04c1_1db7
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    /// The pages of an Ogg file.
    fn pages(file: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let segments = file[at + 26] as usize;
            let body: usize = file[at + 27..at + 27 + segments]
                .iter()
                .map(|&n| n as usize)
                .sum();
            let end = at + PAGE_HEADER + segments + body;
            out.push(file[at..end].to_vec());
            at = end;
        }
        out
    }

    /// `page` moved to stream `serial`, its checksum made again.
    fn with_serial(page: &[u8], serial: u32) -> Vec<u8> {
        let mut page = page.to_vec();
        page[14..18].copy_from_slice(&serial.to_le_bytes());
        page[22..26].fill(0);
        let crc = checksum(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        page
    }

    /// Two copies of an Ogg Opus file as two logical streams: both first pages, then the
    /// others' pages interleaved, as muxers write them.
    fn two_streams(file: &[u8]) -> Vec<u8> {
        let a = pages(file);
        let b: Vec<Vec<u8>> = a.iter().map(|p| with_serial(p, 0xbeef)).collect();
        let mut out = Vec::new();
        out.extend(&a[0]);
        out.extend(&b[0]);
        for (pa, pb) in a.iter().zip(&b).skip(1) {
            out.extend(pa);
            out.extend(pb);
        }
        out
    }

    #[test]
    fn the_checksum_is_oggs() {
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/fuzz/opus.opus"
        ))
        .unwrap();
        for page in pages(&file) {
            let stored = u32::from_le_bytes(page[22..26].try_into().unwrap());
            let serial = u32::from_le_bytes(page[14..18].try_into().unwrap());
            assert_eq!(with_serial(&page, serial)[22..26], stored.to_le_bytes());
        }
    }

    #[test]
    fn only_the_first_opus_streams_pages_pass() {
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/fuzz/opus.opus"
        ))
        .unwrap();
        let both = two_streams(&file);
        let mut reader = FirstOpusStream::new(&both[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, file, "the first stream, byte for byte");
        assert_eq!(reader.other_streams().load(Ordering::Relaxed), 1);
    }
}

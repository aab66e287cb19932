//! The layout of a stored (uncompressed) zip archive computed up front from
//! each entry's name, size and CRC-32, so the gateway knows the exact
//! Content-Length before sending a byte and can serve any byte range of the
//! archive (a resumed download) by generating only that part.
//!
//! Written here rather than with a zip crate because the crates write
//! sequentially to a `Write` (+ `Seek`) sink: none offers random access into a
//! virtual archive whose CRCs are already known, which is what exact lengths
//! and Range requests need. Local headers are complete (no data
//! descriptors), so every reader opens the archive; Zip64 records appear only
//! where a size, an offset or the entry count needs them.

use std::ops::Range;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// General purpose flag bit 11: names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;
const U32_MAX: u64 = 0xFFFF_FFFF;
const U16_MAX: u64 = 0xFFFF;

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub crc32: u32,
    /// MS-DOS date and time of the file (see [`dos_time`]).
    pub dos_time: (u16, u16),
}

/// A piece of the archive: header bytes, or the bytes of entry `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Bytes(Vec<u8>),
    File { index: usize, size: u64 },
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::File { size, .. } => *size,
        }
    }
}

/// The whole archive as an ordered list of parts.
#[derive(Debug, Clone)]
pub struct Layout {
    parts: Vec<(u64, Part)>,
    size: u64,
}

/// A slice of one part, to send in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    /// `range` within entry `index`'s bytes.
    File {
        index: usize,
        range: Range<u64>,
    },
}

struct Writer(Vec<u8>);

impl Writer {
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// From "version needed" to the name's length: the fields an entry's
    /// local and central headers share.
    fn entry(&mut self, e: &Entry, zip64: bool) -> &mut Self {
        self.u16(if zip64 { 45 } else { 20 })
            .u16(UTF8_NAMES)
            .u16(0)
            .u16(e.dos_time.1)
            .u16(e.dos_time.0)
            .u32(e.crc32)
            .u32(clamp32(e.size))
            .u32(clamp32(e.size))
            .u16(e.name.len() as u16)
    }
}

fn clamp32(v: u64) -> u32 {
    if v >= U32_MAX {
        U32_MAX as u32
    } else {
        v as u32
    }
}

impl Layout {
    pub fn new(entries: &[Entry]) -> Self {
        let mut parts = Vec::with_capacity(entries.len() * 2 + 1);
        let mut offset = 0u64;
        fn push(parts: &mut Vec<(u64, Part)>, offset: &mut u64, part: Part) {
            let len = part.len();
            parts.push((*offset, part));
            *offset += len;
        }
        let mut local_offsets = Vec::with_capacity(entries.len());
        for (index, e) in entries.iter().enumerate() {
            local_offsets.push(offset);
            let zip64 = e.size >= U32_MAX;
            let mut h = Writer(Vec::with_capacity(30 + e.name.len() + 20));
            h.u32(LOCAL_HEADER)
                .entry(e, zip64)
                .u16(if zip64 { 20 } else { 0 })
                .bytes(e.name.as_bytes());
            if zip64 {
                h.u16(0x0001).u16(16).u64(e.size).u64(e.size);
            }
            push(&mut parts, &mut offset, Part::Bytes(h.0));
            push(
                &mut parts,
                &mut offset,
                Part::File {
                    index,
                    size: e.size,
                },
            );
        }

        let central_start = offset;
        let mut cd = Writer(Vec::new());
        for (e, &local) in entries.iter().zip(&local_offsets) {
            let mut extra = Writer(Vec::new());
            if e.size >= U32_MAX {
                extra.u64(e.size).u64(e.size);
            }
            if local >= U32_MAX {
                extra.u64(local);
            }
            let zip64 = !extra.0.is_empty();
            cd.u32(CENTRAL_HEADER)
                .u16((3 << 8) | 45)
                .entry(e, zip64)
                .u16(if zip64 { extra.0.len() as u16 + 4 } else { 0 })
                .u16(0)
                .u16(0)
                .u16(0)
                .u32(0o100644 << 16)
                .u32(clamp32(local))
                .bytes(e.name.as_bytes());
            if zip64 {
                cd.u16(0x0001).u16(extra.0.len() as u16).bytes(&extra.0);
            }
        }
        let central_size = cd.0.len() as u64;
        let central_end = central_start + central_size;
        let count = entries.len() as u64;
        if count >= U16_MAX || central_size >= U32_MAX || central_start >= U32_MAX {
            cd.u32(ZIP64_END_OF_CENTRAL_DIRECTORY)
                .u64(44)
                .u16((3 << 8) | 45)
                .u16(45)
                .u32(0)
                .u32(0)
                .u64(count)
                .u64(count)
                .u64(central_size)
                .u64(central_start);
            cd.u32(ZIP64_LOCATOR).u32(0).u64(central_end).u32(1);
        }
        let count16 = if count >= U16_MAX {
            U16_MAX as u16
        } else {
            count as u16
        };
        cd.u32(END_OF_CENTRAL_DIRECTORY)
            .u16(0)
            .u16(0)
            .u16(count16)
            .u16(count16)
            .u32(clamp32(central_size))
            .u32(clamp32(central_start))
            .u16(0);
        push(&mut parts, &mut offset, Part::Bytes(cd.0));
        Self {
            parts,
            size: offset,
        }
    }

    /// The archive's exact size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The pieces that make up bytes `range` of the archive, in order.
    pub fn pieces(&self, range: Range<u64>) -> impl Iterator<Item = Piece<'_>> {
        let first = self
            .parts
            .partition_point(|(start, part)| start + part.len() <= range.start);
        self.parts[first..]
            .iter()
            .take_while(move |(start, _)| *start < range.end)
            .filter_map(move |(start, part)| {
                let from = range.start.max(*start) - start;
                let to = range.end.min(start + part.len()) - start;
                if from >= to {
                    return None;
                }
                Some(match part {
                    Part::Bytes(b) => Piece::Bytes(&b[from as usize..to as usize]),
                    Part::File { index, .. } => Piece::File {
                        index: *index,
                        range: from..to,
                    },
                })
            })
    }
}

/// MS-DOS (date, time) of a local date-time; years before 1980 become 1980.
pub fn dos_time(at: chrono::NaiveDateTime) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let year = at.year().clamp(1980, 2107) as u16;
    let date = ((year - 1980) << 9) | ((at.month() as u16) << 5) | at.day() as u16;
    let time = ((at.hour() as u16) << 11) | ((at.minute() as u16) << 5) | (at.second() as u16 / 2);
    (date, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
            dos_time: (0x5A21, 0x6000),
        }
    }

    /// The archive's bytes, with `files` filling the file parts.
    fn render(layout: &Layout, files: &[&[u8]], range: Range<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in layout.pieces(range) {
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::File { index, range } => {
                    out.extend_from_slice(&files[index][range.start as usize..range.end as usize])
                }
            }
        }
        out
    }

    #[test]
    fn any_range_is_a_slice_of_the_whole() {
        let files: [&[u8]; 3] = [b"first file", b"", b"third, a little longer"];
        let entries = [
            entry("a.mp3", files[0]),
            entry("b.mp3", files[1]),
            entry("c.mp3", files[2]),
        ];
        let layout = Layout::new(&entries);
        let whole = render(&layout, &files, 0..layout.size());
        assert_eq!(whole.len() as u64, layout.size());
        for start in 0..whole.len() as u64 {
            for end in [start + 1, start + 7, whole.len() as u64] {
                let end = end.min(whole.len() as u64);
                assert_eq!(
                    render(&layout, &files, start..end),
                    whole[start as usize..end as usize]
                );
            }
        }
        // Well-formed ends: the archive closes with the end-of-central-directory record.
        assert_eq!(
            &whole[whole.len() - 22..whole.len() - 18],
            &END_OF_CENTRAL_DIRECTORY.to_le_bytes()
        );
        assert_eq!(&whole[..4], &LOCAL_HEADER.to_le_bytes());
    }

    /// What a reader finds: each entry's name, size, CRC-32, local header
    /// offset and bytes, read from the central directory the end record
    /// points to and checked against the local header it points to.
    fn read_back(zip: &[u8]) -> Vec<(String, u64, u32, u64, Vec<u8>)> {
        let u16_at = |at: usize| u16::from_le_bytes(zip[at..at + 2].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(zip[at..at + 4].try_into().unwrap());
        let end = zip.len() - 22;
        assert_eq!(u32_at(end), END_OF_CENTRAL_DIRECTORY);
        let count = usize::from(u16_at(end + 10));
        let (central_size, mut at) = (u32_at(end + 12) as usize, u32_at(end + 16) as usize);
        assert_eq!(
            at + central_size,
            end,
            "the directory ends where the end record starts"
        );
        let mut found = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(at), CENTRAL_HEADER);
            let (crc, size) = (u32_at(at + 16), u32_at(at + 24));
            assert_eq!(u32_at(at + 20), size, "stored: compressed size is the size");
            let name_len = usize::from(u16_at(at + 28));
            let skip = name_len + usize::from(u16_at(at + 30)) + usize::from(u16_at(at + 32));
            let local = u32_at(at + 42) as usize;
            let name = &zip[at + 46..at + 46 + name_len];
            assert_eq!(u32_at(local), LOCAL_HEADER);
            assert_eq!(u16_at(local + 6), UTF8_NAMES);
            assert_eq!((u32_at(local + 14), u32_at(local + 18)), (crc, size));
            assert_eq!(u32_at(local + 22), size);
            assert_eq!(&zip[local + 30..local + 30 + name_len], name);
            let data = local + 30 + name_len + usize::from(u16_at(local + 28));
            let bytes = zip[data..data + size as usize].to_vec();
            assert_eq!(crc32fast::hash(&bytes), crc);
            let name = String::from_utf8(name.to_vec()).unwrap();
            found.push((name, u64::from(size), crc, local as u64, bytes));
            at += 46 + skip;
        }
        assert_eq!(at, end);
        found
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any names and sizes: a reader finds every entry where the layout
        /// put it, with its name, size, CRC and bytes; any range is a slice.
        #[test]
        fn any_archive_reads_back_as_written(
            files in proptest::collection::vec(
                ("[a-zA-Z0-9 ._æøå/-]{1,40}", proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                0..8,
            ),
            cut in (0.0..1.0f64, 0.0..1.0f64),
        ) {
            let entries: Vec<Entry> = files.iter().map(|(name, data)| entry(name, data)).collect();
            let data: Vec<&[u8]> = files.iter().map(|(_, data)| data.as_slice()).collect();
            let layout = Layout::new(&entries);
            let whole = render(&layout, &data, 0..layout.size());
            proptest::prop_assert_eq!(whole.len() as u64, layout.size());
            let found = read_back(&whole);
            proptest::prop_assert_eq!(found.len(), entries.len());
            for ((name, size, crc, offset, bytes), (i, e)) in found.into_iter().zip(entries.iter().enumerate()) {
                proptest::prop_assert_eq!((&name, size, crc), (&e.name, e.size, e.crc32));
                proptest::prop_assert_eq!(offset, layout.parts[2 * i].0);
                proptest::prop_assert_eq!(bytes.as_slice(), data[i]);
            }
            let (a, b) = ((cut.0 * whole.len() as f64) as u64, (cut.1 * whole.len() as f64) as u64);
            let range = a.min(b)..a.max(b);
            proptest::prop_assert_eq!(
                render(&layout, &data, range.clone()),
                &whole[range.start as usize..range.end as usize]
            );
        }
    }

    #[test]
    fn zip64_only_when_needed() {
        let small = Layout::new(&[entry("a", b"x")]);
        let whole = render(&small, &[b"x"], 0..small.size());
        assert!(
            !whole
                .windows(4)
                .any(|w| w == ZIP64_END_OF_CENTRAL_DIRECTORY.to_le_bytes())
        );

        // A 5 GiB entry: sizes move to the Zip64 extra field and the end records.
        let big = Entry {
            name: "big.mp3".into(),
            size: 5 << 30,
            crc32: 1,
            dos_time: (0, 0),
        };
        let layout = Layout::new(&[big.clone(), entry("after.mp3", b"y")]);
        let header = match &layout.parts[0].1 {
            Part::Bytes(b) => b.clone(),
            _ => unreachable!(),
        };
        assert_eq!(
            &header[18..26],
            &[0xFF; 8],
            "sizes point to the Zip64 extra"
        );
        assert_eq!(&header[30 + 7..30 + 7 + 4], &[1, 0, 16, 0]);
        let tail = match &layout.parts.last().unwrap().1 {
            Part::Bytes(b) => b.clone(),
            _ => unreachable!(),
        };
        assert!(
            tail.windows(4)
                .any(|w| w == ZIP64_END_OF_CENTRAL_DIRECTORY.to_le_bytes())
        );
        assert_eq!(
            layout.size(),
            layout.parts.last().unwrap().0 + tail.len() as u64
        );
    }

    #[test]
    fn zip64_past_65535_entries() {
        let entries: Vec<Entry> = (0..70_000)
            .map(|i| entry(&format!("{i}.mp3"), b""))
            .collect();
        let layout = Layout::new(&entries);
        let tail = match &layout.parts.last().unwrap().1 {
            Part::Bytes(b) => b.clone(),
            _ => unreachable!(),
        };
        let eocd = &tail[tail.len() - 22..];
        assert_eq!(
            &eocd[8..12],
            &[0xFF, 0xFF, 0xFF, 0xFF],
            "entry counts point to Zip64"
        );
        let z64 = tail.len() - 22 - 20 - 56;
        assert_eq!(
            &tail[z64..z64 + 4],
            &ZIP64_END_OF_CENTRAL_DIRECTORY.to_le_bytes()
        );
        assert_eq!(
            u64::from_le_bytes(tail[z64 + 32..z64 + 40].try_into().unwrap()),
            70_000
        );
    }
}

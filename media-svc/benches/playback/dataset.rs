//! The benchmark's recordings: MP3 files of a chosen size made by repeating
//! the audio frames of the CBR fixtures. Tags and the Xing/Info header frame
//! are dropped, so what is left is a plain CBR stream whose duration (frames ×
//! samples per frame) stays honest however often the frames repeat. Every file
//! is checked with media-svc's own validator before it is used.

use std::path::Path;

use media_svc::mp3::analyze;

/// CBR fixtures of `media-svc/tests/fixtures`: a studio-ish 128 kbps and three telephony-like rates.
const FIXTURES: &[&str] = &[
    "cbr128-44k.mp3",
    "tel-8k-cbr16-mono.mp3",
    "tel-8k-cbr32-mono.mp3",
    "cbr24-mpeg2-22k-id3v1.mp3",
];

/// The audio frames of one fixture, ready to be repeated.
pub(crate) struct FrameSource {
    pub(crate) name: &'static str,
    frames: Vec<Vec<u8>>,
}

/// Length of the MPEG audio Layer III frame starting at `b`, and the offset of
/// a Xing/Info tag in it (after the side information).
fn frame(b: &[u8]) -> Option<(usize, usize)> {
    if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 || (b[1] >> 1) & 3 != 1 {
        return None;
    }
    let version = (b[1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let mpeg1 = version == 3;
    const MPEG1_KBPS: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let kbps = *if mpeg1 { &MPEG1_KBPS } else { &MPEG2_KBPS }.get(usize::from(b[2] >> 4))?;
    let rates: [u32; 3] = match version {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        0 => [11_025, 12_000, 8_000],
        _ => return None,
    };
    let rate = *rates.get(usize::from((b[2] >> 2) & 3))?;
    if kbps == 0 {
        return None;
    }
    let padding = u32::from((b[2] >> 1) & 1);
    let per_kbps = if mpeg1 { 144_000 } else { 72_000 };
    let len = usize::try_from(per_kbps * kbps / rate + padding).ok()?;
    let mono = b[3] >> 6 == 3;
    let side = match (mpeg1, mono) {
        (true, true) => 17,
        (true, false) => 32,
        (false, true) => 9,
        (false, false) => 17,
    };
    let crc = if b[1] & 1 == 0 { 2 } else { 0 };
    Some((len, 4 + crc + side))
}

fn is_vbr_header(frame_bytes: &[u8], tag_at: usize) -> bool {
    let at = |o: usize| frame_bytes.get(o..o + 4);
    matches!(at(tag_at), Some(b"Xing" | b"Info")) || at(36) == Some(b"VBRI")
}

impl FrameSource {
    pub(crate) fn load(fixtures: &Path, name: &'static str) -> Self {
        let path = fixtures.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut start = 0;
        if bytes.starts_with(b"ID3") && bytes.len() >= 10 {
            let size = bytes[6..10]
                .iter()
                .fold(0usize, |n, &b| (n << 7) | usize::from(b & 0x7F));
            let footer = if bytes[5] & 0x10 != 0 { 10 } else { 0 };
            start = 10 + size + footer;
        }
        let mut end = bytes.len();
        if end >= 128 && &bytes[end - 128..end - 125] == b"TAG" {
            end -= 128;
        }
        let mut frames = Vec::new();
        let mut at = start;
        while at < end {
            let (len, tag_at) = frame(&bytes[at..end])
                .unwrap_or_else(|| panic!("{name}: no frame header at byte {at}"));
            assert!(at + len <= end, "{name}: truncated frame at byte {at}");
            let this = &bytes[at..at + len];
            if !(frames.is_empty() && is_vbr_header(this, tag_at)) {
                frames.push(this.to_vec());
            }
            at += len;
        }
        assert!(frames.len() > 10, "{name}: too few frames");
        Self { name, frames }
    }

    pub(crate) fn all(fixtures: &Path) -> Vec<Self> {
        FIXTURES.iter().map(|n| Self::load(fixtures, n)).collect()
    }

    /// A valid CBR file of at most `target` bytes: the frames, repeated.
    pub(crate) fn build(&self, target: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(target);
        for f in self.frames.iter().cycle() {
            if out.len() + f.len() > target {
                break;
            }
            out.extend_from_slice(f);
        }
        let info =
            analyze(&out).unwrap_or_else(|e| panic!("{}: built file invalid: {e}", self.name));
        assert!(
            !info.variable_bitrate && info.vbr_header.is_none(),
            "{}: built file is not plain CBR",
            self.name
        );
        // Honest duration: the bytes at the bitrate agree with the frame count.
        let by_size = out.len() as f64 * 8.0 / f64::from(info.bitrate_kbps * 1000);
        let by_frames = info.duration.as_secs_f64();
        assert!(
            (by_size - by_frames).abs() / by_frames < 0.01,
            "{}: duration {by_frames:.1}s, size says {by_size:.1}s",
            self.name
        );
        out
    }
}

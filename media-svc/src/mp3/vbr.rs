//! The informational first frame encoders write in place of audio: Xing
//! (VBR) / Info (CBR) from LAME and friends, VBRI from Fraunhofer. It carries
//! the number of audio frames, which is what players and ffprobe report the
//! duration from.

use super::header::FrameHeader;

/// Which header the first frame carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VbrHeaderKind {
    Xing,
    Info,
    Vbri,
}

/// A parsed Xing/Info/VBRI header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VbrHeader {
    pub(crate) kind: VbrHeaderKind,
    /// Audio frames in the stream, excluding this one (absent when the Xing flags omit it).
    pub(crate) frames: Option<u32>,
}

const VBRI_OFFSET: usize = 4 + 32;

/// Looks for a Xing/Info/VBRI header in a whole first frame (`frame[..4]` is its header).
pub(crate) fn parse(header: &FrameHeader, frame: &[u8]) -> Option<VbrHeader> {
    let plain = 4 + header.side_info_len();
    // The tag sits after the side info; some writers count a CRC before it, most
    // (and ffmpeg's reader) do not, so both places are accepted.
    let offsets: &[usize] = if header.protected {
        &[plain, plain + 2]
    } else {
        &[plain]
    };
    offsets
        .iter()
        .find_map(|&at| xing(frame, at))
        .or_else(|| vbri(frame))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn xing(frame: &[u8], at: usize) -> Option<VbrHeader> {
    let kind = match frame.get(at..at + 4)? {
        b"Xing" => VbrHeaderKind::Xing,
        b"Info" => VbrHeaderKind::Info,
        _ => return None,
    };
    let flags = be32(frame, at + 4)?;
    let frames = if flags & 1 == 1 {
        Some(be32(frame, at + 8)?)
    } else {
        None
    };
    Some(VbrHeader { kind, frames })
}

fn vbri(frame: &[u8]) -> Option<VbrHeader> {
    if frame.get(VBRI_OFFSET..VBRI_OFFSET + 4)? != b"VBRI" {
        return None;
    }
    // VBRI: tag, version(2), delay(2), quality(2), bytes(4), frames(4).
    let frames = be32(frame, VBRI_OFFSET + 14)?;
    Some(VbrHeader {
        kind: VbrHeaderKind::Vbri,
        frames: Some(frames),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: [u8; 4]) -> FrameHeader {
        FrameHeader::parse(bytes).unwrap()
    }

    #[test]
    fn xing_with_frame_count() {
        let h = header([0xFF, 0xFB, 0x90, 0xC4]); // MPEG-1 mono: tag at 4 + 17
        let mut frame = vec![0u8; h.frame_len()];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0xC4]);
        frame[21..25].copy_from_slice(b"Xing");
        frame[25..29].copy_from_slice(&3u32.to_be_bytes());
        frame[29..33].copy_from_slice(&1234u32.to_be_bytes());
        let tag = parse(&h, &frame).unwrap();
        assert_eq!(tag.kind, VbrHeaderKind::Xing);
        assert_eq!(tag.frames, Some(1234));
    }

    #[test]
    fn info_without_frame_flag() {
        let h = header([0xFF, 0xFB, 0x90, 0x04]); // MPEG-1 stereo: tag at 4 + 32
        let mut frame = vec![0u8; h.frame_len()];
        frame[36..40].copy_from_slice(b"Info");
        let tag = parse(&h, &frame).unwrap();
        assert_eq!(tag.kind, VbrHeaderKind::Info);
        assert_eq!(tag.frames, None);
    }

    #[test]
    fn vbri_frame_count() {
        let h = header([0xFF, 0xF3, 0x90, 0x04]); // MPEG-2 stereo
        let mut frame = vec![0u8; h.frame_len()];
        frame[36..40].copy_from_slice(b"VBRI");
        frame[50..54].copy_from_slice(&77u32.to_be_bytes());
        let tag = parse(&h, &frame).unwrap();
        assert_eq!(tag.kind, VbrHeaderKind::Vbri);
        assert_eq!(tag.frames, Some(77));
    }

    #[test]
    fn audio_frame_has_no_tag() {
        let h = header([0xFF, 0xFB, 0x90, 0xC4]);
        assert_eq!(parse(&h, &vec![0u8; h.frame_len()]), None);
        // A tag cut off by a short frame is not read past the frame's end.
        assert_eq!(parse(&h, b"\xFF\xFB\x90\xC4"), None);
    }
}

//! The 4-byte MPEG audio frame header: which fields make a Layer III frame,
//! how long the frame is and how many samples it carries.

use std::fmt;

/// The MPEG audio version of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpegVersion {
    /// MPEG-1 (32, 44.1, 48 kHz; 1152 samples per frame).
    Mpeg1,
    /// MPEG-2 LSF (16, 22.05, 24 kHz; 576 samples per frame).
    Mpeg2,
    /// MPEG-2.5 (8, 11.025, 12 kHz; 576 samples per frame), common for telephony.
    Mpeg25,
}

impl fmt::Display for MpegVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mpeg1 => "MPEG-1",
            Self::Mpeg2 => "MPEG-2",
            Self::Mpeg25 => "MPEG-2.5",
        })
    }
}

/// Why four bytes are not the header of a Layer III frame we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    NoSync,
    ReservedVersion,
    NotLayer3,
    FreeFormat,
    BadBitrate,
    BadSampleRate,
    ReservedEmphasis,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSync => "no frame sync",
            Self::ReservedVersion => "reserved MPEG version",
            Self::NotLayer3 => "not Layer III",
            Self::FreeFormat => "free-format bitrate is not supported",
            Self::BadBitrate => "invalid bitrate index",
            Self::BadSampleRate => "invalid sample rate index",
            Self::ReservedEmphasis => "reserved emphasis",
        })
    }
}

const BITRATES_V1: [u32; 16] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
];
const BITRATES_V2: [u32; 16] = [
    0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0,
];

/// The largest Layer III frame (MPEG-1 320 kbit/s at 32 kHz, or MPEG-2.5
/// 160 kbit/s at 8 kHz, plus padding): the most the validator ever buffers.
pub(crate) const MAX_FRAME_LEN: usize = 1441;

/// A parsed Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) version: MpegVersion,
    /// A 16-bit CRC follows the header.
    pub(crate) protected: bool,
    pub(crate) bitrate_kbps: u32,
    pub(crate) sample_rate_hz: u32,
    pub(crate) padding: bool,
    pub(crate) mono: bool,
}

impl FrameHeader {
    pub(crate) fn parse(b: [u8; 4]) -> Result<Self, HeaderError> {
        if b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
            return Err(HeaderError::NoSync);
        }
        let version = match (b[1] >> 3) & 0b11 {
            0b00 => MpegVersion::Mpeg25,
            0b10 => MpegVersion::Mpeg2,
            0b11 => MpegVersion::Mpeg1,
            _ => return Err(HeaderError::ReservedVersion),
        };
        if (b[1] >> 1) & 0b11 != 0b01 {
            return Err(HeaderError::NotLayer3);
        }
        let bitrate_index = usize::from(b[2] >> 4);
        let bitrate_kbps = match version {
            MpegVersion::Mpeg1 => BITRATES_V1[bitrate_index],
            _ => BITRATES_V2[bitrate_index],
        };
        if bitrate_index == 0 {
            return Err(HeaderError::FreeFormat);
        }
        if bitrate_kbps == 0 {
            return Err(HeaderError::BadBitrate);
        }
        let base_rate = match (b[2] >> 2) & 0b11 {
            0 => 44_100,
            1 => 48_000,
            2 => 32_000,
            _ => return Err(HeaderError::BadSampleRate),
        };
        let sample_rate_hz = match version {
            MpegVersion::Mpeg1 => base_rate,
            MpegVersion::Mpeg2 => base_rate / 2,
            MpegVersion::Mpeg25 => base_rate / 4,
        };
        if b[3] & 0b11 == 0b10 {
            return Err(HeaderError::ReservedEmphasis);
        }
        Ok(Self {
            version,
            protected: b[1] & 1 == 0,
            bitrate_kbps,
            sample_rate_hz,
            padding: (b[2] >> 1) & 1 == 1,
            mono: b[3] >> 6 == 0b11,
        })
    }

    pub(crate) fn samples(&self) -> u32 {
        match self.version {
            MpegVersion::Mpeg1 => 1152,
            _ => 576,
        }
    }

    /// Whole frame length in bytes, header included.
    pub(crate) fn frame_len(&self) -> usize {
        let coefficient = self.samples() / 8;
        (coefficient * self.bitrate_kbps * 1000 / self.sample_rate_hz) as usize
            + usize::from(self.padding)
    }

    /// Length of the Layer III side information that follows the header (and CRC).
    pub(crate) fn side_info_len(&self) -> usize {
        match (self.version, self.mono) {
            (MpegVersion::Mpeg1, true) => 17,
            (MpegVersion::Mpeg1, false) => 32,
            (_, true) => 9,
            (_, false) => 17,
        }
    }

    /// Whether `other` can belong to the same stream: a real encoder never
    /// switches version, sample rate or mono/stereo between frames, while
    /// random bytes that happen to chain almost always do.
    pub(crate) fn same_stream(&self, other: &Self) -> bool {
        self.version == other.version
            && self.sample_rate_hz == other.sample_rate_hz
            && self.mono == other.mono
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg1_128k_44k() {
        let h = FrameHeader::parse([0xFF, 0xFB, 0x90, 0xC4]).unwrap();
        assert_eq!(h.version, MpegVersion::Mpeg1);
        assert_eq!((h.bitrate_kbps, h.sample_rate_hz), (128, 44_100));
        assert!(h.mono && !h.padding && !h.protected);
        assert_eq!(h.frame_len(), 417);
        assert_eq!(h.samples(), 1152);
        let padded = FrameHeader::parse([0xFF, 0xFB, 0x92, 0xC4]).unwrap();
        assert_eq!(padded.frame_len(), 418);
    }

    #[test]
    fn mpeg25_telephony() {
        let h = FrameHeader::parse([0xFF, 0xE3, 0x28, 0xC4]).unwrap();
        assert_eq!(h.version, MpegVersion::Mpeg25);
        assert_eq!((h.bitrate_kbps, h.sample_rate_hz), (16, 8_000));
        assert_eq!(h.frame_len(), 144);
        assert_eq!(h.samples(), 576);
    }

    #[test]
    fn largest_frame_is_bounded() {
        // MPEG-1 320 kbit/s at 32 kHz with padding.
        let h = FrameHeader::parse([0xFF, 0xFB, 0xEA, 0x00]).unwrap();
        assert_eq!(h.frame_len(), MAX_FRAME_LEN);
        // MPEG-2.5 160 kbit/s at 8 kHz with padding.
        let h = FrameHeader::parse([0xFF, 0xE3, 0xEA, 0x00]).unwrap();
        assert_eq!(h.frame_len(), MAX_FRAME_LEN);
    }

    #[test]
    fn rejections() {
        let cases = [
            ([0xFF, 0x7B, 0x90, 0xC4], HeaderError::NoSync),
            ([0xFF, 0xEB, 0x90, 0xC4], HeaderError::ReservedVersion),
            ([0xFF, 0xFD, 0x90, 0xC4], HeaderError::NotLayer3), // Layer II
            ([0xFF, 0xFF, 0x90, 0xC4], HeaderError::NotLayer3), // Layer I
            ([0xFF, 0xFB, 0x00, 0xC4], HeaderError::FreeFormat),
            ([0xFF, 0xFB, 0xF0, 0xC4], HeaderError::BadBitrate),
            ([0xFF, 0xFB, 0x9C, 0xC4], HeaderError::BadSampleRate),
            ([0xFF, 0xFB, 0x90, 0xC6], HeaderError::ReservedEmphasis),
        ];
        for (bytes, want) in cases {
            assert_eq!(FrameHeader::parse(bytes), Err(want), "{bytes:02x?}");
        }
    }
}

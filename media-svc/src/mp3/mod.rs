//! MPEG audio Layer III validation by walking frame headers (never by file
//! name or MIME type): MPEG-1/2/2.5, CBR and VBR (Xing/Info/VBRI), ID3v2 at
//! the start and ID3v1 at the end tolerated, free format rejected. The
//! duration comes from the frames, so it agrees with what players report.

mod header;
mod validator;
mod vbr;

use std::time::Duration;

pub use header::{HeaderError, MpegVersion};
pub use validator::{MIN_FRAMES, Mp3Validator};
pub use vbr::VbrHeaderKind;

/// What the frames of a valid file say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp3Info {
    pub version: MpegVersion,
    pub sample_rate_hz: u32,
    pub channels: u8,
    /// Audio frames the duration is computed from (the Xing/VBRI header frame excluded).
    pub frames: u64,
    pub duration: Duration,
    /// The constant bitrate, or the average over the audio frames when it varies.
    pub bitrate_kbps: u32,
    /// Whether the audio frames use more than one bitrate.
    pub variable_bitrate: bool,
    pub vbr_header: Option<VbrHeaderKind>,
}

/// Why bytes are not an MP3 file we accept; offsets are from the start of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp3Error {
    #[error("the file is empty")]
    Empty,
    #[error("not MPEG audio at byte {offset}: {found}")]
    NotMpegAudio { offset: u64, found: &'static str },
    #[error("bad MPEG audio frame header at byte {offset}: {reason}")]
    BadFrame { offset: u64, reason: HeaderError },
    #[error("frames do not chain at byte {offset}: {reason}")]
    BrokenChain { offset: u64, reason: String },
    #[error("malformed ID3v2 tag at byte {offset}")]
    BadId3 { offset: u64 },
    #[error("the file ends inside a frame or tag (at byte {offset})")]
    Truncated { offset: u64 },
    #[error("unexpected data after the audio at byte {offset}")]
    TrailingData { offset: u64 },
    #[error("only {frames} MPEG audio frames; at least {MIN_FRAMES} are required")]
    TooFewFrames { frames: u64 },
    #[error("the file was already rejected")]
    AlreadyFailed,
}

/// Validates a whole file held in memory (tests, small files).
pub fn analyze(bytes: &[u8]) -> Result<Mp3Info, Mp3Error> {
    let mut validator = Mp3Validator::new();
    validator.feed(bytes)?;
    validator.finish()
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

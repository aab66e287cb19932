//! The incremental validator: fed an upload chunk by chunk, it walks the
//! stream tag by tag and frame by frame, buffering at most one frame, and
//! rejects the first byte that does not belong to an MP3 file.
//!
//! Accepted shape: `[ID3v2 tag]* [zero padding after a tag] frame{3,} [ID3v1 tag]`,
//! every frame a Layer III frame of the same version, sample rate and channel
//! count, each starting exactly where the previous one ended. That chaining is
//! what rejects WAV, FLAC, text and random bytes that contain sync words:
//! random data almost never yields even two consecutive consistent headers.

use std::time::Duration;

use super::{
    Mp3Error, Mp3Info,
    header::{FrameHeader, MAX_FRAME_LEN},
    vbr::{self, VbrHeader},
};

/// Fewest frames (the Xing/Info frame included) a file must have.
pub const MIN_FRAMES: u64 = 3;
/// Most zero bytes tolerated between an ID3v2 tag and the first frame.
const MAX_TAG_PADDING: u64 = 64 * 1024;
const ID3V1_LEN: u64 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first frame: an ID3v2 tag, padding after one, or the first frame.
    Start {
        after_tag: bool,
    },
    Id3v2Header,
    /// At a frame boundary.
    Boundary,
    /// The first frame, read whole to look for a Xing/Info/VBRI header.
    FirstFrame(FrameHeader),
    /// Inside the trailing ID3v1 tag; nothing may follow it.
    Id3v1,
    Failed,
}

/// Validates an MP3 file fed in chunks of any size; memory stays below one frame.
#[derive(Debug)]
pub struct Mp3Validator {
    state: State,
    /// Bytes held for the current decision (≤ one frame).
    buf: Vec<u8>,
    /// Bytes still to pass over (the rest of a frame or tag) before the next decision.
    skip: u64,
    /// Stream offset of `buf[0]` (or of the next byte when `buf` is empty).
    offset: u64,
    padding: u64,
    first: Option<FrameHeader>,
    vbr_header: Option<VbrHeader>,
    frames: u64,
    audio_bytes: u64,
    bitrate: Option<u32>,
    mixed_bitrate: bool,
    trailer: u64,
}

impl Default for Mp3Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp3Validator {
    pub fn new() -> Self {
        Self {
            state: State::Start { after_tag: false },
            buf: Vec::with_capacity(16),
            skip: 0,
            offset: 0,
            padding: 0,
            first: None,
            vbr_header: None,
            frames: 0,
            audio_bytes: 0,
            bitrate: None,
            mixed_bitrate: false,
            trailer: 0,
        }
    }

    /// Feeds the next bytes of the file. After an error the validator stays failed.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), Mp3Error> {
        if self.state == State::Failed {
            return Err(Mp3Error::AlreadyFailed);
        }
        let result = (|| loop {
            if self.skip > 0 {
                if self.buf.is_empty() {
                    let n = usize::try_from(self.skip).map_or(input.len(), |s| s.min(input.len()));
                    input = &input[n..];
                    self.advance(n);
                    if self.skip > 0 {
                        return Ok(());
                    }
                } else {
                    let n = usize::try_from(self.skip)
                        .map_or(self.buf.len(), |s| s.min(self.buf.len()));
                    self.buf.drain(..n);
                    self.advance(n);
                }
                continue;
            }
            if self.state == State::Id3v1 {
                let n = (self.buf.len() + input.len()) as u64;
                self.buf.clear();
                input = &[];
                self.trailer += n;
                if self.trailer > ID3V1_LEN {
                    return Err(Mp3Error::TrailingData {
                        offset: self.offset + ID3V1_LEN,
                    });
                }
                return Ok(());
            }
            let need = self.need();
            if self.buf.len() < need {
                let n = (need - self.buf.len()).min(input.len());
                self.buf.reserve_exact(need - self.buf.len());
                self.buf.extend_from_slice(&input[..n]);
                input = &input[n..];
                if self.buf.len() < need {
                    return Ok(());
                }
            }
            self.step()?;
        })();
        if result.is_err() {
            self.state = State::Failed;
            self.buf = Vec::new();
        }
        result
    }

    /// Ends the file: checks it ended on a frame or tag boundary and had enough frames.
    pub fn finish(self) -> Result<Mp3Info, Mp3Error> {
        let end = self.offset + self.buf.len() as u64;
        match self.state {
            State::Failed => return Err(Mp3Error::AlreadyFailed),
            State::Start { .. } if end == 0 => return Err(Mp3Error::Empty),
            State::Start { .. } if self.skip > 0 => {
                return Err(Mp3Error::Truncated { offset: end });
            }
            State::Start { .. } if !self.buf.iter().all(|&b| b == 0) => {
                return Err(Mp3Error::NotMpegAudio {
                    offset: self.offset,
                    found: "too short",
                });
            }
            State::Id3v2Header => {
                return Err(Mp3Error::Truncated {
                    offset: self.offset,
                });
            }
            State::Id3v1 if self.trailer != ID3V1_LEN => {
                return Err(Mp3Error::Truncated { offset: end });
            }
            State::FirstFrame(_) => {
                return Err(Mp3Error::Truncated {
                    offset: self.offset,
                });
            }
            State::Boundary if self.skip > 0 => {
                return Err(Mp3Error::Truncated { offset: end });
            }
            State::Boundary if !self.buf.is_empty() => {
                return Err(Mp3Error::TrailingData {
                    offset: self.offset,
                });
            }
            _ => {}
        }
        let total_frames = self.frames + u64::from(self.vbr_header.is_some());
        let Some(first) = self.first.filter(|_| total_frames >= MIN_FRAMES) else {
            return Err(Mp3Error::TooFewFrames {
                frames: total_frames,
            });
        };
        if self.frames == 0 {
            return Err(Mp3Error::TooFewFrames { frames: 0 });
        }
        // The header's count is what ffprobe reports; trust it only while it
        // agrees with the frames actually present (a cut file keeps a stale count).
        let counted = self
            .vbr_header
            .and_then(|h| h.frames)
            .map(u64::from)
            .filter(|&n| n.abs_diff(self.frames) <= 1);
        let frames = counted.unwrap_or(self.frames);
        let samples = u128::from(frames) * u128::from(first.samples());
        let nanos = samples * 1_000_000_000 / u128::from(first.sample_rate_hz);
        let duration = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let bitrate_kbps = match self.bitrate {
            Some(rate) if !self.mixed_bitrate => rate,
            _ => {
                let bits = u128::from(self.audio_bytes) * 8 * 1_000_000_000;
                let bps = bits / nanos.max(1);
                u32::try_from((bps + 500) / 1000).unwrap_or(u32::MAX)
            }
        };
        Ok(Mp3Info {
            version: first.version,
            sample_rate_hz: first.sample_rate_hz,
            channels: if first.mono { 1 } else { 2 },
            frames,
            duration,
            bitrate_kbps,
            variable_bitrate: self.mixed_bitrate,
            vbr_header: self.vbr_header.map(|h| h.kind),
        })
    }

    fn advance(&mut self, n: usize) {
        self.skip -= n as u64;
        self.offset += n as u64;
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.offset += n as u64;
    }

    fn need(&self) -> usize {
        match self.state {
            State::Start { .. } => 3,
            State::Id3v2Header => 10,
            State::Boundary => 4,
            State::FirstFrame(h) => h.frame_len(),
            State::Id3v1 | State::Failed => 0,
        }
    }

    fn step(&mut self) -> Result<(), Mp3Error> {
        match self.state {
            State::Start { after_tag } => {
                let head = &self.buf[..3];
                if head == b"ID3" {
                    self.state = State::Id3v2Header;
                } else if after_tag && head[0] == 0 {
                    let zeros = self.buf.iter().take_while(|&&b| b == 0).count();
                    self.padding += zeros as u64;
                    if self.padding > MAX_TAG_PADDING {
                        return Err(Mp3Error::NotMpegAudio {
                            offset: self.offset,
                            found: "too much padding after the ID3v2 tag",
                        });
                    }
                    self.consume(zeros);
                } else if head[0] == 0xFF {
                    self.state = State::Boundary;
                } else {
                    return Err(Mp3Error::NotMpegAudio {
                        offset: self.offset,
                        found: sniff(&self.buf),
                    });
                }
            }
            State::Id3v2Header => {
                let h = &self.buf[..10];
                let size_ok = h[6..10].iter().all(|&b| b < 0x80);
                if !(2..=4).contains(&h[3]) || h[4] == 0xFF || !size_ok {
                    return Err(Mp3Error::BadId3 {
                        offset: self.offset,
                    });
                }
                let size = h[6..10]
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 7) | u64::from(b));
                let footer = if h[3] == 4 && h[5] & 0x10 != 0 { 10 } else { 0 };
                self.consume(10);
                self.skip = size + footer;
                self.padding = 0;
                self.state = State::Start { after_tag: true };
            }
            State::Boundary => {
                if self.first.is_some() && &self.buf[..3] == b"TAG" {
                    self.state = State::Id3v1;
                    return Ok(());
                }
                let bytes = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
                let header = FrameHeader::parse(bytes).map_err(|reason| {
                    if self.first.is_none() {
                        Mp3Error::BadFrame {
                            offset: self.offset,
                            reason,
                        }
                    } else {
                        Mp3Error::BrokenChain {
                            offset: self.offset,
                            reason: reason.to_string(),
                        }
                    }
                })?;
                match self.first {
                    None => {
                        self.first = Some(header);
                        self.state = State::FirstFrame(header);
                    }
                    Some(first) if !first.same_stream(&header) => {
                        return Err(Mp3Error::BrokenChain {
                            offset: self.offset,
                            reason: format!(
                                "{} {} Hz {} frame after {} {} Hz {}",
                                header.version,
                                header.sample_rate_hz,
                                channels(&header),
                                first.version,
                                first.sample_rate_hz,
                                channels(&first),
                            ),
                        });
                    }
                    Some(_) => {
                        self.count_audio(&header);
                        self.consume(4);
                        self.skip = (header.frame_len() - 4) as u64;
                    }
                }
            }
            State::FirstFrame(header) => {
                let len = header.frame_len();
                debug_assert!(len <= MAX_FRAME_LEN);
                match vbr::parse(&header, &self.buf[..len]) {
                    Some(tag) => self.vbr_header = Some(tag),
                    None => self.count_audio(&header),
                }
                self.consume(len);
                self.state = State::Boundary;
            }
            State::Id3v1 | State::Failed => unreachable!("no decisions in this state"),
        }
        Ok(())
    }

    /// Bytes currently held (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn count_audio(&mut self, header: &FrameHeader) {
        self.frames += 1;
        self.audio_bytes += header.frame_len() as u64;
        match self.bitrate {
            None => self.bitrate = Some(header.bitrate_kbps),
            Some(rate) if rate != header.bitrate_kbps => self.mixed_bitrate = true,
            Some(_) => {}
        }
    }
}

fn channels(h: &FrameHeader) -> &'static str {
    if h.mono { "mono" } else { "stereo" }
}

/// Names well-known formats people upload by mistake, for a clearer error.
fn sniff(head: &[u8]) -> &'static str {
    match head {
        [b'R', b'I', b'F', ..] => "a RIFF/WAV file",
        [b'f', b'L', b'a', ..] => "a FLAC file",
        [b'O', b'g', b'g', ..] => "an Ogg file",
        [b'T', b'A', b'G', ..] => "an ID3v1 tag without audio",
        _ => "no MPEG audio frame",
    }
}

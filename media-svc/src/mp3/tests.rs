//! Crafted inputs: frames built by hand, so every accepted and rejected shape
//! is pinned down independently of any encoder.

use std::time::Duration;

use super::{
    HeaderError, MIN_FRAMES, Mp3Error, Mp3Validator, MpegVersion, VbrHeaderKind, analyze,
    header::{FrameHeader, MAX_FRAME_LEN},
};

/// MPEG-1, 128 kbit/s, 44.1 kHz, mono, no padding: 417 bytes.
const V1_128_44K: [u8; 4] = [0xFF, 0xFB, 0x90, 0xC4];
/// MPEG-1, 64 kbit/s, 44.1 kHz, mono.
const V1_64_44K: [u8; 4] = [0xFF, 0xFB, 0x50, 0xC4];
/// MPEG-1, 128 kbit/s, 48 kHz, mono.
const V1_128_48K: [u8; 4] = [0xFF, 0xFB, 0x94, 0xC4];
/// MPEG-2, 64 kbit/s, 22.05 kHz, joint stereo.
const V2_64_22K: [u8; 4] = [0xFF, 0xF3, 0x80, 0x44];
/// MPEG-2.5, 16 kbit/s, 8 kHz, mono: 144 bytes.
const V25_16_8K: [u8; 4] = [0xFF, 0xE3, 0x28, 0xC4];

fn frame(header: [u8; 4]) -> Vec<u8> {
    let len = FrameHeader::parse(header).unwrap().frame_len();
    let mut f = vec![0u8; len];
    f[..4].copy_from_slice(&header);
    f
}

fn frames(header: [u8; 4], n: usize) -> Vec<u8> {
    (0..n).flat_map(|_| frame(header)).collect()
}

fn id3v2(major: u8, body: usize, footer: bool) -> Vec<u8> {
    let mut tag = b"ID3".to_vec();
    tag.extend([major, 0, if footer { 0x10 } else { 0 }]);
    let size = body as u32;
    tag.extend([
        ((size >> 21) & 0x7F) as u8,
        ((size >> 14) & 0x7F) as u8,
        ((size >> 7) & 0x7F) as u8,
        (size & 0x7F) as u8,
    ]);
    tag.extend(std::iter::repeat_n(b'x', body));
    if footer {
        tag.extend(b"3DI");
        tag.extend([major, 0, 0x10, 0, 0, 0, 0]);
    }
    tag
}

fn id3v1() -> Vec<u8> {
    let mut tag = b"TAG".to_vec();
    tag.resize(128, b' ');
    tag
}

fn xing_frame(header: [u8; 4], tag: &[u8; 4], count: u32) -> Vec<u8> {
    let mut f = frame(header);
    let at = 4 + FrameHeader::parse(header).unwrap().side_info_len();
    f[at..at + 4].copy_from_slice(tag);
    f[at + 4..at + 8].copy_from_slice(&1u32.to_be_bytes());
    f[at + 8..at + 12].copy_from_slice(&count.to_be_bytes());
    f
}

fn vbri_frame(header: [u8; 4], count: u32) -> Vec<u8> {
    let mut f = frame(header);
    f[36..40].copy_from_slice(b"VBRI");
    f[50..54].copy_from_slice(&count.to_be_bytes());
    f
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn secs(frames: u64, samples: u64, rate: u64) -> Duration {
    Duration::from_nanos(frames * samples * 1_000_000_000 / rate)
}

#[test]
fn cbr_frames_give_duration_and_bitrate() {
    let info = analyze(&frames(V1_128_44K, 10)).unwrap();
    assert_eq!(info.version, MpegVersion::Mpeg1);
    assert_eq!((info.sample_rate_hz, info.channels), (44_100, 1));
    assert_eq!(info.frames, 10);
    assert_eq!(info.duration, secs(10, 1152, 44_100));
    assert_eq!(info.bitrate_kbps, 128);
    assert!(!info.variable_bitrate);
    assert_eq!(info.vbr_header, None);
}

#[test]
fn mpeg2_and_mpeg25_use_576_samples_per_frame() {
    let info = analyze(&frames(V2_64_22K, 5)).unwrap();
    assert_eq!((info.version, info.channels), (MpegVersion::Mpeg2, 2));
    assert_eq!(info.duration, secs(5, 576, 22_050));
    let info = analyze(&frames(V25_16_8K, 125)).unwrap();
    assert_eq!(info.version, MpegVersion::Mpeg25);
    assert_eq!(info.duration, Duration::from_secs(9));
    assert_eq!(info.bitrate_kbps, 16);
}

#[test]
fn vbr_bitrate_is_the_average() {
    let mut file = frames(V1_128_44K, 2);
    file.extend(frames(V1_64_44K, 2));
    let info = analyze(&file).unwrap();
    assert!(info.variable_bitrate);
    assert_eq!(info.frames, 4);
    let expected = (file.len() as f64 * 8.0 / info.duration.as_secs_f64() / 1000.0).round();
    assert_eq!(f64::from(info.bitrate_kbps), expected);
}

#[test]
fn xing_count_is_used_when_it_agrees_with_the_frames() {
    let mut file = xing_frame(V1_128_44K, b"Xing", 5);
    file.extend(frames(V1_128_44K, 4));
    let info = analyze(&file).unwrap();
    assert_eq!(info.vbr_header, Some(VbrHeaderKind::Xing));
    // Header frame is not audio; the count (5) is within one frame of the 4 walked.
    assert_eq!(info.frames, 5);
    assert_eq!(info.duration, secs(5, 1152, 44_100));

    // A stale count (a file cut after encoding) is not believed.
    let mut cut = xing_frame(V1_128_44K, b"Info", 1000);
    cut.extend(frames(V1_128_44K, 4));
    let info = analyze(&cut).unwrap();
    assert_eq!(info.vbr_header, Some(VbrHeaderKind::Info));
    assert_eq!(info.frames, 4);
}

#[test]
fn vbri_header_is_read() {
    let mut file = vbri_frame(V2_64_22K, 3);
    file.extend(frames(V2_64_22K, 3));
    let info = analyze(&file).unwrap();
    assert_eq!(info.vbr_header, Some(VbrHeaderKind::Vbri));
    assert_eq!(info.frames, 3);
    assert_eq!(info.duration, secs(3, 576, 22_050));
}

#[test]
fn id3_tags_are_tolerated() {
    for (major, footer) in [(3, false), (4, true), (2, false)] {
        let mut file = id3v2(major, 300, footer);
        file.extend(frames(V25_16_8K, 4));
        file.extend(id3v1());
        let info = analyze(&file).unwrap_or_else(|e| panic!("v2.{major}: {e}"));
        assert_eq!(info.frames, 4);
    }
    // Two ID3v2 tags, then zero padding the tag size did not count.
    let mut file = id3v2(3, 20, false);
    file.extend(id3v2(4, 10, false));
    file.extend([0u8; 700]);
    file.extend(frames(V1_128_44K, 3));
    assert_eq!(analyze(&file).unwrap().frames, 3);
}

#[test]
fn empty_and_foreign_formats_are_rejected() {
    assert_eq!(analyze(b""), Err(Mp3Error::Empty));
    let mut wav = b"RIFF\x24\x08\x00\x00WAVEfmt ".to_vec();
    wav.extend(frames(V1_128_44K, 4)); // even with MP3 frames inside
    assert!(matches!(
        analyze(&wav),
        Err(Mp3Error::NotMpegAudio { offset: 0, found }) if found.contains("WAV")
    ));
    let mut flac = b"fLaC\x00\x00\x00\x22".to_vec();
    flac.extend(noise(4000, 7));
    assert!(matches!(
        analyze(&flac),
        Err(Mp3Error::NotMpegAudio { found, .. }) if found.contains("FLAC")
    ));
    assert!(matches!(
        analyze(b"Hello, this is a text file.\n"),
        Err(Mp3Error::NotMpegAudio { offset: 0, .. })
    ));
    assert!(matches!(analyze(b"hi"), Err(Mp3Error::NotMpegAudio { .. })));
    // Zero bytes before the first frame are only padding after an ID3v2 tag.
    let mut zeros = vec![0u8; 16];
    zeros.extend(frames(V1_128_44K, 3));
    assert!(matches!(
        analyze(&zeros),
        Err(Mp3Error::NotMpegAudio { offset: 0, .. })
    ));
}

#[test]
fn other_layers_and_free_format_are_rejected() {
    let layer2 = [0xFF, 0xFD, 0x90, 0xC4];
    let mut file = layer2.to_vec();
    file.resize(1000, 0);
    assert_eq!(
        analyze(&file),
        Err(Mp3Error::BadFrame {
            offset: 0,
            reason: HeaderError::NotLayer3
        })
    );
    file[..4].copy_from_slice(&[0xFF, 0xFB, 0x00, 0xC4]);
    assert_eq!(
        analyze(&file),
        Err(Mp3Error::BadFrame {
            offset: 0,
            reason: HeaderError::FreeFormat
        })
    );
}

#[test]
fn random_bytes_with_sync_words_are_rejected() {
    for seed in 1..50u64 {
        let mut bytes = noise(20_000, seed);
        // Plant valid-looking headers all over, including at the very start.
        for at in (0..bytes.len() - 4).step_by(97) {
            bytes[at..at + 4].copy_from_slice(&V1_128_44K);
        }
        let err = analyze(&bytes).unwrap_err();
        assert!(
            matches!(err, Mp3Error::BrokenChain { .. }),
            "seed {seed}: {err}"
        );
    }
    // One real frame followed by noise: the second header is not where it must be.
    let mut file = frame(V1_128_44K);
    file.extend(noise(5000, 3));
    assert!(matches!(
        analyze(&file),
        Err(Mp3Error::BrokenChain { offset: 417, .. })
    ));
}

#[test]
fn a_stream_must_not_change_sample_rate() {
    let mut file = frames(V1_128_44K, 3);
    file.extend(frame(V1_128_48K));
    let err = analyze(&file).unwrap_err();
    assert!(matches!(err, Mp3Error::BrokenChain { offset, .. } if offset == 3 * 417));
}

#[test]
fn too_few_frames() {
    assert_eq!(
        analyze(&frames(V1_128_44K, 2)),
        Err(Mp3Error::TooFewFrames { frames: 2 })
    );
    let mut tag_only = xing_frame(V1_128_44K, b"Xing", 0);
    tag_only.extend(frames(V1_128_44K, 1));
    assert_eq!(
        analyze(&tag_only),
        Err(Mp3Error::TooFewFrames { frames: 2 })
    );
    const { assert!(MIN_FRAMES >= 3) };
}

#[test]
fn truncation_and_trailing_data_are_rejected() {
    let mut cut = frames(V1_128_44K, 4);
    cut.truncate(cut.len() - 10);
    assert!(matches!(analyze(&cut), Err(Mp3Error::Truncated { .. })));

    let mut tail = frames(V1_128_44K, 4);
    tail.extend(b"xy");
    assert_eq!(
        analyze(&tail),
        Err(Mp3Error::TrailingData { offset: 4 * 417 })
    );

    let mut after_tag = frames(V1_128_44K, 4);
    after_tag.extend(id3v1());
    after_tag.push(0);
    assert!(matches!(
        analyze(&after_tag),
        Err(Mp3Error::TrailingData { .. })
    ));

    let mut short_tag = frames(V1_128_44K, 4);
    short_tag.extend(&id3v1()[..100]);
    assert!(matches!(
        analyze(&short_tag),
        Err(Mp3Error::Truncated { .. })
    ));

    let mut cut_id3 = id3v2(3, 5000, false);
    cut_id3.truncate(200);
    assert!(matches!(analyze(&cut_id3), Err(Mp3Error::Truncated { .. })));

    let mut bad_id3 = id3v2(3, 10, false);
    bad_id3[6] = 0x80; // not syncsafe
    assert_eq!(analyze(&bad_id3), Err(Mp3Error::BadId3 { offset: 0 }));
}

#[test]
fn chunking_does_not_change_the_outcome() {
    let mut file = id3v2(4, 123, true);
    file.extend(xing_frame(V2_64_22K, b"Xing", 7));
    file.extend(frames(V2_64_22K, 7));
    file.extend(id3v1());
    let whole = analyze(&file).unwrap();
    for chunk in [1, 2, 3, 5, 64, 417, 4096] {
        let mut v = Mp3Validator::new();
        for piece in file.chunks(chunk) {
            v.feed(piece).unwrap();
        }
        assert_eq!(v.finish().unwrap(), whole, "chunk size {chunk}");
    }
    let mut bad = file.clone();
    let bad_at = 10 + 123 + 10 + frame(V2_64_22K).len() * 2;
    bad[bad_at] = 0x00;
    for chunk in [1, 7, 1000] {
        let mut v = Mp3Validator::new();
        let failed = bad.chunks(chunk).any(|piece| v.feed(piece).is_err());
        assert!(failed, "chunk size {chunk}");
        // Failure is sticky.
        assert_eq!(v.feed(&[0xFF]), Err(Mp3Error::AlreadyFailed));
    }
}

#[test]
fn memory_stays_below_one_frame() {
    // The biggest frames there are, fed in large chunks.
    let biggest = [0xFF, 0xFB, 0xEA, 0xC4];
    let file = frames(biggest, 3000);
    let mut v = Mp3Validator::new();
    for piece in file.chunks(64 * 1024) {
        v.feed(piece).unwrap();
        assert!(v.buffered_capacity() <= MAX_FRAME_LEN);
    }
    assert_eq!(v.finish().unwrap().frames, 3000);
}

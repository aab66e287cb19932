//! Property tests of the frame walker: arbitrary bytes never make it panic,
//! and a generated stream of valid frames validates with the right frame
//! count, duration and bitrate however it is cut into chunks.

use std::time::Duration;

use proptest::prelude::*;

use super::{MIN_FRAMES, Mp3Validator, MpegVersion, analyze, header::FrameHeader};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(128)
}

/// One stream's fixed traits: version bits (MPEG-1, 2, 2.5), sample-rate
/// index, channel mode (3 is mono).
fn stream() -> impl Strategy<Value = (u8, u8, u8)> {
    (
        prop::sample::select(vec![0b11u8, 0b10, 0b00]),
        0u8..3,
        0u8..4,
    )
}

/// The header of one frame of that stream: bitrate index 1–14, padding.
fn header((version, rate, mode): (u8, u8, u8), bitrate: u8, padding: bool) -> [u8; 4] {
    [
        0xFF,
        // Sync, version, Layer III, no CRC.
        0xE0 | version << 3 | 0b01 << 1 | 1,
        bitrate << 4 | rate << 2 | u8::from(padding) << 1,
        mode << 6,
    ]
}

fn frame(bytes: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; FrameHeader::parse(bytes).unwrap().frame_len()];
    f[..4].copy_from_slice(&bytes);
    f
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        chunk in 1usize..700,
    ) {
        let mut v = Mp3Validator::new();
        if bytes.chunks(chunk).all(|piece| v.feed(piece).is_ok()) {
            let _ = v.finish();
        }
    }

    #[test]
    fn sync_words_among_noise_never_panic(
        mut bytes in prop::collection::vec(any::<u8>(), 4..4096),
        syncs in prop::collection::vec(any::<prop::sample::Index>(), 0..32),
    ) {
        // Frame syncs make the walker read headers and chain frames.
        for at in syncs {
            let i = at.index(bytes.len() - 1);
            bytes[i] = 0xFF;
            bytes[i + 1] |= 0xE0;
        }
        let _ = analyze(&bytes);
    }

    #[test]
    fn valid_frames_validate_with_their_count_and_duration(
        traits in stream(),
        frames in prop::collection::vec((1u8..15, any::<bool>()), MIN_FRAMES as usize..60),
        chunk in 1usize..2000,
    ) {
        let file: Vec<u8> = frames
            .iter()
            .flat_map(|&(bitrate, padding)| frame(header(traits, bitrate, padding)))
            .collect();
        let first = FrameHeader::parse(header(traits, frames[0].0, false)).unwrap();
        let info = analyze(&file).unwrap();

        let n = frames.len() as u64;
        prop_assert_eq!(info.frames, n);
        let samples = u64::from(first.samples());
        prop_assert_eq!(samples, if info.version == MpegVersion::Mpeg1 { 1152 } else { 576 });
        prop_assert_eq!(info.sample_rate_hz, first.sample_rate_hz);
        prop_assert_eq!(info.channels, if traits.2 == 3 { 1 } else { 2 });
        let nanos = u128::from(n * samples) * 1_000_000_000 / u128::from(first.sample_rate_hz);
        prop_assert_eq!(info.duration, Duration::from_nanos(nanos as u64));
        let constant = frames.iter().all(|&(b, _)| b == frames[0].0);
        prop_assert_eq!(info.variable_bitrate, !constant);
        if constant {
            prop_assert_eq!(info.bitrate_kbps, first.bitrate_kbps);
        }

        // Chunking never changes the outcome.
        let mut v = Mp3Validator::new();
        for piece in file.chunks(chunk) {
            v.feed(piece).unwrap();
        }
        prop_assert_eq!(v.finish().unwrap(), info);

        // Cut inside the last frame: truncated, never valid.
        prop_assert!(analyze(&file[..file.len() - 1]).is_err());
    }
}

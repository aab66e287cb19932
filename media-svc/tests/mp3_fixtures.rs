//! The validator on real encoder output. Reference durations were measured
//! once with `ffprobe -show_entries format=duration` and frame counts with
//! `ffprobe -count_packets` (ffmpeg 5.1); ffprobe is not needed to run this.

#![allow(unused_crate_dependencies)]

use std::time::Duration;

use media_svc::mp3::{Mp3Error, Mp3Validator, MpegVersion, VbrHeaderKind, analyze};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Reference {
    file: &'static str,
    version: MpegVersion,
    sample_rate_hz: u32,
    /// Frames counted by `ffprobe -count_packets`.
    frames: u64,
    /// `ffprobe` format duration in seconds.
    ffprobe_secs: f64,
    vbr_header: Option<VbrHeaderKind>,
    variable_bitrate: bool,
    bitrate_kbps: u32,
}

const REFERENCES: &[Reference] = &[
    Reference {
        file: "cbr128-44k.mp3",
        version: MpegVersion::Mpeg1,
        sample_rate_hz: 44_100,
        frames: 339,
        ffprobe_secs: 8.855510,
        vbr_header: Some(VbrHeaderKind::Info),
        variable_bitrate: false,
        bitrate_kbps: 128,
    },
    Reference {
        file: "tel-8k-cbr16-mono.mp3",
        version: MpegVersion::Mpeg25,
        sample_rate_hz: 8_000,
        frames: 125,
        ffprobe_secs: 9.0,
        vbr_header: None,
        variable_bitrate: false,
        bitrate_kbps: 16,
    },
    Reference {
        file: "tel-8k-cbr32-mono.mp3",
        version: MpegVersion::Mpeg25,
        sample_rate_hz: 8_000,
        frames: 92,
        ffprobe_secs: 6.624,
        vbr_header: Some(VbrHeaderKind::Info),
        variable_bitrate: false,
        bitrate_kbps: 32,
    },
    // lame -b 24 --resample 22.05 --id3v1-only: MPEG-2 CBR, ID3v1 at the end.
    // ffprobe estimates this one from the bitrate (tag bytes included).
    Reference {
        file: "cbr24-mpeg2-22k-id3v1.mp3",
        version: MpegVersion::Mpeg2,
        sample_rate_hz: 22_050,
        frames: 340,
        ffprobe_secs: 8.924333,
        vbr_header: None,
        variable_bitrate: false,
        bitrate_kbps: 24,
    },
    // lame -V 6 --resample 32: MPEG-1 VBR with a Xing header.
    Reference {
        file: "vbr-mpeg1-32k.mp3",
        version: MpegVersion::Mpeg1,
        sample_rate_hz: 32_000,
        frames: 246,
        ffprobe_secs: 8.856,
        vbr_header: Some(VbrHeaderKind::Xing),
        variable_bitrate: true,
        bitrate_kbps: 60,
    },
    // lame -V 7 --resample 16 --add-id3v2: MPEG-2 VBR, Xing, ID3v2 + ID3v1.
    Reference {
        file: "vbr-mpeg2-16k-id3.mp3",
        version: MpegVersion::Mpeg2,
        sample_rate_hz: 16_000,
        frames: 247,
        ffprobe_secs: 8.892,
        vbr_header: Some(VbrHeaderKind::Xing),
        variable_bitrate: true,
        bitrate_kbps: 38,
    },
];

#[test]
fn durations_agree_with_ffprobe() {
    for r in REFERENCES {
        let info = analyze(&fixture(r.file)).unwrap_or_else(|e| panic!("{}: {e}", r.file));
        let ours = info.duration.as_secs_f64();
        assert!(
            (ours - r.ffprobe_secs).abs() < 0.1,
            "{}: {ours} s vs ffprobe {} s",
            r.file,
            r.ffprobe_secs
        );
        assert_eq!(info.frames, r.frames, "{}", r.file);
        assert_eq!(info.version, r.version, "{}", r.file);
        assert_eq!(info.sample_rate_hz, r.sample_rate_hz, "{}", r.file);
        assert_eq!(info.channels, 1, "{}", r.file);
        assert_eq!(info.vbr_header, r.vbr_header, "{}", r.file);
        assert_eq!(info.variable_bitrate, r.variable_bitrate, "{}", r.file);
        assert_eq!(info.bitrate_kbps, r.bitrate_kbps, "{}", r.file);
    }
}

#[test]
fn vbr_without_a_header_counts_every_frame() {
    // lame -V 5 -t: no Xing frame, so ffprobe only estimates (8.25 s); decoding
    // the file gives 370 frames of 576 samples at 24 kHz = 8.88 s.
    let info = analyze(&fixture("vbr-noxing-mpeg2-24k.mp3")).unwrap();
    assert_eq!(info.vbr_header, None);
    assert!(info.variable_bitrate);
    assert_eq!(info.frames, 370);
    assert_eq!(info.duration, Duration::from_millis(8880));
}

#[test]
fn fed_in_uneven_chunks_the_result_is_the_same() {
    for r in REFERENCES {
        let bytes = fixture(r.file);
        let whole = analyze(&bytes).unwrap();
        for chunk in [1usize, 13, 1000, 65_536] {
            let mut v = Mp3Validator::new();
            for piece in bytes.chunks(chunk) {
                v.feed(piece).unwrap();
            }
            assert_eq!(
                v.finish().unwrap(),
                whole,
                "{} in {chunk}-byte chunks",
                r.file
            );
        }
    }
}

#[test]
fn other_audio_formats_are_rejected() {
    for (file, expect) in [
        ("tiny-8k.wav", "WAV"),
        ("mp3-in-wav.wav", "WAV"),
        ("tiny-8k.flac", "FLAC"),
    ] {
        match analyze(&fixture(file)) {
            Err(Mp3Error::NotMpegAudio { offset: 0, found }) => {
                assert!(found.contains(expect), "{file}: {found}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    // MPEG-1 Layer II (.mp2) has the same sync word but is not an MP3.
    assert!(matches!(
        analyze(&fixture("layer2.mp2")),
        Err(Mp3Error::BadFrame { offset: 0, .. })
    ));
}

#[test]
fn a_cut_or_padded_file_is_rejected() {
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    assert!(matches!(
        analyze(&bytes[..bytes.len() - 50]),
        Err(Mp3Error::Truncated { .. })
    ));
    let mut padded = bytes.clone();
    padded.extend([0u8; 10]);
    assert!(matches!(
        analyze(&padded),
        Err(Mp3Error::BrokenChain { offset: 18_000, .. })
    ));
    // Two files glued together with different sample rates.
    let mut glued = bytes;
    glued.extend(fixture("cbr128-44k.mp3"));
    assert!(matches!(analyze(&glued), Err(Mp3Error::BrokenChain { .. })));
}

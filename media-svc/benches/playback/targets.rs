//! The servers under load: the request path of every recording on each
//! (signed playback URLs for media-svc, plain files for nginx, object keys
//! for the direct S3 GET), and a check that each returns the right bytes.

use std::{path::Path, sync::Arc};

use media_svc::PlaybackToken;

use crate::{TENANT, client::Player, load::Target, setup::Recording};

/// Fetches a few recordings whole and in part from `target` and compares
/// them with the files on disk: a fast wrong answer must not be measured.
pub(crate) async fn verify(
    target: &Target,
    recordings: &[Recording],
    nginx_dir: &Path,
    range: u64,
) {
    let mut connection = Player::new(target.addr, target.redirects_to);
    for (i, r) in recordings.iter().enumerate().take(3) {
        let want = std::fs::read(nginx_dir.join(format!("{}.mp3", r.id))).expect("data file");
        let whole = connection
            .get(&target.paths[i], None, true)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        assert_eq!(whole.status, 200, "{}: whole status", target.name);
        assert!(
            whole.body.as_deref() == Some(&want[..]),
            "{}: whole body differs",
            target.name
        );
        let first = r.size / 2;
        let last = first + range - 1;
        let part = connection
            .get(&target.paths[i], Some((first, last)), true)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        assert_eq!(part.status, 206, "{}: range status", target.name);
        assert!(
            part.body.as_deref() == Some(&want[first as usize..=last as usize]),
            "{}: range body differs",
            target.name
        );
    }
}

pub(crate) fn media_paths(recordings: &[Recording], key: &[u8]) -> Arc<Vec<String>> {
    let expires_at = chrono::Utc::now() + chrono::Duration::hours(6);
    Arc::new(
        recordings
            .iter()
            .map(|r| {
                let token = PlaybackToken {
                    tenant: TENANT.into(),
                    recording_id: r.id.clone(),
                    user_id: "bench".into(),
                    expires_at,
                    renewable_until: None,
                }
                .sign(key);
                format!("/media/{}?token={token}", r.id)
            })
            .collect(),
    )
}

/// The key media-svc's S3 store keeps a recording under, as a path-style URL.
pub(crate) fn s3_paths(recordings: &[Recording], bucket: &str) -> Arc<Vec<String>> {
    Arc::new(
        recordings
            .iter()
            .map(|r| format!("/{bucket}/tenants/{TENANT}/recordings/{}.mp3", r.id))
            .collect(),
    )
}

/// The files of nginx's document root.
pub(crate) fn nginx_paths(recordings: &[Recording]) -> Arc<Vec<String>> {
    Arc::new(
        recordings
            .iter()
            .map(|r| format!("/media/{}.mp3", r.id))
            .collect(),
    )
}

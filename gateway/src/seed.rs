//! Seeds the demo tenant through the services' own gRPC APIs (users in
//! authz-svc, calls in archive-svc, MP3 files in media-svc), exactly as the
//! recording platform and an admin would. Every step is idempotent: a second
//! start finds the users, sessions and files already there and changes nothing.

use archive_common::{
    convert::timestamp, identity::PlatformCredential, telemetry::client::TracedChannel,
};
use archive_proto::v1::{
    self as pb, call_event::Kind, call_service_client::CallServiceClient,
    media_service_client::MediaServiceClient,
};
use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Oslo;
use tonic::Code;

use crate::{
    Error,
    demo::{self, CLIPS, TENANT},
    upstream::{ARCHIVE, AUTHZ, Upstreams},
};

/// The recording platform's way in: its credential and the gRPC services it
/// calls (it is no user the gateway vouches for).
pub(crate) struct Platform {
    pub credential: PlatformCredential,
    pub archive: CallServiceClient<TracedChannel>,
    pub media: MediaServiceClient<TracedChannel>,
}

/// How many generated calls fill the last weeks (for paging and filters).
const GENERATED_CALLS: u32 = 120;

fn oslo(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Oslo.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc)
}

fn event(at: DateTime<Utc>, kind: Kind) -> pb::CallEvent {
    pb::CallEvent {
        time: Some(timestamp(at)),
        kind: Some(kind),
    }
}

/// One conversation leg: who answered, after how long, for how long.
struct Leg {
    agent: &'static str,
    agent_forced: bool,
    after_s: i64,
    talk_s: i64,
    manual: bool,
}

/// `session`, started at `start`: `caller` on access point `ap` waits in
/// `queue` (which may force recording; empty: the call reaches an agent
/// directly), then talks in `legs`.
fn queued_call(
    (session, start): (&str, DateTime<Utc>),
    (ap, caller, queue, queue_forced): ((&str, &str), &str, &str, bool),
    legs: &[Leg],
) -> pb::IngestCallRequest {
    let mut events = Vec::new();
    if !queue.is_empty() {
        let entered = pb::QueueEntered {
            queue: queue.into(),
            forced_recording: queue_forced,
            pending_recording: false,
        };
        events.push(event(start, Kind::QueueEntered(entered)));
    }
    let mut t = start;
    for leg in legs {
        t += Duration::seconds(leg.after_s);
        events.push(event(
            t,
            Kind::AgentConnected(pb::AgentConnected {
                agent: leg.agent.into(),
                forced_recording: leg.agent_forced,
            }),
        ));
        if leg.manual {
            events.push(event(
                t,
                Kind::ManualRecordingStarted(pb::ManualRecordingStarted {
                    agent: leg.agent.into(),
                }),
            ));
        }
        t += Duration::seconds(leg.talk_s);
        events.push(event(
            t,
            Kind::AgentDisconnected(pb::AgentDisconnected {
                agent: leg.agent.into(),
            }),
        ));
    }
    events.push(event(t, Kind::CallEnded(pb::CallEnded {})));
    pb::IngestCallRequest {
        session_id: session.into(),
        start_time: Some(timestamp(start)),
        access_point: Some(pb::AccessPoint {
            number: ap.0.into(),
            name: ap.1.into(),
        }),
        caller_number: caller.into(),
        initiating_agent: String::new(),
        initiating_agent_forced_recording: false,
        events,
    }
}

const MAIN: (&str, &str) = ("81511569", "Main Demo Number");
const MOBILE: (&str, &str) = ("95510009", "Mobile number to Demo");

fn leg(agent: &'static str, after_s: i64, talk_s: i64) -> Leg {
    Leg {
        agent,
        agent_forced: false,
        after_s,
        talk_s,
        manual: false,
    }
}

/// The calls of the seed's tables, plus a transfer, two calls whose files
/// never arrived and an agent-to-agent call.
fn seed_rows() -> Vec<pb::IngestCallRequest> {
    vec![
        queued_call(
            ("seed-20210208-1209", oslo(2021, 2, 8, 12, 9, 0)),
            (MAIN, "957211", "Sales", true),
            &[leg("Andreas Wallin", 18, 41)],
        ),
        queued_call(
            ("seed-20210209-1225", oslo(2021, 2, 9, 12, 25, 55)),
            (MAIN, "957211", "Sales", true),
            &[leg("Andreas Wallin", 20, 44)],
        ),
        queued_call(
            ("seed-20231121-1001", oslo(2023, 11, 21, 10, 1, 0)),
            (MOBILE, "4790011223", "Sales", false),
            &[Leg {
                manual: true,
                ..leg("paal-agent", 0, 109)
            }],
        ),
        queued_call(
            ("seed-20231123-0846", oslo(2023, 11, 23, 8, 46, 8)),
            (MAIN, "95214830", "Sales", true),
            &[leg("Andreas Wallin", 7, 157)],
        ),
        queued_call(
            ("seed-20221115-1100", oslo(2022, 11, 15, 11, 0, 0)),
            (MAIN, "98214836", "Sales", true),
            &[leg("paal-agent", 8, 122)],
        ),
        queued_call(
            ("seed-20221115-1107", oslo(2022, 11, 15, 11, 7, 0)),
            (MAIN, "98214836", "Sales", true),
            // Back in the queue for 17 s between two conversations: the
            // help page's Recording Time 1:14 (first to last recorded
            // second) against Speak Time 0:57.
            &[leg("paal-agent", 6, 30), leg("paal-agent", 17, 27)],
        ),
        queued_call(
            ("seed-transfer-20231124-0930", oslo(2023, 11, 24, 9, 30, 0)),
            (MAIN, "95214830", "Sales", true),
            &[leg("Andreas Wallin", 12, 60), leg("paal-agent", 5, 80)],
        ),
        // The recording platform ingested these, but their uploads never
        // arrived: the Archive shows "Recording not available yet".
        queued_call(
            (NEVER_UPLOADED[0], oslo(2023, 11, 27, 14, 12, 0)),
            (MAIN, "4791122334", "Support", true),
            &[leg("Ola Hansen", 9, 95)],
        ),
        queued_call(
            (NEVER_UPLOADED[1], oslo(2023, 11, 27, 14, 40, 0)),
            (MOBILE, "4791122335", "Billing", true),
            &[leg("Ola Hansen", 14, 63)],
        ),
        // An agent-to-agent call (Andreas Wallin's recording is forced).
        pb::IngestCallRequest {
            initiating_agent: "Andreas Wallin".into(),
            initiating_agent_forced_recording: true,
            ..queued_call(
                ("seed-a2a-20231124-1015", oslo(2023, 11, 24, 10, 15, 0)),
                (("1001", "Andreas Wallin (internal)"), "1001", "", false),
                &[leg("paal-agent", 4, 66)],
            )
        },
    ]
}

/// Seed sessions whose files are never uploaded (their rows say so).
const NEVER_UPLOADED: [&str; 2] = ["seed-noupload-20231127-1412", "seed-noupload-20231127-1440"];

/// The seed session whose recording the admin deletes, so its row shows the deletion text.
const DELETED_SESSION: &str = "seed-20221115-1107";

/// Deterministic calls spread over the 30 days before `now`.
fn generated(now: DateTime<Utc>) -> Vec<pb::IngestCallRequest> {
    const AGENTS: [&str; 4] = [
        "Andreas Wallin",
        "paal-agent",
        "Kari Nordmann",
        "Ola Hansen",
    ];
    const QUEUES: [&str; 3] = ["Sales", "Support", "Billing"];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let base = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .unwrap_or(now)
        - Duration::days(30);
    (0..GENERATED_CALLS)
        .map(|i| {
            let start = base
                + Duration::minutes(
                    (i as i64) * 30 * 24 * 60 / GENERATED_CALLS as i64 + next(50) as i64,
                );
            let agent = AGENTS[next(4) as usize];
            let queue = QUEUES[next(3) as usize];
            let forced = next(10) < 7;
            let caller = format!("9{:07}", 1_000_000 + next(40) * 1311);
            let ap = if next(5) == 0 { MOBILE } else { MAIN };
            let legs = if next(12) == 0 {
                vec![]
            } else {
                vec![leg(agent, 3 + next(40) as i64, 20 + next(400) as i64)]
            };
            let session = format!("demo-{i:04}");
            queued_call((&session, start), (ap, &caller, queue, forced), &legs)
        })
        .collect()
}

/// Seeds the demo tenant. Safe to run again.
pub(crate) async fn run(
    upstreams: &Upstreams,
    platform: &Platform,
    now: DateTime<Utc>,
) -> Result<SeedReport, Error> {
    let admin = demo::user(demo::ADMIN)
        .expect("admin is a demo user")
        .principal();
    let mut report = SeedReport::default();
    let caller = Upstreams::caller(&admin);

    for user in demo::users() {
        let request = pb::CreateUserRequest {
            context: None,
            user: Some(user.user()),
        };
        let answer = upstreams.authz.create_user(&caller, request);
        match upstreams.call(&AUTHZ, "CreateUser", answer).await {
            Ok(_) => report.users_created += 1,
            Err(Error::Upstream { status, .. }) if status.code() == Code::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }

    // The demo tenant's reason codes, once (a second start changes nothing,
    // so the audit trail records one settings change).
    let answer = (upstreams.archive).get_tenant_settings(&caller, pb::GetTenantSettingsRequest {});
    let settings = upstreams
        .call(&ARCHIVE, "GetTenantSettings", answer)
        .await?;
    if settings.reason_codes.is_empty() {
        let request = pb::UpdateTenantSettingsRequest {
            settings: Some(pb::TenantSettings {
                reason_codes: demo::reason_codes(),
                ..settings
            }),
            context: Some(pb::ActionContext {
                reason: "demo tenant set up".into(),
                ..Default::default()
            }),
        };
        let answer = upstreams.archive.update_tenant_settings(&caller, request);
        upstreams
            .call(&ARCHIVE, "UpdateTenantSettings", answer)
            .await?;
    }

    let mut deleted = Vec::new();
    for (i, call) in seed_rows().into_iter().chain(generated(now)).enumerate() {
        let session = call.session_id.clone();
        let response = platform
            .archive
            .clone()
            .ingest_call(platform.credential.request(call, TENANT))
            .await
            .map_err(Error::upstream("archive-svc"))?
            .into_inner();
        report.calls_created += u32::from(response.created);
        let recordings = response.call.map(|c| c.recordings).unwrap_or_default();
        for (j, recording) in recordings.into_iter().enumerate() {
            if recording.state == pb::RecordingState::Deleted as i32
                || NEVER_UPLOADED.contains(&session.as_str())
            {
                continue;
            }
            let clip = CLIPS[(i + j) % CLIPS.len()];
            report.files_uploaded +=
                u32::from(upload(platform, &recording.recording_id, clip).await?);
            if session == DELETED_SESSION {
                deleted.push(recording.recording_id);
            }
        }
    }

    if !deleted.is_empty() {
        let request = pb::MarkRecordingsDeletedRequest {
            recording_ids: deleted.clone(),
            context: Some(pb::ActionContext {
                reason: "demo: a deleted recording, as on the help page".into(),
                ..Default::default()
            }),
        };
        let answer = upstreams.archive.mark_recordings_deleted(&caller, request);
        upstreams
            .call(&ARCHIVE, "MarkRecordingsDeleted", answer)
            .await?;
        // archive-svc's deletion outbox deletes the files (only it may).
    }
    Ok(report)
}

/// Uploads one file; false when the same bytes were there already.
async fn upload(
    platform: &Platform,
    recording_id: &str,
    bytes: &'static [u8],
) -> Result<bool, Error> {
    let messages = pb::UploadRecordingRequest::stream_of(recording_id, bytes, 64 * 1024);
    let response = platform
        .media
        .clone()
        .upload_recording(
            platform
                .credential
                .request(tokio_stream::iter(messages), TENANT),
        )
        .await
        .map_err(Error::upstream("media-svc"))?;
    Ok(response.into_inner().created)
}

/// What a seeding run created.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeedReport {
    pub users_created: u32,
    pub calls_created: u32,
    pub files_uploaded: u32,
}

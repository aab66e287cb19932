//! The demo tenant of embedded mode: customer 10009 with the seed's access
//! point, queue, agents and users, and calls shaped like the seed's rows.

use archive_common::Principal;
use archive_proto::v1 as pb;

pub const TENANT: &str = "10009";

/// A demo user and what they may do.
pub struct DemoUser {
    pub user_id: &'static str,
    pub display_name: &'static str,
    pub agent_name: &'static str,
    pub role: &'static str,
    pub permissions: pb::Permissions,
}

impl DemoUser {
    pub fn principal(&self) -> Principal {
        Principal::new(TENANT, self.user_id, self.display_name)
    }
}

pub const ADMIN: &str = "paal";

/// The demo tenant's reason codes: what a user who must give a reason picks from.
pub fn reason_codes() -> Vec<pb::ReasonCode> {
    [
        ("QA", "Quality review"),
        ("COMPLAINT", "Customer complaint"),
        ("LEGAL", "Legal or regulatory request"),
        ("TRAINING", "Agent training"),
    ]
    .into_iter()
    .map(|(code, label)| pb::ReasonCode {
        code: code.into(),
        label: label.into(),
    })
    .collect()
}

pub fn users() -> Vec<DemoUser> {
    let all = pb::Permissions {
        play_recordings: true,
        download_recordings: true,
        delete_recordings: true,
        require_reason: false,
        view_audit_log: true,
        admin: true,
    };
    vec![
        DemoUser {
            user_id: ADMIN,
            display_name: "Paal Admin",
            agent_name: "",
            role: "admin: every permission",
            permissions: all,
        },
        DemoUser {
            user_id: "sara",
            display_name: "Sara Supervisor",
            agent_name: "",
            role: "supervisor: play, download, audit log",
            permissions: pb::Permissions {
                delete_recordings: false,
                admin: false,
                ..all
            },
        },
        DemoUser {
            user_id: "andreas",
            display_name: "Andreas Wallin",
            agent_name: "Andreas Wallin",
            role: "agent: plays own recordings (My call recordings)",
            permissions: pb::Permissions {
                play_recordings: true,
                ..Default::default()
            },
        },
        DemoUser {
            user_id: "rita",
            display_name: "Rita Reason",
            agent_name: "",
            role: "must give a reason to play, download or delete",
            permissions: pb::Permissions {
                require_reason: true,
                admin: false,
                view_audit_log: false,
                ..all
            },
        },
        DemoUser {
            user_id: "nils",
            display_name: "Nils Noplay",
            agent_name: "",
            role: "may search but not play (Play shown disabled)",
            permissions: pb::Permissions::default(),
        },
    ]
}

pub fn user(user_id: &str) -> Option<DemoUser> {
    users().into_iter().find(|u| u.user_id == user_id)
}

/// The MP3 clips demo recordings are made of.
pub const CLIPS: [&[u8]; 3] = [
    include_bytes!("../demo/tel-8k-cbr16-mono.mp3"),
    include_bytes!("../demo/tel-8k-cbr32-mono.mp3"),
    include_bytes!("../demo/cbr128-44k.mp3"),
];

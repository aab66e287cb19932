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
    /// What the user may do, in words (the sign-in card, the README).
    pub role: &'static str,
    /// Granted directly.
    pub permissions: pb::Permissions,
    /// Where the direct grants reach (unset: every call).
    pub scopes: Option<pb::Scopes>,
    /// Roles held (built-in ones).
    pub roles: &'static [&'static str],
}

impl DemoUser {
    /// The user as authz-svc's CreateUser takes it.
    pub fn user(&self) -> pb::User {
        pb::User {
            user_id: self.user_id.into(),
            display_name: self.display_name.into(),
            agent_name: self.agent_name.into(),
            permissions: Some(self.permissions),
            scopes: self.scopes.clone(),
            roles: self.roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// The queue the demo's queue-scoped supervisor sees.
pub const SALES: &str = "Sales";

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
    let sales = pb::Scope {
        queues: vec![SALES.into()],
        ..Default::default()
    };
    vec![
        DemoUser {
            user_id: ADMIN,
            display_name: "Paal Admin",
            agent_name: "",
            role: "admin: every right over every call, manages users",
            permissions: all,
            scopes: None,
            roles: &["admin"],
        },
        DemoUser {
            user_id: "sara",
            display_name: "Sara Supervisor",
            agent_name: "",
            role: "supervisor: plays and downloads every call, reads the audit log",
            permissions: pb::Permissions::default(),
            scopes: None,
            roles: &["supervisor"],
        },
        DemoUser {
            user_id: "siri",
            display_name: "Siri Sales",
            agent_name: "",
            role: "supervisor of the Sales queue: searches, plays and downloads its calls only",
            permissions: pb::Permissions {
                play_recordings: true,
                download_recordings: true,
                ..Default::default()
            },
            scopes: Some(pb::Scopes {
                search: Some(sales.clone()),
                play: Some(sales.clone()),
                download: Some(sales),
                ..Default::default()
            }),
            roles: &[],
        },
        DemoUser {
            user_id: "andreas",
            display_name: "Andreas Wallin",
            agent_name: "Andreas Wallin",
            role: "agent: searches and plays only the calls he took part in (My call recordings)",
            permissions: pb::Permissions::default(),
            scopes: None,
            roles: &["agent"],
        },
        DemoUser {
            user_id: "paal-agent",
            display_name: "paal-agent",
            agent_name: "paal-agent",
            role: "agent: his own calls, not Andreas Wallin's agent-to-agent recording",
            permissions: pb::Permissions::default(),
            scopes: None,
            roles: &["agent"],
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
            scopes: None,
            roles: &[],
        },
        DemoUser {
            user_id: "nils",
            display_name: "Nils Noplay",
            agent_name: "",
            role: "may search but not play (Play shown disabled)",
            permissions: pb::Permissions::default(),
            scopes: None,
            roles: &[],
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

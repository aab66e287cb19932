//! Scoped access and roles over gRPC: decisions judged on the resource's
//! queues, agents and access point; roles united with a user's own grants;
//! role management for admins only, each change checked and audited.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod common;

use archive_common::{Principal, error::violated_field};
use archive_proto::v1::{self as pb, Action, Verdict};
use authz_svc::Config;
use common::{Api, client, identity, key, paal, start};
use tonic::Code;

fn config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        identity("authz-svc"),
    );
    config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    config
}

fn queues(names: &[&str]) -> pb::Scope {
    pb::Scope {
        queues: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

fn call(queue: &str, agent: &str, owner: &str) -> pb::ResourceAttributes {
    pb::ResourceAttributes {
        recording_id: "rec".into(),
        queues: vec![queue.into()],
        agents: vec![agent.into()],
        owner_agent: owner.into(),
        access_point_number: "81511569".into(),
        ..Default::default()
    }
}

async fn batch(
    c: &Api,
    as_: &Principal,
    asks: &[(Action, Option<pb::ResourceAttributes>)],
) -> Vec<pb::Decision> {
    let requests = asks
        .iter()
        .map(|(a, r)| pb::DecideRequest {
            action: *a as i32,
            resource: r.clone(),
        })
        .collect();
    let request = key().request(pb::BatchDecideRequest { requests }, as_);
    c.0.clone()
        .batch_decide(request)
        .await
        .unwrap()
        .into_inner()
        .decisions
}

fn verdicts(d: &[pb::Decision]) -> Vec<Verdict> {
    d.iter()
        .map(|d| Verdict::try_from(d.verdict).unwrap())
        .collect()
}

fn sales_supervisor() -> pb::User {
    pb::User {
        user_id: "siri".into(),
        display_name: "Siri Sales".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            download_recordings: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            search: Some(queues(&["Sales"])),
            play: Some(queues(&["Sales"])),
            download: Some(queues(&["Sales"])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_queue_scoped_supervisor_is_decided_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    let created = c.create(&paal(), sales_supervisor(), None).await.unwrap();
    let effective = created.effective_scopes.unwrap();
    assert_eq!(effective.play, Some(queues(&["Sales"])));
    assert_eq!(effective.delete, None, "not granted");
    let siri = Principal::new("10009", "siri", "Siri Sales");
    let d = batch(
        &c,
        &siri,
        &[
            (Action::Search, None),
            (Action::Play, Some(call("Sales", "Kari", ""))),
            (Action::Play, Some(call("Support", "Kari", ""))),
            (Action::Download, Some(call("Sales", "Kari", ""))),
            (Action::Delete, Some(call("Sales", "Kari", ""))),
            (Action::Search, Some(call("Support", "Kari", ""))),
        ],
    )
    .await;
    use Verdict::{Allow, Deny};
    assert_eq!(verdicts(&d), [Allow, Allow, Deny, Allow, Deny, Deny]);
    assert_eq!(d[0].scope, Some(queues(&["Sales"])), "where search reaches");
    assert!(d[2].out_of_scope && d[5].out_of_scope);
    assert!(!d[4].out_of_scope, "delete is not granted at all");
}

#[tokio::test]
async fn roles_unite_with_own_grants_and_only_admins_manage_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    // An agent-role user needs an agent name.
    let mut andreas = pb::User {
        user_id: "andreas".into(),
        display_name: "Andreas Wallin".into(),
        roles: vec!["agent".into()],
        ..Default::default()
    };
    let refused = c.create(&paal(), andreas.clone(), None).await.unwrap_err();
    assert_eq!(violated_field(&refused).as_deref(), Some("user.agent_name"));
    andreas.agent_name = "Andreas Wallin".into();
    andreas.roles.push("nosuch".into());
    let refused = c.create(&paal(), andreas.clone(), None).await.unwrap_err();
    assert_eq!(violated_field(&refused).as_deref(), Some("user.roles[1]"));
    andreas.roles.pop();
    let created = c.create(&paal(), andreas.clone(), None).await.unwrap();
    assert!(created.effective_permissions.unwrap().play_recordings);

    let me = Principal::new("10009", "andreas", "Andreas Wallin");
    let d = batch(
        &c,
        &me,
        &[
            (Action::Play, Some(call("Sales", "Andreas Wallin", ""))),
            (Action::Play, Some(call("Sales", "Kari", ""))),
            // Agent-to-agent: the initiator's only.
            (Action::Play, Some(call("", "Andreas Wallin", "Kari"))),
            (Action::Play, Some(call("", "Kari", "Andreas Wallin"))),
            (Action::Download, Some(call("Sales", "Andreas Wallin", ""))),
        ],
    )
    .await;
    use Verdict::{Allow, Deny};
    assert_eq!(verdicts(&d), [Allow, Deny, Deny, Allow, Deny]);

    // A tenant role adds the Sales queue; the change reaches the cached
    // rights at once.
    let team = pb::Role {
        role_id: "sales-listeners".into(),
        display_name: "Sales listeners".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            play: Some(queues(&["Sales"])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let create_role = |role: pb::Role, as_: Principal| {
        let c = c.clone();
        async move {
            let request = key().request(
                pb::CreateRoleRequest {
                    role: Some(role),
                    context: None,
                },
                &as_,
            );
            c.0.clone()
                .create_role(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    let denied = create_role(team.clone(), me.clone()).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let built_in = pb::Role {
        role_id: "agent".into(),
        ..team.clone()
    };
    let refused = create_role(built_in, paal()).await.unwrap_err();
    assert_eq!(violated_field(&refused).as_deref(), Some("role.role_id"));
    let stored = create_role(team.clone(), paal()).await.unwrap();
    assert!(!stored.built_in);
    andreas.roles.push("sales-listeners".into());
    c.update(&paal(), andreas.clone(), None).await.unwrap();
    let d = batch(&c, &me, &[(Action::Play, Some(call("Sales", "Kari", "")))]).await;
    assert_eq!(verdicts(&d), [Allow]);

    // Listed after the built-in ones; removing it is refused while held.
    let request = key().request(pb::ListRolesRequest {}, &paal());
    let listed = c.0.clone().list_roles(request).await.unwrap().into_inner();
    let ids: Vec<_> = listed.roles.iter().map(|r| r.role_id.as_str()).collect();
    assert_eq!(
        ids,
        ["admin", "supervisor", "agent", "auditor", "sales-listeners"]
    );
    let delete = |id: &str| {
        key().request(
            pb::DeleteRoleRequest {
                role_id: id.into(),
                context: None,
            },
            &paal(),
        )
    };
    let request = delete("sales-listeners");
    let held = c.0.clone().delete_role(request).await.unwrap_err();
    assert_eq!(held.code(), Code::FailedPrecondition);
    assert!(held.message().contains("andreas"), "{}", held.message());
    let request = delete("admin");
    let built_in = c.0.clone().delete_role(request).await.unwrap_err();
    assert_eq!(violated_field(&built_in).as_deref(), Some("role_id"));
}

#[tokio::test]
async fn a_disabled_user_is_refused_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    let mut siri = c.create(&paal(), sales_supervisor(), None).await.unwrap();
    let as_siri = Principal::new("10009", "siri", "Siri Sales");
    let d = batch(&c, &as_siri, &[(Action::Search, None)]).await;
    assert_eq!(verdicts(&d), [Verdict::Allow]);
    siri.disabled = true;
    c.update(&paal(), siri, None).await.unwrap();
    let d = batch(&c, &as_siri, &[(Action::Search, None)]).await;
    assert_eq!(verdicts(&d), [Verdict::Deny]);
    assert_eq!(d[0].reason, "the user is disabled");
    let request = key().request(pb::GetMyPermissionsRequest {}, &as_siri);
    let refused = c.0.clone().get_my_permissions(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // An admin cannot disable themselves.
    let mut me = c.get(&paal(), "paal").await.unwrap();
    me.disabled = true;
    let refused = c.update(&paal(), me, None).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

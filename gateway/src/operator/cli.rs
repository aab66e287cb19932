//! `gateway tenant …` and `gateway user …`: the operator's commands, run
//! against a running suite's gateway over gRPC with the operator
//! credential. Embedded mode needs no flags: the gateway's address and the
//! credential are read from the data directory (`DATA_DIR/gateway.url`,
//! `DATA_DIR/operator.token`); split mode names them (`--gateway-url`,
//! `--operator-token` or `--operator-token-file`, or their environment
//! variables).

use std::path::{Path, PathBuf};

use archive_proto::v1::{self as pb, operator_service_client::OperatorServiceClient};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use super::{OperatorCredential, credential};

/// Where the embedded suite writes its gateway's gRPC URL.
pub const URL_FILE: &str = "gateway.url";

/// Which gateway, with which credential.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The gateway's gRPC URL (default: the running embedded suite's, read
    /// from DATA_DIR/gateway.url).
    #[arg(long, env = "ARCHIVE_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// The operator credential itself.
    #[arg(long, env = "ARCHIVE_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// A file holding the operator credential (default: DATA_DIR/operator.token).
    #[arg(long, env = "ARCHIVE_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum TenantCommand {
    /// Registers a tenant, active, with its first admin (every right).
    Add {
        /// The customer number (digits), e.g. 20002.
        tenant_id: String,
        #[arg(long)]
        name: String,
        /// The first admin: USER_ID:"Display Name".
        #[arg(long, value_name = "USER_ID:NAME")]
        admin: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// The tenants, with their state.
    List {
        /// Removed tenants too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Refuses the tenant's users everything (its data is untouched).
    Suspend {
        tenant_id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Serves a suspended tenant's users again.
    Resume {
        tenant_id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Marks a suspended tenant removed, for good (its data is kept).
    Remove {
        tenant_id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Adds a user to a tenant, as the operator.
    Add {
        #[arg(long)]
        tenant: String,
        /// USER_ID:"Display Name".
        #[arg(value_name = "USER_ID:NAME")]
        user: String,
        /// A role to give (repeatable): admin, supervisor, agent, auditor or the tenant's own.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The agent name the user's recordings are linked to.
        #[arg(long)]
        agent: Option<String>,
        #[command(flatten)]
        connection: Connection,
    },
    /// A tenant's users.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        connection: Connection,
    },
}

/// `USER_ID:Display Name` (the name may hold `:`).
fn id_and_name(value: &str, flag: &str) -> Result<(String, String), String> {
    match value.split_once(':') {
        Some((id, name)) if !id.is_empty() && !name.trim().is_empty() => {
            Ok((id.to_owned(), name.to_owned()))
        }
        _ => Err(format!(
            "{flag} must be USER_ID:\"Display Name\", not {value:?}"
        )),
    }
}

/// A connected client and the credential it sends.
struct Operator {
    client: OperatorServiceClient<Channel>,
    token: MetadataValue<tonic::metadata::Ascii>,
}

impl Operator {
    async fn connect(connection: &Connection, data_dir: &Path) -> Result<Self, String> {
        let url = match &connection.gateway_url {
            Some(url) => url.clone(),
            None => {
                let path = data_dir.join(URL_FILE);
                std::fs::read_to_string(&path)
                    .map(|u| u.trim().to_owned())
                    .map_err(|e| {
                        format!(
                            "{}: {e}: start the suite with this data directory, or pass --gateway-url",
                            path.display()
                        )
                    })?
            }
        };
        let credential = match (&connection.operator_token, &connection.operator_token_file) {
            (Some(token), _) => OperatorCredential::new(token),
            (None, Some(path)) => OperatorCredential::load(path)?,
            (None, None) => OperatorCredential::load(&data_dir.join(credential::FILE_NAME))
                .map_err(|e| format!("{e}: pass --operator-token or --operator-token-file"))?,
        };
        let token = credential.token().unwrap_or_default();
        let token = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| "the operator credential is not ASCII".to_owned())?;
        let channel = Channel::from_shared(url.clone())
            .map_err(|e| format!("{url}: {e}"))?
            .connect()
            .await
            .map_err(|e| format!("cannot reach the gateway at {url}: {e}"))?;
        Ok(Self {
            client: OperatorServiceClient::new(channel),
            token,
        })
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        request
    }
}

/// What a refused call prints: the code and the service's words.
fn failed(status: tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

fn context(reason: &str) -> Option<pb::ActionContext> {
    Some(pb::ActionContext {
        reason: reason.to_owned(),
        user_agent: "gateway-cli".to_owned(),
        ..Default::default()
    })
}

fn state(t: &pb::Tenant) -> String {
    pb::TenantState::try_from(t.state)
        .unwrap_or_default()
        .as_str_name()
        .trim_start_matches("TENANT_STATE_")
        .to_ascii_lowercase()
}

fn tenant_line(t: &pb::Tenant) -> String {
    format!("{}\t{}\t{}", t.tenant_id, state(t), t.display_name)
}

fn user_line(u: &pb::User) -> String {
    let rights = u
        .permissions
        .as_ref()
        .map(authz_svc::model::describe)
        .unwrap_or_else(|| "none".into());
    format!(
        "{}\t{}\troles: {}\tpermissions: {}",
        u.user_id,
        u.display_name,
        if u.roles.is_empty() {
            "-".to_owned()
        } else {
            u.roles.join(",")
        },
        rights
    )
}

/// Runs a `tenant` command; what it prints on success.
pub async fn tenant(command: TenantCommand, data_dir: &Path) -> Result<String, String> {
    match command {
        TenantCommand::Add {
            tenant_id,
            name,
            admin,
            connection,
        } => {
            let (user_id, display_name) = id_and_name(&admin, "--admin")?;
            let op = Operator::connect(&connection, data_dir).await?;
            let request = pb::CreateTenantRequest {
                tenant: Some(pb::Tenant {
                    tenant_id,
                    display_name: name,
                    ..Default::default()
                }),
                admin: Some(pb::User {
                    user_id: user_id.clone(),
                    display_name: display_name.clone(),
                    ..Default::default()
                }),
                context: context(""),
            };
            let t = op.client.clone().create_tenant(op.request(request)).await;
            let t = t.map_err(failed)?.into_inner();
            Ok(format!(
                "{}\nfirst admin: {user_id} ({display_name}), every right",
                tenant_line(&t)
            ))
        }
        TenantCommand::List { all, connection } => {
            let op = Operator::connect(&connection, data_dir).await?;
            let mut lines = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = pb::ListTenantsRequest {
                    page_size: 1000,
                    page_token,
                    show_removed: all,
                };
                let page = op.client.clone().list_tenants(op.request(request)).await;
                let page = page.map_err(failed)?.into_inner();
                lines.extend(page.tenants.iter().map(tenant_line));
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            Ok(lines.join("\n"))
        }
        TenantCommand::Suspend {
            tenant_id,
            reason,
            connection,
        } => {
            let op = Operator::connect(&connection, data_dir).await?;
            let request = pb::SuspendTenantRequest {
                tenant_id,
                context: context(&reason),
            };
            let t = op.client.clone().suspend_tenant(op.request(request)).await;
            Ok(tenant_line(&t.map_err(failed)?.into_inner()))
        }
        TenantCommand::Resume {
            tenant_id,
            reason,
            connection,
        } => {
            let op = Operator::connect(&connection, data_dir).await?;
            let request = pb::ResumeTenantRequest {
                tenant_id,
                context: context(&reason),
            };
            let t = op.client.clone().resume_tenant(op.request(request)).await;
            Ok(tenant_line(&t.map_err(failed)?.into_inner()))
        }
        TenantCommand::Remove {
            tenant_id,
            reason,
            connection,
        } => {
            let op = Operator::connect(&connection, data_dir).await?;
            let request = pb::RemoveTenantRequest {
                tenant_id,
                context: context(&reason),
            };
            let t = op.client.clone().remove_tenant(op.request(request)).await;
            Ok(tenant_line(&t.map_err(failed)?.into_inner()))
        }
    }
}

/// Runs a `user` command; what it prints on success.
pub async fn user(command: UserCommand, data_dir: &Path) -> Result<String, String> {
    match command {
        UserCommand::Add {
            tenant,
            user,
            roles,
            agent,
            connection,
        } => {
            let (user_id, display_name) = id_and_name(&user, "the user")?;
            let op = Operator::connect(&connection, data_dir).await?;
            let request = pb::CreateTenantUserRequest {
                tenant_id: tenant,
                user: Some(pb::User {
                    user_id,
                    display_name,
                    agent_name: agent.unwrap_or_default(),
                    roles,
                    ..Default::default()
                }),
                context: context(""),
            };
            let u = op
                .client
                .clone()
                .create_tenant_user(op.request(request))
                .await;
            Ok(user_line(&u.map_err(failed)?.into_inner()))
        }
        UserCommand::List { tenant, connection } => {
            let op = Operator::connect(&connection, data_dir).await?;
            let mut lines = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = pb::ListTenantUsersRequest {
                    tenant_id: tenant.clone(),
                    page_size: 1000,
                    page_token,
                };
                let page = op
                    .client
                    .clone()
                    .list_tenant_users(op.request(request))
                    .await;
                let page = page.map_err(failed)?.into_inner();
                lines.extend(page.users.iter().map(user_line));
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            Ok(lines.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_split_at_the_first_colon() {
        assert_eq!(
            id_and_name("boss:Boss Other", "--admin").unwrap(),
            ("boss".into(), "Boss Other".into())
        );
        assert_eq!(id_and_name("a:b: c", "x").unwrap().1, "b: c");
        for bad in ["boss", ":Boss", "boss: "] {
            assert!(id_and_name(bad, "--admin").unwrap_err().contains("--admin"));
        }
    }
}

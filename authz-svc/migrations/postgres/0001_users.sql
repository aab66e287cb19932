-- The users of each tenant and their Archive permissions.
-- user_id sorts bytewise ("C") so keyset pages match SQLite's order.
CREATE TABLE users (
    tenant              TEXT    NOT NULL,
    user_id             TEXT    COLLATE "C" NOT NULL,
    display_name        TEXT    NOT NULL,
    agent_name          TEXT    NOT NULL DEFAULT '',
    play_recordings     BOOLEAN NOT NULL,
    download_recordings BOOLEAN NOT NULL,
    delete_recordings   BOOLEAN NOT NULL,
    require_reason      BOOLEAN NOT NULL,
    view_audit_log      BOOLEAN NOT NULL,
    admin               BOOLEAN NOT NULL,
    -- microseconds since the Unix epoch
    create_time         BIGINT  NOT NULL,
    update_time         BIGINT  NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

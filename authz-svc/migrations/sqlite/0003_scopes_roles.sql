-- Scoped access and roles (issue 19): each user's scopes per right (an
-- encoded archive.v1.Scopes; empty: every right reaches every call, as
-- before), the roles they hold (",id,id," so one LIKE finds a role's
-- holders) and whether they are disabled; and the tenant's own roles.
ALTER TABLE users ADD COLUMN scopes   BLOB    NOT NULL DEFAULT X'';
ALTER TABLE users ADD COLUMN roles    TEXT    NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE roles (
    tenant       TEXT    NOT NULL,
    role_id      TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    -- encoded archive.v1.Permissions and archive.v1.Scopes
    permissions  BLOB    NOT NULL,
    scopes       BLOB    NOT NULL,
    -- microseconds since the Unix epoch
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    PRIMARY KEY (tenant, role_id)
);

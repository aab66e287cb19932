-- The registry of tenants ("customers"): which exist and whether their
-- users are served. Every tenant that already has users is registered,
-- active, as of its first user. tenant_id sorts bytewise ("C") so keyset
-- pages match SQLite's order.
CREATE TABLE tenants (
    tenant_id    TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    display_name TEXT   NOT NULL,
    -- 'active', 'suspended' or 'removed'
    state        TEXT   NOT NULL CHECK (state IN ('active', 'suspended', 'removed')),
    -- microseconds since the Unix epoch
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);

INSERT INTO tenants (tenant_id, display_name, state, create_time, update_time)
SELECT tenant, 'Customer ' || tenant, 'active', MIN(create_time), MIN(create_time)
FROM users GROUP BY tenant;

#!/bin/sh
# The first step of a service's migrate Job, as the database OWNER (the role
# `<service> migrate` connects as), before the migrations run: waits until the
# database accepts the owner's credentials, then fails with a sentence if the
# migrations or the grants could not succeed. Changes nothing.
#
#   SERVICE       archive-svc, authz-svc or audit-svc (for the messages)
#   DATABASE_URL  the owner's postgres:// URL (carries a password: never echoed)
#   RUNTIME_ROLE  the role `migrate --grant-to` grants; it must exist, log in,
#                 and be neither a superuser nor the owner (nor a member of it)
#   EXTENSIONS    extensions the migrations create (space-separated; optional)
set -eu
q() { psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# Role names are embedded in SQL below: the rule grant_runtime_role enforces.
case $RUNTIME_ROLE in
    '' | [0-9]* | *[!A-Za-z0-9_]*)
        echo "$SERVICE: RUNTIME_ROLE '$RUNTIME_ROLE' is not a role name (letters, digits, _)"; exit 1 ;;
esac

until q 'SELECT 1' >/dev/null 2>&1; do
    echo "$SERVICE: database not answering yet (or refusing the owner's credentials)"; sleep 5
done

applied=none
if [ "$(q "SELECT to_regclass('_sqlx_migrations') IS NOT NULL")" = t ]; then
    applied=$(q "SELECT coalesce(max(version)::text, 'none') || CASE WHEN coalesce(bool_and(success), true) THEN '' ELSE ' (a failed migration is recorded)' END FROM _sqlx_migrations")
fi
owner=$(q "SELECT current_user")
if [ "$(q "SELECT has_schema_privilege('public', 'CREATE')")" != t ]; then
    echo "$SERVICE: role $owner cannot CREATE in schema public, so migrations cannot run (make it the database's owner)"; exit 1
fi
for ext in ${EXTENSIONS:-}; do
    case $ext in *[!a-z0-9_]*) echo "$SERVICE: '$ext' is not an extension name"; exit 1 ;; esac
    if [ "$(q "SELECT count(*) FROM pg_available_extensions WHERE name = '$ext'")" != 1 ]; then
        echo "$SERVICE: extension $ext is not available on this server (the migrations create it)"; exit 1
    fi
done

runtime=$(q "SELECT CASE WHEN NOT rolcanlogin THEN 'cannot log in' WHEN rolsuper THEN 'is a superuser' WHEN rolname <> current_user AND pg_has_role(oid, current_user, 'MEMBER') THEN 'is a member of the owner role' ELSE 'ok' END FROM pg_roles WHERE rolname = '$RUNTIME_ROLE'")
if [ -z "$runtime" ]; then
    echo "$SERVICE: runtime role $RUNTIME_ROLE does not exist: create it (LOGIN) before migrating"; exit 1
elif [ "$RUNTIME_ROLE" = "$owner" ]; then
    echo "$SERVICE: the runtime role must not be the owner $owner (it would keep every right on the tables)"; exit 1
elif [ "$runtime" != ok ]; then
    echo "$SERVICE: runtime role $RUNTIME_ROLE $runtime"; exit 1
fi
echo "$SERVICE: database answers as $owner; last migration applied: $applied; runtime role $RUNTIME_ROLE ready"

#!/bin/sh
# The init container of a service's pods, as its RUNTIME role: waits until
# the migration this release needs is applied (by the service's migrate Job),
# so the service starts on a current schema instead of failing and being
# restarted with a growing back-off. Changes nothing.
#
#   SERVICE         archive-svc, authz-svc or audit-svc (for the messages)
#   DATABASE_URL    the runtime role's postgres:// URL (never echoed)
#   SCHEMA_VERSION  the newest migration of the service's image (k8s/validate.sh
#                   checks it against the crate's migrations/postgres)
set -eu
case $SCHEMA_VERSION in
    '' | *[!0-9]*) echo "$SERVICE: SCHEMA_VERSION '$SCHEMA_VERSION' is not a number"; exit 1 ;;
esac

while :; do
    # Fails (no table yet, no grant yet, no database) until the Job has run.
    if found=$(psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 \
            -c "SELECT count(*) FROM _sqlx_migrations WHERE version = $SCHEMA_VERSION AND success" 2>&1) \
        && [ "$found" = 1 ]; then
        echo "$SERVICE: migration $SCHEMA_VERSION is applied: starting"
        exit 0
    fi
    case $found in
        0) why="not applied yet" ;;
        *) why=$(printf '%s' "$found" | head -n 1) ;;
    esac
    echo "$SERVICE: waiting for migration $SCHEMA_VERSION (Job $SERVICE-migrate): $why"
    sleep 5
done

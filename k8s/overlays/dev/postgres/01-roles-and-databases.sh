#!/bin/sh
# Run once by the image's entrypoint when the data directory is initialised
# (executable, so in a process of its own): for each service, the two roles
# and the database of Secret archive-database's URLs, as in production:
#   <service>-owner  postgres://OWNER:PASSWORD@host:port/DATABASE
#                    owns the database: `<service> migrate` (the Job) runs as it
#   <service>        postgres://RUNTIME:PASSWORD@host:port/DATABASE
#                    may connect; the Job grants it rights on the tables
# Nobody else may connect (CONNECT is revoked from PUBLIC). The URLs are the
# only place the passwords are written: use letters, digits, - and _ in them
# (nothing is URL-decoded).
set -eu

# postgres://user:password@host[:port]/database[?…] -> "user password database"
parse() {
    printf '%s\n' "$1" |
        sed -n 's|^postgres\(ql\)\{0,1\}://\([A-Za-z0-9_-]*\):\([^@/]*\)@[^/]*/\([A-Za-z0-9_]*\).*$|\2 \3 \4|p'
}

database() {
    service=$1
    # shellcheck disable=SC2046 # word splitting into user, password, database is the point
    set -- $(parse "$2") $(parse "$3")
    if [ $# -ne 6 ] || [ "$3" != "$6" ] || [ "$1" = "$4" ]; then
        echo "$service: archive-database's $service-owner and $service URLs must name two different users and the same database" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
        -v owner="$1" -v owner_password="$2" -v db="$3" -v runtime="$4" -v runtime_password="$5" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"runtime" LOGIN PASSWORD :'runtime_password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"runtime";
SQL
    echo "$service: database $3, owner $1, runtime role $4"
}

database archive-svc "$ARCHIVE_SVC_OWNER_URL" "$ARCHIVE_SVC_URL"
database authz-svc "$AUTHZ_SVC_OWNER_URL" "$AUTHZ_SVC_URL"
database audit-svc "$AUDIT_SVC_OWNER_URL" "$AUDIT_SVC_URL"

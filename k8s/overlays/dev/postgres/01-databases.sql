-- One database per service, as in production. Run once, by the image's
-- entrypoint, when the data directory is initialised.
CREATE DATABASE archive_calls;
CREATE DATABASE archive_authz;
CREATE DATABASE archive_audit;

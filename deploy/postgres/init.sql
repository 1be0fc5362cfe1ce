-- Tenure's schemas and database roles, for one database that holds all four services.
--
-- Run by a superuser, connected to Tenure's database, as often as you like (every step converges):
--
--   psql -X -v ON_ERROR_STOP=1 -d tenure \
--        -v orders_owner_password="$ORDERS_OWNER_PASSWORD" -v orders_app_password="$ORDERS_APP_PASSWORD" \
--        ... -f deploy/postgres/init.sql
--
-- Per service (schema `orders`, `accounts`, `provisioning`, `purge`) it creates:
--   <svc>_owner  owns the schema and runs the migrations (`tenure migrate`)
--   <svc>_app    serves traffic: owns nothing, DML only, bound by row-level security
--   <svc>_ops    read-only access for operators, through the policies the migrations define
--   <svc>_purge  used only by the PurgeParticipant handlers: read, update and delete
-- None of them is a superuser or has BYPASSRLS, since either would skip row-level security.
--
-- Passwords come only from psql variables named <role>_password (orders_app_password, ...). A role
-- whose variable is unset keeps the password it has (none, when new), so it cannot log in with one.

\set ON_ERROR_STOP on

DO $init$
DECLARE
    service text;
    kind text;
    role_name text;
BEGIN
    FOREACH service IN ARRAY ARRAY['orders', 'accounts', 'provisioning', 'purge'] LOOP
        FOREACH kind IN ARRAY ARRAY['owner', 'app', 'ops', 'purge'] LOOP
            role_name := service || '_' || kind;
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
                EXECUTE format('CREATE ROLE %I', role_name);
            END IF;
            -- Also for roles that already existed, so a role altered by hand is brought back.
            EXECUTE format(
                'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                role_name);
        END LOOP;

        IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = service) THEN
            EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', service, service || '_owner');
        END IF;
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', service, service || '_owner');
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', service);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I, %I',
            service, service || '_app', service || '_ops', service || '_purge');
        -- Operators land in their service's schema without typing it.
        EXECUTE format('ALTER ROLE %I SET search_path = %I', service || '_ops', service);

        -- Privileges for what the owner creates later, i.e. the migrations' tables and sequences.
        -- Nothing here touches objects that already exist: migrations narrow some grants (the audit
        -- table is insert-only, TRUNCATE is revoked), and a rerun must not widen them again.
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I '
            'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
            service || '_owner', service, service || '_app');
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I',
            service || '_owner', service, service || '_app');
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO %I',
            service || '_owner', service, service || '_ops');
        EXECUTE format(
            'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I '
            'GRANT SELECT, UPDATE, DELETE ON TABLES TO %I',
            service || '_owner', service, service || '_purge');
    END LOOP;
END
$init$;

-- Passwords, set only where given. psql quotes each value as a literal (:'name'), and the server
-- stores it hashed with its password_encryption (scram-sha-256 by default).
\if :{?orders_owner_password}
ALTER ROLE orders_owner PASSWORD :'orders_owner_password';
\endif
\if :{?orders_app_password}
ALTER ROLE orders_app PASSWORD :'orders_app_password';
\endif
\if :{?orders_ops_password}
ALTER ROLE orders_ops PASSWORD :'orders_ops_password';
\endif
\if :{?orders_purge_password}
ALTER ROLE orders_purge PASSWORD :'orders_purge_password';
\endif

\if :{?accounts_owner_password}
ALTER ROLE accounts_owner PASSWORD :'accounts_owner_password';
\endif
\if :{?accounts_app_password}
ALTER ROLE accounts_app PASSWORD :'accounts_app_password';
\endif
\if :{?accounts_ops_password}
ALTER ROLE accounts_ops PASSWORD :'accounts_ops_password';
\endif
\if :{?accounts_purge_password}
ALTER ROLE accounts_purge PASSWORD :'accounts_purge_password';
\endif

\if :{?provisioning_owner_password}
ALTER ROLE provisioning_owner PASSWORD :'provisioning_owner_password';
\endif
\if :{?provisioning_app_password}
ALTER ROLE provisioning_app PASSWORD :'provisioning_app_password';
\endif
\if :{?provisioning_ops_password}
ALTER ROLE provisioning_ops PASSWORD :'provisioning_ops_password';
\endif
\if :{?provisioning_purge_password}
ALTER ROLE provisioning_purge PASSWORD :'provisioning_purge_password';
\endif

\if :{?purge_owner_password}
ALTER ROLE purge_owner PASSWORD :'purge_owner_password';
\endif
\if :{?purge_app_password}
ALTER ROLE purge_app PASSWORD :'purge_app_password';
\endif
\if :{?purge_ops_password}
ALTER ROLE purge_ops PASSWORD :'purge_ops_password';
\endif
\if :{?purge_purge_password}
ALTER ROLE purge_purge PASSWORD :'purge_purge_password';
\endif

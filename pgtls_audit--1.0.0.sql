/* pgtls_audit--1.0.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgtls_audit" to load this file. \quit

-- One connection attempt, as the history and the session slots keep it.
CREATE TYPE attempt AS (
	event_id bigint,
	"time" timestamptz,
	stage text,
	outcome text,
	violations text[],
	current_violations text[],
	pid integer,
	user_name text,
	database_name text,
	application_name text,
	replication boolean,
	transport text,
	client_addr inet,
	client_port integer,
	auth_method text,
	hba_line integer,
	ssl boolean,
	tls_version text,
	cipher text,
	cipher_bits integer,
	key_exchange_group text,
	forward_secrecy boolean,
	sni text,
	client_cert boolean,
	cert_verified boolean,
	cert_subject text,
	cert_subject_truncated boolean,
	cert_issuer text,
	cert_issuer_truncated boolean,
	cert_serial numeric,
	cert_fingerprint text,
	cert_not_before timestamptz,
	cert_not_after timestamptz,
	cert_key_algorithm text,
	cert_key_bits integer,
	cert_signature_algorithm text,
	gss_authenticated boolean,
	gss_encrypted boolean,
	gss_principal text,
	reason text
);

-- The functions below are the entry points of the C library.  One library
-- serves every SQL version of the extension, so an installation keeps
-- working between installing a new package and ALTER EXTENSION ... UPDATE:
--  * An upgrade script that changes the result columns of a function (here or
--    through the type attempt) points the new declaration at a new C symbol
--    named after the version, as pg_stat_statements does:
--    'pgtls_audit_history' becomes 'pgtls_audit_history_1_1' in 1.1.0, and
--    so on.  The old symbol stays in the library, still filling the old
--    columns, for as long as any released version declares it.
--  * A symbol is never given a different result shape in place.
--  * Each entry point checks that its SQL declaration has the number of
--    columns it fills, and otherwise fails with "function ... returns N
--    columns where the pgtls_audit library fills M" and the hint to run
--    ALTER EXTENSION pgtls_audit UPDATE, rather than build a wrong row.
-- t/030_upgrade.pl queries every view of every released version through the
-- new library, then checks that each update equals a fresh install.

CREATE FUNCTION history_records()
RETURNS SETOF attempt
AS 'MODULE_PATHNAME', 'pgtls_audit_history'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION session_records()
RETURNS SETOF attempt
AS 'MODULE_PATHNAME', 'pgtls_audit_sessions'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION summary_records(
	OUT user_name text,
	OUT database_name text,
	OUT transport text,
	OUT tls_version text,
	OUT cipher text,
	OUT outcome text,
	OUT count bigint,
	OUT first_seen timestamptz,
	OUT last_seen timestamptz
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_summary'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION status_record(
	OUT history_size integer,
	OUT events_total bigint,
	OUT events_retained bigint,
	OUT events_overwritten bigint,
	OUT max_aggregates integer,
	OUT aggregates integer,
	OUT aggregates_evicted bigint,
	OUT max_dn_length integer,
	OUT stats_reset timestamptz
)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_status'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION server_certificate_record(
	OUT subject text,
	OUT issuer text,
	OUT serial numeric,
	OUT fingerprint text,
	OUT not_before timestamptz,
	OUT not_after timestamptz,
	OUT days_left integer,
	OUT key_algorithm text,
	OUT key_bits integer,
	OUT signature_algorithm text,
	OUT subject_alt_names text[]
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_server_certificate'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pgtls_audit_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION reset() FROM PUBLIC;

-- Every attempt the server kept, oldest first.
CREATE VIEW history AS
	SELECT * FROM history_records();

-- Counts by role, database, transport, protocol, cipher and outcome.
CREATE VIEW summary AS
	SELECT * FROM summary_records();

-- The live client sessions, with what pg_stat_activity, pg_stat_ssl and
-- pg_stat_gssapi say of them now.
CREATE VIEW connections AS
	SELECT a.pid,
		   a.usename AS user_name,
		   a.datname AS database_name,
		   a.application_name,
		   a.backend_type,
		   a.backend_start,
		   a.state,
		   s.transport,
		   a.client_addr,
		   a.client_port,
		   s.auth_method,
		   s.hba_line,
		   l.ssl,
		   s.tls_version,
		   s.cipher,
		   s.cipher_bits,
		   s.key_exchange_group,
		   s.forward_secrecy,
		   s.sni,
		   s.client_cert,
		   s.cert_verified,
		   s.cert_subject,
		   s.cert_subject_truncated,
		   s.cert_issuer,
		   s.cert_issuer_truncated,
		   s.cert_serial,
		   s.cert_fingerprint,
		   s.cert_not_before,
		   s.cert_not_after,
		   floor(extract(epoch FROM s.cert_not_after - now()) / 86400)::integer
			   AS cert_days_left,
		   s.cert_key_algorithm,
		   s.cert_key_bits,
		   s.cert_signature_algorithm,
		   g.gss_authenticated,
		   g.encrypted AS gss_encrypted,
		   g.principal AS gss_principal,
		   s.violations AS violations_at_connect,
		   s.current_violations,
		   s.event_id
	  FROM session_records() s
	  JOIN pg_stat_activity a ON a.pid = s.pid
	  JOIN pg_stat_ssl l ON l.pid = s.pid
	  JOIN pg_stat_gssapi g ON g.pid = s.pid
	 WHERE a.backend_type IN ('client backend', 'walsender');

-- Live sessions that break the policy as it is now (after a reload): who a
-- tightening would cut off.
CREATE VIEW policy_violations AS
	SELECT pid, user_name, database_name, application_name, transport,
		   client_addr, auth_method, tls_version, cipher, cipher_bits,
		   forward_secrecy, client_cert, cert_subject,
		   current_violations AS violations, violations_at_connect
	  FROM connections
	 WHERE cardinality(current_violations) > 0;

-- The certificate in ssl_cert_file.
CREATE VIEW server_certificate AS
	SELECT * FROM server_certificate_record();

-- The store's sizes and counters: nothing is lost silently.
CREATE VIEW status AS
	SELECT * FROM status_record();

GRANT SELECT ON history, summary, connections, policy_violations,
	server_certificate, status TO PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

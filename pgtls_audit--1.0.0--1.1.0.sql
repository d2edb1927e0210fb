/* pgtls_audit--1.0.0--1.1.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1.0'" to load this file. \quit

-- status gains the client certificate inventory's counters.
DROP VIEW status;
DROP FUNCTION status_record();

CREATE FUNCTION status_record(
	OUT history_size integer,
	OUT events_total bigint,
	OUT events_retained bigint,
	OUT events_overwritten bigint,
	OUT max_aggregates integer,
	OUT aggregates integer,
	OUT aggregates_evicted bigint,
	OUT max_dn_length integer,
	OUT stats_reset timestamptz,
	OUT max_certificates integer,
	OUT certificates integer,
	OUT certificates_evicted bigint
)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_status_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- The store's sizes and counters: nothing is lost silently.
CREATE VIEW status AS
	SELECT * FROM status_record();

-- The client certificates seen, one row per certificate.
CREATE FUNCTION client_certificate_records(
	OUT fingerprint text,
	OUT subject text,
	OUT issuer text,
	OUT subject_truncated boolean,
	OUT issuer_truncated boolean,
	OUT serial numeric,
	OUT not_before timestamptz,
	OUT not_after timestamptz,
	OUT key_algorithm text,
	OUT key_bits integer,
	OUT signature_algorithm text,
	OUT verified boolean,
	OUT first_seen timestamptz,
	OUT last_seen timestamptz,
	OUT attempts bigint,
	OUT accepted bigint,
	OUT roles text[],
	OUT last_client_addr inet
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_client_certificates'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW client_certificates AS
	SELECT fingerprint, subject, issuer, subject_truncated, issuer_truncated,
		   serial, not_before, not_after,
		   floor(extract(epoch FROM not_after - now()) / 86400)::integer
			   AS days_left,
		   key_algorithm, key_bits, signature_algorithm, verified,
		   first_seen, last_seen, attempts, accepted, roles, last_client_addr
	  FROM client_certificate_records();

GRANT SELECT ON status, client_certificates TO PUBLIC;

-- A function whose result columns change here gets a new C symbol ending in
-- _1_1, and the old symbol keeps serving 1.0.0: see pgtls_audit--1.0.0.sql.

-- The rule of pgtls_audit.rules_file that judged the attempt, and the one
-- that would judge it now (NULL: the GUCs).
ALTER TYPE attempt ADD ATTRIBUTE rule_line integer;
ALTER TYPE attempt ADD ATTRIBUTE current_rule_line integer;

-- How TLS was opened (postgres: after an SSLRequest; direct: 17's direct
-- negotiation) and the ALPN protocol the server selected.
ALTER TYPE attempt ADD ATTRIBUTE tls_negotiation text;
ALTER TYPE attempt ADD ATTRIBUTE alpn text;

-- Whether the client was warned that its certificate expires within
-- pgtls_audit.cert_expiry_warning_days (NULL: no client certificate).
ALTER TYPE attempt ADD ATTRIBUTE cert_expiry_warning boolean;

CREATE OR REPLACE FUNCTION history_records()
RETURNS SETOF attempt
AS 'MODULE_PATHNAME', 'pgtls_audit_history_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE OR REPLACE FUNCTION session_records()
RETURNS SETOF attempt
AS 'MODULE_PATHNAME', 'pgtls_audit_sessions_1_1'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- The history as a foreign table: its rows are returned one by one as the
-- store holds them, where history_records() would first copy them all.
-- history_records() stays, for the callers of 1.0.0.  The table has the
-- columns of the type attempt, in order.
CREATE FUNCTION fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'pgtls_audit_fdw_handler'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pgtls_audit HANDLER fdw_handler;
CREATE SERVER pgtls_audit FOREIGN DATA WRAPPER pgtls_audit;

DO $$
BEGIN
	EXECUTE format('CREATE FOREIGN TABLE history_events (%s) SERVER pgtls_audit',
				   (SELECT string_agg(format('%I %s', attname,
											 format_type(atttypid, atttypmod)),
									  ', ' ORDER BY attnum)
					  FROM pg_attribute
					 WHERE attrelid = (SELECT typrelid FROM pg_type
										WHERE oid = 'attempt'::regtype)
					   AND attnum > 0 AND NOT attisdropped));
END
$$;

REVOKE ALL ON history_events FROM PUBLIC;

CREATE OR REPLACE VIEW history AS
	SELECT * FROM history_events;

CREATE OR REPLACE VIEW connections AS
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
		   s.event_id,
		   s.rule_line,
		   s.current_rule_line,
		   s.tls_negotiation,
		   s.alpn,
		   s.cert_expiry_warning
	  FROM session_records() s
	  JOIN pg_stat_activity a ON a.pid = s.pid
	  JOIN pg_stat_ssl l ON l.pid = s.pid
	  JOIN pg_stat_gssapi g ON g.pid = s.pid
	 WHERE a.backend_type IN ('client backend', 'walsender');

-- Judged by the rules and GUCs in force now: rule_line is the rule that
-- judges the session now, rule_line_at_connect the one that admitted it.
CREATE OR REPLACE VIEW policy_violations AS
	SELECT pid, user_name, database_name, application_name, transport,
		   client_addr, auth_method, tls_version, cipher, cipher_bits,
		   forward_secrecy, client_cert, cert_subject,
		   current_violations AS violations, violations_at_connect,
		   current_rule_line AS rule_line, rule_line AS rule_line_at_connect
	  FROM connections
	 WHERE cardinality(current_violations) > 0;

-- The rules file as it is on disk now, like pg_hba_file_rules.
CREATE FUNCTION rules_records(
	OUT line_number integer,
	OUT database text[],
	OUT user_name text[],
	OUT address text,
	OUT netmask text,
	OUT settings text[],
	OUT error text
)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_rules'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION rules_records() FROM PUBLIC;

CREATE VIEW rules AS
	SELECT * FROM rules_records();

REVOKE ALL ON rules FROM PUBLIC;

-- Which rule and which effective settings would judge user_name on
-- database_name from client_addr (NULL: the Unix-domain socket).
CREATE FUNCTION rule_for(
	user_name text,
	database_name text,
	client_addr inet DEFAULT NULL,
	replication boolean DEFAULT false,
	OUT rule_line integer,
	OUT mode text,
	OUT require_ssl text,
	OUT min_protocol_version text,
	OUT min_cipher_bits text,
	OUT ciphers text,
	OUT require_forward_secrecy text,
	OUT require_client_cert text,
	OUT forbidden_auth_methods text,
	OUT min_cert_rsa_bits text,
	OUT min_cert_ec_bits text,
	OUT forbidden_cert_signature_algorithms text,
	OUT cert_issuer text,
	OUT cert_subject text
)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_rule_for'
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION rule_for(text, text, inet, boolean) FROM PUBLIC;

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

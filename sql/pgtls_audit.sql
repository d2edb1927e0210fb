-- The SQL surface of pgtls_audit, with the extension preloaded.
CREATE EXTENSION pgtls_audit;

SELECT extname, extversion, nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pgtls_audit';

-- Its objects (without the array and view row types that 17 also lists).
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtls_audit')
   AND deptype = 'e'
   AND (classid <> 'pg_type'::regclass
        OR objid IN (SELECT t.oid FROM pg_type t
                       JOIN pg_class c ON c.oid = t.typrelid
                      WHERE c.relkind = 'c'))
 ORDER BY 1;

-- This very session, as the store saw it connect over the unix socket.
SELECT user_name = current_user AS own, transport, auth_method, ssl,
       tls_version, client_cert, violations_at_connect, current_violations
  FROM pgtls_audit.connections
 WHERE pid = pg_backend_pid();
SELECT stage, outcome, transport, ssl, cert_subject
  FROM pgtls_audit.history
 WHERE pid = pg_backend_pid();

-- The history view reads the foreign table history_events; it shows the
-- rows history_records() returns, and the table is not for PUBLIC.
SELECT (SELECT array_agg(h::text ORDER BY event_id)
          FROM pgtls_audit.history h) =
       (SELECT array_agg(h::text ORDER BY event_id)
          FROM pgtls_audit.history_records() h) AS same_rows;
SELECT count(*) = (SELECT events_retained FROM pgtls_audit.status) AS all_rows
  FROM pgtls_audit.history;
SELECT has_table_privilege('public', 'pgtls_audit.history_events', 'SELECT');

-- A foreign table of pgtls_audit's server must have the history's columns.
CREATE FOREIGN TABLE pgtls_audit_regress_narrow (event_id bigint)
  SERVER pgtls_audit;
SELECT * FROM pgtls_audit_regress_narrow;
CREATE TABLE pgtls_audit_regress_shape (LIKE pgtls_audit.history_events);
ALTER TABLE pgtls_audit_regress_shape ALTER COLUMN pid TYPE bigint;
CREATE FOREIGN TABLE pgtls_audit_regress_retyped ()
  INHERITS (pgtls_audit_regress_shape) SERVER pgtls_audit;
SELECT * FROM pgtls_audit_regress_retyped;
DROP FOREIGN TABLE pgtls_audit_regress_narrow, pgtls_audit_regress_retyped;
DROP TABLE pgtls_audit_regress_shape;
SELECT transport, outcome, tls_version, count > 0 AS counted
  FROM pgtls_audit.summary
 WHERE user_name = current_user AND database_name = current_database();
SELECT history_size, max_aggregates, max_dn_length,
       events_total = events_retained + events_overwritten AS balanced
  FROM pgtls_audit.status;

-- No TLS on this instance: no server certificate.
SELECT count(*) FROM pgtls_audit.server_certificate;

-- Roles without pg_read_all_stats see only their own rows, and cannot reset.
CREATE ROLE pgtls_audit_regress_user;
SET ROLE pgtls_audit_regress_user;
SELECT count(*) FROM pgtls_audit.history;
SELECT count(*) FROM pgtls_audit.summary;
SELECT count(*) FROM pgtls_audit.connections;
SELECT pgtls_audit.reset();
RESET ROLE;
GRANT pg_read_all_stats TO pgtls_audit_regress_user;
SET ROLE pgtls_audit_regress_user;
SELECT count(*) > 0 AS sees_others FROM pgtls_audit.history;
RESET ROLE;
DROP ROLE pgtls_audit_regress_user;

-- reset() forgets history and aggregates.
SELECT pgtls_audit.reset();
SELECT events_total, events_retained, events_overwritten, aggregates,
       aggregates_evicted
  FROM pgtls_audit.status;
SELECT count(*) FROM pgtls_audit.history;
SELECT count(*) FROM pgtls_audit.summary;

-- A full summary evicts its least recently seen rows, and counts them:
-- max_aggregates is 10 here, and 13 keys arrive.
SELECT format('CREATE ROLE pgtls_audit_r%s LOGIN', n) FROM generate_series(1, 12) n \gexec
SELECT current_user AS superuser \gset
SELECT pgtls_audit.reset();
\c - pgtls_audit_r1
\c - pgtls_audit_r2
\c - pgtls_audit_r3
\c - pgtls_audit_r4
\c - pgtls_audit_r5
\c - pgtls_audit_r6
\c - pgtls_audit_r7
\c - pgtls_audit_r8
\c - pgtls_audit_r9
\c - pgtls_audit_r10
\c - pgtls_audit_r11
\c - pgtls_audit_r12
\c - :superuser
SELECT aggregates, aggregates_evicted FROM pgtls_audit.status;
SELECT string_agg(user_name, ' ' ORDER BY last_seen) AS kept
  FROM pgtls_audit.summary WHERE user_name LIKE 'pgtls_audit_r%';
SELECT format('DROP ROLE pgtls_audit_r%s', n) FROM generate_series(1, 12) n \gexec

-- Every setting, its default and who may change it.
SELECT name, setting, context, vartype
  FROM pg_settings
 WHERE name LIKE 'pgtls\_audit.%'
 ORDER BY name;

-- Policy cannot be weakened from a session.
SET pgtls_audit.mode = 'off';
SET pgtls_audit.require_ssl = off;

-- Invalid values are refused with a reason; the old value stays.
ALTER SYSTEM SET pgtls_audit.mode = 'lenient';
ALTER SYSTEM SET pgtls_audit.min_protocol_version = 'SSLv3';
ALTER SYSTEM SET pgtls_audit.min_cipher_bits = -1;
ALTER SYSTEM SET pgtls_audit.ciphers = 'NO-SUCH-CIPHER';
ALTER SYSTEM SET pgtls_audit.ciphers = 'TLS_AES_128_GCM_SHA256';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = 'trust, kerberos4';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = 'trust,,md5';
ALTER SYSTEM SET pgtls_audit.min_cert_rsa_bits = 32768;
ALTER SYSTEM SET pgtls_audit.min_cert_ec_bits = -1;
ALTER SYSTEM SET pgtls_audit.forbidden_cert_signature_algorithms = 'md5, sha-1';
ALTER SYSTEM SET pgtls_audit.log_format = 'xml';
ALTER SYSTEM SET pgtls_audit.log_level = 'error';
SET pgtls_audit.no_such_setting = 'on';

-- Valid values are accepted.
ALTER SYSTEM SET pgtls_audit.ciphers = 'ECDHE+AESGCM:!aNULL';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = 'trust, password, md5, ident';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = '';
ALTER SYSTEM SET pgtls_audit.forbidden_cert_signature_algorithms = 'MD5, SHA1, sha224, sha3-256';
ALTER SYSTEM SET pgtls_audit.forbidden_cert_signature_algorithms = '';
ALTER SYSTEM SET pgtls_audit.min_cert_rsa_bits = 0;
ALTER SYSTEM SET pgtls_audit.min_cert_ec_bits = 0;
ALTER SYSTEM SET pgtls_audit.ciphers = '';
ALTER SYSTEM RESET ALL;

SHOW pgtls_audit.mode;
SHOW pgtls_audit.ciphers;

-- Without a rules file there are no rules: the GUCs judge every attempt.
SELECT count(*) FROM pgtls_audit.rules;
SELECT rule_line, mode, min_protocol_version, min_cipher_bits, cert_subject
  FROM pgtls_audit.rule_for(current_user, current_database(), '10.1.2.3');
SELECT rule_line, mode FROM pgtls_audit.rule_for(current_user, NULL, NULL, true);
SELECT * FROM pgtls_audit.rule_for(current_user, NULL);
SELECT * FROM pgtls_audit.rule_for(current_user, 'postgres', '10.0.0.0/8');
-- A rules file that cannot be read is refused.
ALTER SYSTEM SET pgtls_audit.rules_file = 'no_such_rules_file.conf';

DROP EXTENSION pgtls_audit;

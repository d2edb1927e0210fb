-- The SQL surface of pgtls_audit, with the extension preloaded.
CREATE EXTENSION pgtls_audit;

SELECT extname, extversion, nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pgtls_audit';

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
ALTER SYSTEM SET pgtls_audit.log_format = 'xml';
ALTER SYSTEM SET pgtls_audit.log_level = 'error';
ALTER SYSTEM SET pgtls_audit.no_such_setting = 'on';

-- Valid values are accepted.
ALTER SYSTEM SET pgtls_audit.ciphers = 'ECDHE+AESGCM:!aNULL';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = 'trust, password, md5, ident';
ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = '';
ALTER SYSTEM SET pgtls_audit.ciphers = '';
ALTER SYSTEM RESET ALL;

SHOW pgtls_audit.mode;
SHOW pgtls_audit.ciphers;

DROP EXTENSION pgtls_audit;

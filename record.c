/*-------------------------------------------------------------------------
 *
 * record.c
 *		Packing a connection attempt into an AuditRecord, and checking one
 *		that comes from disk.
 *
 * A record is its fixed-size fields followed by every string, each
 * NUL-terminated and clipped to its documented maximum, so that it takes
 * the room its values need: a typical attempt packs into well under 1 kB.
 * Strings are kept as valid UTF-8: a byte that is not (a hostile
 * certificate or startup packet) becomes '?', so that no view ever meets
 * an invalid string.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/hba.h"
#include "mb/pg_wchar.h"

#include "record.h"

/* Maximum lengths of the variable strings other than DNs. */
#define SNI_MAX_LEN			255
#define PRINCIPAL_MAX_LEN	256
#define REASON_MAX_LEN		512

static Size string_max_length(RecordString which, int max_dn_length);
static void put_string(AuditRecord *record, RecordString which,
					   const char *value, int max_dn_length);
static Size clip_utf8(const char *source, Size max_length);
static void replace_invalid_utf8(char *s, Size length);

static Size
string_max_length(RecordString which, int max_dn_length)
{
	switch (which)
	{
		case RS_USER_NAME:
		case RS_DATABASE_NAME:
		case RS_APPLICATION_NAME:
			return NAMEDATALEN - 1;
		case RS_CLIENT_ADDR:
			return 47;			/* INET6_ADDRSTRLEN - 1 */
		case RS_AUTH_METHOD:
		case RS_TLS_VERSION:
		case RS_KEY_EXCHANGE_GROUP:
		case RS_CERT_KEY_ALGORITHM:
			return RECORD_SHORT_LEN - 1;
		case RS_CIPHER:
		case RS_CERT_SIGNATURE_ALGORITHM:
			return 63;
		case RS_CERT_SERIAL:
			return 63;			/* 20 octets are 49 decimal digits */
		case RS_CERT_FINGERPRINT:
			return 95;			/* 32 bytes as AB: */
		case RS_SNI:
			return SNI_MAX_LEN;
		case RS_CERT_SUBJECT:
		case RS_CERT_ISSUER:
			return max_dn_length;
		case RS_GSS_PRINCIPAL:
			return PRINCIPAL_MAX_LEN;
		case RS_TLS_NEGOTIATION:
			return RECORD_SHORT_LEN - 1;
		case RS_ALPN:
			return 255;			/* an ALPN protocol name has at most 255 bytes */
		case RS_REASON:
		case RS_COUNT:
			break;
	}
	return REASON_MAX_LEN;
}

/* The largest record, every string at its maximum. */
Size
record_capacity(int max_dn_length)
{
	Size		strings = 0;

	for (int i = 0; i < RS_COUNT; i++)
		strings += string_max_length(i, max_dn_length) + 1;
	return MAXALIGN(RECORD_HEADER_SIZE + strings);
}

void
build_record(AuditRecord *r, const AuditAttempt *a, int max_dn_length)
{
	memset(r, 0, RECORD_HEADER_SIZE);
	r->time = a->time;
	r->cert_not_before = a->cert_not_before;
	r->cert_not_after = a->cert_not_after;
	r->pid = a->pid;
	r->role_oid = a->role_oid;
	r->violations = a->violations;
	r->client_port = a->client_port;
	r->auth_method_code = a->auth_method_code;
	r->hba_line = a->hba_line;
	r->rule_line = a->rule_line;
	r->tls_version_number = a->tls_version_number;
	r->cipher_id = a->cipher_id;
	r->cipher_bits = a->cipher_bits;
	r->cert_key_type = a->cert_key_type;
	r->cert_key_bits = a->cert_key_bits;
	r->cert_security_bits = a->cert_security_bits;
	r->cert_signature_digest = a->cert_signature_digest;
	r->transport = a->transport;
	r->outcome = a->outcome;
	r->stage = a->stage;
	r->replication = a->replication;
	r->judged = a->judged;
	r->ssl = a->ssl;
	r->forward_secrecy = a->forward_secrecy;
	r->cert_present = a->cert_present;
	r->cert_verified = a->cert_verified;
	r->gss_authenticated = a->gss_authenticated;
	r->gss_encrypted = a->gss_encrypted;
	r->cert_expiry_warning = a->cert_expiry_warned;

	put_string(r, RS_USER_NAME, a->user_name, max_dn_length);
	put_string(r, RS_DATABASE_NAME, a->database_name, max_dn_length);
	put_string(r, RS_APPLICATION_NAME, a->application_name, max_dn_length);
	put_string(r, RS_CLIENT_ADDR, a->client_addr, max_dn_length);
	put_string(r, RS_AUTH_METHOD, a->auth_method, max_dn_length);
	put_string(r, RS_TLS_VERSION, a->tls_version, max_dn_length);
	put_string(r, RS_CIPHER, a->cipher, max_dn_length);
	put_string(r, RS_KEY_EXCHANGE_GROUP, a->key_exchange_group, max_dn_length);
	put_string(r, RS_SNI, a->sni, max_dn_length);
	put_string(r, RS_CERT_SUBJECT, a->cert_subject, max_dn_length);
	put_string(r, RS_CERT_ISSUER, a->cert_issuer, max_dn_length);
	put_string(r, RS_CERT_SERIAL, a->cert_serial, max_dn_length);
	put_string(r, RS_CERT_FINGERPRINT, a->cert_fingerprint, max_dn_length);
	put_string(r, RS_CERT_KEY_ALGORITHM, a->cert_key_algorithm, max_dn_length);
	put_string(r, RS_CERT_SIGNATURE_ALGORITHM, a->cert_signature_algorithm,
			   max_dn_length);
	put_string(r, RS_GSS_PRINCIPAL, a->gss_principal, max_dn_length);
	put_string(r, RS_REASON, a->reason, max_dn_length);
	put_string(r, RS_TLS_NEGOTIATION, a->tls_negotiation, max_dn_length);
	put_string(r, RS_ALPN, a->alpn, max_dn_length);
}

/*
 * Append one string, clipped to its maximum at a character boundary; the
 * strings are appended in RecordString order, so they never overflow a
 * record of record_capacity() bytes.
 */
static void
put_string(AuditRecord *record, RecordString which, const char *value,
		   int max_dn_length)
{
	char	   *target = record->strings + record->strings_used;
	Size		length;

	if (value == NULL)
		return;
	length = clip_utf8(value, string_max_length(which, max_dn_length));
	memcpy(target, value, length);
	target[length] = '\0';
	replace_invalid_utf8(target, length);
	record->string_present[which] = true;
	record->string_truncated[which] = (value[length] != '\0');
	record->string_offset[which] = record->strings_used;
	record->strings_used += length + 1;
}

Size
record_size(const AuditRecord *record)
{
	return RECORD_HEADER_SIZE + record->strings_used;
}

/*
 * Whether "size" bytes read from disk are a record this code can use:
 * every field in its range, every string inside the record and
 * NUL-terminated.  A dump file is data, not trusted: a field out of range
 * would index past an array in a view.
 */
bool
record_is_valid(const AuditRecord *r, Size size)
{
	const bool *flags[] = {
		&r->replication, &r->judged, &r->ssl, &r->forward_secrecy,
		&r->cert_present, &r->cert_verified, &r->gss_authenticated,
		&r->gss_encrypted, &r->cert_expiry_warning
	};

	if (size < RECORD_HEADER_SIZE || RECORD_HEADER_SIZE + r->strings_used != size)
		return false;
	if (r->event_id == 0 ||
		r->violations >= (1U << VIOLATION_COUNT) ||
		r->auth_method_code < -1 || r->auth_method_code > USER_AUTH_LAST ||
		r->transport > TRANSPORT_IPV6 ||
		r->outcome > OUTCOME_REFUSED ||
		r->stage > STAGE_AUTHORIZATION ||
		r->cipher_bits < 0 || r->cert_key_bits < 0 ||
		r->cert_security_bits < 0 || r->hba_line < 0 ||
		r->rule_line < 0 ||
		r->client_port < -1 || r->client_port > 65535)
		return false;
	for (size_t i = 0; i < lengthof(flags); i++)
	{
		if (*(const uint8 *) flags[i] > 1)
			return false;
	}
	for (int i = 0; i < RS_COUNT; i++)
	{
		uint16		offset = r->string_offset[i];

		if (*(const uint8 *) &r->string_present[i] > 1 ||
			*(const uint8 *) &r->string_truncated[i] > 1)
			return false;
		if (r->string_present[i] &&
			(offset >= r->strings_used ||
			 memchr(r->strings + offset, '\0', r->strings_used - offset) == NULL))
			return false;
	}
	return true;
}

/*
 * Pack a record of another geometry (a loaded one) anew: its strings are
 * clipped to this server's maxima and cleaned again.
 */
void
repack_record(AuditRecord *target, const AuditRecord *source,
			  int max_dn_length)
{
	memcpy(target, source, RECORD_HEADER_SIZE);
	target->strings_used = 0;
	memset(target->string_present, 0, sizeof(target->string_present));
	for (int i = 0; i < RS_COUNT; i++)
	{
		put_string(target, i, record_string(source, i), max_dn_length);
		target->string_truncated[i] |= source->string_truncated[i];
	}
}

static void
replace_invalid_utf8(char *s, Size length)
{
	Size		i = 0;

	while (i < length)
	{
		int			n;

		if (!IS_HIGHBIT_SET(s[i]))
		{
			i++;
			continue;
		}
		n = pg_utf_mblen((const unsigned char *) s + i);

		if (i + n > length || !pg_utf8_islegal((const unsigned char *) s + i, n))
		{
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

/*
 * The length of source clipped to max_length bytes without splitting a
 * UTF-8 character.
 */
static Size
clip_utf8(const char *source, Size max_length)
{
	Size		length = strnlen(source, max_length + 1);

	if (length <= max_length)
		return length;
	length = max_length;
	while (length > 0 && (source[length] & 0xC0) == 0x80)
		length--;
	return length;
}

/* The record seen as an attempt, for judging it again. */
void
record_to_attempt(const AuditRecord *r, AuditAttempt *a)
{
	memset(a, 0, sizeof(AuditAttempt));
	a->transport = r->transport;
	a->replication = r->replication;
	a->rule_line = r->rule_line;
	a->ssl = r->ssl;
	a->gss_encrypted = r->gss_encrypted;
	a->tls_version_number = r->tls_version_number;
	a->cipher_id = r->cipher_id;
	a->cipher_bits = r->cipher_bits;
	a->forward_secrecy = r->forward_secrecy;
	a->cert_present = r->cert_present;
	a->cert_verified = r->cert_verified;
	a->cert_key_type = r->cert_key_type;
	a->cert_key_bits = r->cert_key_bits;
	a->cert_security_bits = r->cert_security_bits;
	a->cert_signature_digest = r->cert_signature_digest;
	a->cert_expiry_warned = r->cert_expiry_warning;
	a->auth_method_code = r->auth_method_code;
	a->tls_version = record_string(r, RS_TLS_VERSION);
	a->cipher = record_string(r, RS_CIPHER);
	a->auth_method = record_string(r, RS_AUTH_METHOD);
	a->user_name = record_string(r, RS_USER_NAME);
	a->database_name = record_string(r, RS_DATABASE_NAME);
	a->client_addr = record_string(r, RS_CLIENT_ADDR);
	a->cert_subject = record_string(r, RS_CERT_SUBJECT);
	a->cert_issuer = record_string(r, RS_CERT_ISSUER);
	a->cert_key_algorithm = record_string(r, RS_CERT_KEY_ALGORITHM);
}

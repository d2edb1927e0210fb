/*-------------------------------------------------------------------------
 *
 * certificates.c
 *		The inventory of client certificates: one row per certificate seen
 *		(by its SHA-256 fingerprint) with its facts, when it was first and
 *		last seen, how often, by which roles and from where.
 *
 * A set-associative table (settable.c), like the aggregates: a certificate
 * already known costs a lookup in one set and a few stores under that
 * set's spinlock; a new one copies its facts and DNs.  When its set is
 * full, the least recently seen certificate of the set is evicted and
 * counted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "certificates.h"
#include "record.h"

static void see_certificate(void *row, bool inserted, void *arg);
static void merge_certificate(void *row, bool inserted, void *arg);
static void add_role(CertificateRow *row, Oid role);

Size
certificate_row_size(int max_dn_length)
{
	return offsetof(CertificateRow, dns) + 2 * ((Size) max_dn_length + 1);
}

Size
certificates_shmem_size(int max_certificates, int max_dn_length)
{
	return settable_shmem_size(max_certificates,
							   certificate_row_size(max_dn_length));
}

Certificates *
certificates_init(void *place, bool found, int max_certificates,
				  int max_dn_length)
{
	return settable_init(place, found, max_certificates,
						 certificate_row_size(max_dn_length),
						 sizeof(((CertificateRow *) NULL)->fingerprint));
}

const char *
certificate_issuer(const CertificateRow *row)
{
	return row->dns + strlen(row->dns) + 1;
}

static void
add_role(CertificateRow *row, Oid role)
{
	if (!OidIsValid(role))
		return;
	for (int i = 0; i < row->role_count; i++)
	{
		if (row->roles[i] == role)
			return;
	}
	if (row->role_count < CERTIFICATE_ROLES)
		row->roles[row->role_count++] = role;
	else
		row->more_roles = true;
}

/* Under the set's lock: the DNs are copied only for a new row. */
static void
see_certificate(void *row_space, bool inserted, void *arg)
{
	CertificateRow *row = (CertificateRow *) row_space;
	const AuditRecord *r = (const AuditRecord *) arg;
	const char *client_addr = record_string(r, RS_CLIENT_ADDR);

	if (inserted)
	{
		const char *subject = record_string(r, RS_CERT_SUBJECT);
		const char *issuer = record_string(r, RS_CERT_ISSUER);
		const char *serial = record_string(r, RS_CERT_SERIAL);
		const char *key_algorithm = record_string(r, RS_CERT_KEY_ALGORITHM);
		const char *signature = record_string(r, RS_CERT_SIGNATURE_ALGORITHM);
		Size		subject_length = subject ? strlen(subject) : 0;

		row->not_before = r->cert_not_before;
		row->not_after = r->cert_not_after;
		row->first_seen = r->time;
		row->last_seen = r->time;
		row->attempts = 0;
		row->accepted = 0;
		row->key_bits = r->cert_key_bits;
		row->role_count = 0;
		row->more_roles = false;
		row->subject_truncated = r->string_truncated[RS_CERT_SUBJECT];
		row->issuer_truncated = r->string_truncated[RS_CERT_ISSUER];
		strlcpy(row->serial, serial ? serial : "", sizeof(row->serial));
		strlcpy(row->key_algorithm, key_algorithm ? key_algorithm : "",
				sizeof(row->key_algorithm));
		strlcpy(row->signature_algorithm, signature ? signature : "",
				sizeof(row->signature_algorithm));
		/* the record clipped both DNs to max_dn_length: they fit */
		memcpy(row->dns, subject ? subject : "", subject_length + 1);
		strcpy(row->dns + subject_length + 1, issuer ? issuer : "");
	}
	row->attempts++;
	if (r->outcome == OUTCOME_ACCEPTED)
		row->accepted++;
	row->last_seen = Max(row->last_seen, r->time);
	row->verified = r->cert_verified;
	strlcpy(row->client_addr, client_addr ? client_addr : "",
			sizeof(row->client_addr));
	add_role(row, r->role_oid);
}

/* Count the certificate an attempt presented.  Signals are blocked. */
void
certificates_count(Certificates *certificates, const AuditRecord *record,
				   pg_atomic_uint64 *reset_event_id)
{
	char		key[sizeof(((CertificateRow *) NULL)->fingerprint)];
	const char *fingerprint = record_string(record, RS_CERT_FINGERPRINT);

	if (!record->cert_present || fingerprint == NULL || fingerprint[0] == '\0')
		return;
	/* zeroed first: the whole key is compared */
	memset(key, 0, sizeof(key));
	strlcpy(key, fingerprint, sizeof(key));
	settable_upsert(certificates, key, record->time, record->event_id,
					reset_event_id, see_certificate, (void *) record);
}

static void
merge_certificate(void *row_space, bool inserted, void *arg)
{
	CertificateRow *row = (CertificateRow *) row_space;
	const CertificateRow *loaded = (const CertificateRow *) arg;

	if (inserted)
	{
		Size		subject_length = strlen(loaded->dns);

		memcpy(row, loaded, offsetof(CertificateRow, dns));
		memcpy(row->dns, loaded->dns,
			   subject_length + 1 + strlen(certificate_issuer(loaded)) + 1);
		return;
	}
	row->attempts += loaded->attempts;
	row->accepted += loaded->accepted;
	row->first_seen = Min(row->first_seen, loaded->first_seen);
	row->last_seen = Max(row->last_seen, loaded->last_seen);
	for (int i = 0; i < loaded->role_count; i++)
		add_role(row, loaded->roles[i]);
	row->more_roles |= loaded->more_roles;
}

/*
 * Add a row read from a dump file (of this server's row size), after
 * checking every field: the file is data, not trusted.  False if invalid.
 */
bool
certificates_merge(Certificates *certificates, const CertificateRow *row,
				   pg_atomic_uint64 *reset_event_id)
{
	Size		dn_space = settable_row_size(certificates) -
	offsetof(CertificateRow, dns);
	const char *issuer_end;
	const bool *flags[] = {
		&row->more_roles, &row->verified, &row->subject_truncated,
		&row->issuer_truncated
	};

	if (memchr(row->fingerprint, '\0', sizeof(row->fingerprint)) == NULL ||
		memchr(row->serial, '\0', sizeof(row->serial)) == NULL ||
		memchr(row->key_algorithm, '\0', sizeof(row->key_algorithm)) == NULL ||
		memchr(row->signature_algorithm, '\0',
			   sizeof(row->signature_algorithm)) == NULL ||
		memchr(row->client_addr, '\0', sizeof(row->client_addr)) == NULL ||
		row->role_count < 0 || row->role_count > CERTIFICATE_ROLES ||
		row->key_bits < 0 || row->attempts == 0 ||
		row->accepted > row->attempts ||
		row->first_seen > row->last_seen)
		return false;
	for (size_t i = 0; i < lengthof(flags); i++)
	{
		if (*(const uint8 *) flags[i] > 1)
			return false;
	}
	/* two NUL-terminated DNs inside the row */
	issuer_end = memchr(row->dns, '\0', dn_space);
	if (issuer_end == NULL ||
		memchr(issuer_end + 1, '\0', dn_space - (issuer_end + 1 - row->dns)) == NULL)
		return false;

	settable_upsert(certificates, row, row->last_seen, PG_UINT64_MAX,
					reset_event_id, merge_certificate, (void *) row);
	return true;
}

/*-------------------------------------------------------------------------
 *
 * certificates.h
 *		The inventory of client certificates: one row per certificate
 *		seen, by SHA-256 fingerprint.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_CERTIFICATES_H
#define PGTLS_AUDIT_CERTIFICATES_H

#include "pgtls_audit.h"
#include "settable.h"

/* Distinct roles kept per certificate. */
#define CERTIFICATE_ROLES	8

typedef struct CertificateRow
{
	char		fingerprint[96];	/* the key: SHA-256, colon-separated hex */
	TimestampTz not_before;
	TimestampTz not_after;
	TimestampTz first_seen;
	TimestampTz last_seen;
	uint64		attempts;		/* every attempt that presented it */
	uint64		accepted;		/* of which accepted */
	int32		key_bits;
	int32		role_count;
	Oid			roles[CERTIFICATE_ROLES];	/* roles that used it */
	bool		more_roles;		/* more than CERTIFICATE_ROLES did */
	bool		verified;		/* at its last attempt */
	bool		subject_truncated;
	bool		issuer_truncated;
	char		serial[64];
	char		key_algorithm[RECORD_SHORT_LEN];
	char		signature_algorithm[64];
	char		client_addr[48];	/* of its last attempt; "" for unix */
	char		dns[FLEXIBLE_ARRAY_MEMBER]; /* subject, then issuer, each
											 * NUL-terminated */
} CertificateRow;

/* The inventory is a set-associative table of CertificateRow rows. */
typedef SetTable Certificates;

extern Size certificate_row_size(int max_dn_length);
extern Size certificates_shmem_size(int max_certificates, int max_dn_length);
extern Certificates *certificates_init(void *place, bool found,
									   int max_certificates, int max_dn_length);
extern void certificates_count(Certificates *certificates,
							   const AuditRecord *record,
							   pg_atomic_uint64 *reset_event_id);
extern bool certificates_merge(Certificates *certificates,
							   const CertificateRow *row,
							   pg_atomic_uint64 *reset_event_id);
extern const char *certificate_issuer(const CertificateRow *row);

#endif							/* PGTLS_AUDIT_CERTIFICATES_H */

/*-------------------------------------------------------------------------
 *
 * record.h
 *		An attempt packed into an AuditRecord, the form the store keeps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_RECORD_H
#define PGTLS_AUDIT_RECORD_H

#include "pgtls_audit.h"

/* The fixed part of a record, before its strings. */
#define RECORD_HEADER_SIZE	offsetof(AuditRecord, strings)

extern Size record_capacity(int max_dn_length);
extern void build_record(AuditRecord *record, const AuditAttempt *attempt,
						 int max_dn_length);
extern Size record_size(const AuditRecord *record);
extern bool record_is_valid(const AuditRecord *record, Size size);
extern void repack_record(AuditRecord *target, const AuditRecord *source,
						  int max_dn_length);
extern void record_to_attempt(const AuditRecord *record, AuditAttempt *attempt);

/* One of a record's strings, or NULL; inline: a view reads 18 per row. */
static inline const char *
record_string(const AuditRecord *record, RecordString which)
{
	if (!record->string_present[which])
		return NULL;
	return record->strings + record->string_offset[which];
}

#endif							/* PGTLS_AUDIT_RECORD_H */

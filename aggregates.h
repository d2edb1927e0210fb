/*-------------------------------------------------------------------------
 *
 * aggregates.h
 *		Counts of attempts by role, database, transport, protocol, cipher
 *		and outcome, in a bounded table in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_AGGREGATES_H
#define PGTLS_AUDIT_AGGREGATES_H

#include "port/atomics.h"

#include "pgtls_audit.h"
#include "settable.h"

typedef struct AggregateKey
{
	Oid			role_oid;		/* of user_name, when the role exists */
	char		user_name[NAMEDATALEN];
	char		database_name[NAMEDATALEN];
	char		tls_version[RECORD_SHORT_LEN];
	char		cipher[64];
	uint8		transport;
	uint8		outcome;
} AggregateKey;

typedef struct AggregateEntry
{
	AggregateKey key;
	uint64		count;
	TimestampTz first_seen;
	TimestampTz last_seen;
} AggregateEntry;

/* The aggregates are a set-associative table of AggregateEntry rows. */
typedef SetTable Aggregates;

extern Size aggregates_shmem_size(int max_aggregates);
extern Aggregates *aggregates_init(void *place, bool found, int max_aggregates);
extern void aggregates_count(Aggregates *aggregates, const AuditRecord *record,
							 pg_atomic_uint64 *reset_event_id);
extern bool aggregates_merge(Aggregates *aggregates, const AggregateEntry *entry,
							 pg_atomic_uint64 *reset_event_id);
extern int	aggregates_copy(Aggregates *aggregates,
							pg_atomic_uint64 *reset_event_id,
							AggregateEntry **entries);
extern void aggregates_totals(Aggregates *aggregates,
							  pg_atomic_uint64 *reset_event_id,
							  int *rows, uint64 *evicted);
extern int	aggregates_capacity(Aggregates *aggregates);

#endif							/* PGTLS_AUDIT_AGGREGATES_H */

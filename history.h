/*-------------------------------------------------------------------------
 *
 * history.h
 *		The history of connection attempts: variable-length records in a
 *		byte ring in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_HISTORY_H
#define PGTLS_AUDIT_HISTORY_H

#include "pgtls_audit.h"

/* The room the ring gives one event: a typical record takes well under. */
#define HISTORY_BYTES_PER_EVENT	1024

typedef void (*RecordVisitor) (const AuditRecord *record, void *arg);

typedef struct History History;

/* A reader's place in the history between two reads. */
typedef struct HistoryCursor
{
	uint64		next_id;		/* the next event to read */
	uint64		end_id;			/* the first event not to read */
} HistoryCursor;

extern Size history_shmem_size(int history_size, Size record_capacity);
extern History *history_init(void *place, bool found, int history_size,
							 Size record_capacity);
extern uint64 history_append(History *history, AuditRecord *record,
							 bool keep_event_id);
extern uint64 history_next_event_id(History *history);
extern void history_set_next_event_id(History *history, uint64 next);
extern void history_prefault(History *history, Size length);
extern void history_open(History *history, uint64 first,
						 HistoryCursor *cursor);
extern bool history_next(History *history, HistoryCursor *cursor,
						 AuditRecord *record);
extern void history_scan(History *history, uint64 first,
						 RecordVisitor visitor, void *arg);
extern uint64 history_span(History *history, uint64 first);
extern uint64 history_retained(History *history, uint64 first);

#endif							/* PGTLS_AUDIT_HISTORY_H */

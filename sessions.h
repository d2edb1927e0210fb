/*-------------------------------------------------------------------------
 *
 * sessions.h
 *		The live sessions: one slot per backend, written by that backend
 *		alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_SESSIONS_H
#define PGTLS_AUDIT_SESSIONS_H

#include "history.h"

typedef struct Sessions Sessions;

extern Size sessions_shmem_size(int slots, Size record_capacity);
extern Sessions *sessions_init(void *place, bool found, int slots,
							   Size record_capacity);
extern void sessions_publish(Sessions *sessions, int slot,
							 const AuditRecord *record);
extern void sessions_scan(Sessions *sessions, RecordVisitor visitor, void *arg);

#endif							/* PGTLS_AUDIT_SESSIONS_H */

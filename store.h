/*-------------------------------------------------------------------------
 *
 * store.h
 *		What pgtls_audit remembers, in shared memory: the history, the
 *		live sessions and the aggregates, and their persistence.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_STORE_H
#define PGTLS_AUDIT_STORE_H

#include "aggregates.h"
#include "certificates.h"
#include "history.h"
#include "pgtls_audit.h"

/* The store's counters, for pgtls_audit.status. */
typedef struct StoreStatus
{
	int			history_size;
	uint64		events_total;
	uint64		events_retained;
	uint64		events_overwritten;
	int			max_aggregates;
	int			aggregates;
	uint64		aggregates_evicted;
	int			max_dn_length;
	TimestampTz stats_reset;
	int			max_certificates;
	int			certificates;
	uint64		certificates_evicted;
} StoreStatus;

extern void store_init(void);
extern bool store_available(void);
extern void store_attempt(const AuditAttempt *attempt);
extern void store_scan_history(RecordVisitor visitor, void *arg);
extern void store_open_history(HistoryCursor *cursor);
extern AuditRecord *store_record_buffer(void);
extern bool store_next_history(HistoryCursor *cursor, AuditRecord *record);
extern uint64 store_history_estimate(void);
extern void store_scan_sessions(RecordVisitor visitor, void *arg);
extern int	store_copy_aggregates(AggregateEntry **entries);
extern int	store_copy_certificates(CertificateRow **rows, Size *row_size);
extern void store_get_status(StoreStatus *status);
extern void store_reset(void);

#endif							/* PGTLS_AUDIT_STORE_H */

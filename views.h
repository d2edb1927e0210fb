/*-------------------------------------------------------------------------
 *
 * views.h
 *		Rows of connection attempts as the SQL views show them, for the
 *		set-returning functions and for the history's foreign table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_VIEWS_H
#define PGTLS_AUDIT_VIEWS_H

#include "access/tupdesc.h"

#include "pgtls_audit.h"

/*
 * Columns of an attempt's row: 40 in 1.0.0; 1.1.0 adds rule_line,
 * current_rule_line, tls_negotiation, alpn and cert_expiry_warning at the
 * end.
 */
#define ATTEMPT_COLUMNS_1_0 40
#define ATTEMPT_COLUMNS 45

typedef struct AttemptScan AttemptScan;

extern void require_store(void);
extern AttemptScan *attempt_scan_begin(TupleDesc tupdesc, const char *object);
extern bool attempt_row(AttemptScan *state, const AuditRecord *record,
						Datum *values, bool *nulls);

#endif							/* PGTLS_AUDIT_VIEWS_H */

/*-------------------------------------------------------------------------
 *
 * settable.h
 *		A bounded, set-associative table of fixed-size rows in shared
 *		memory, whose keys clients may choose.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_SETTABLE_H
#define PGTLS_AUDIT_SETTABLE_H

#include "datatype/timestamp.h"
#include "port/atomics.h"

/* Rows per set: a key lives in one set, and evicts within it. */
#define SET_WAYS	16

typedef struct SetTable SetTable;

/*
 * Fill a row just inserted (its key is in place) or update a found one;
 * called under the set's spinlock, so it must only store.
 */
typedef void (*SetRowUpdate) (void *row, bool inserted, void *arg);

extern Size settable_shmem_size(int rows, Size row_size);
extern SetTable *settable_init(void *place, bool found, int rows,
							   Size row_size, Size key_size);
extern void settable_upsert(SetTable *table, const void *key, TimestampTz seen,
							uint64 event_id, pg_atomic_uint64 *reset_event_id,
							SetRowUpdate update, void *arg);
extern int	settable_copy(SetTable *table, pg_atomic_uint64 *reset_event_id,
						  void **rows);
extern void settable_totals(SetTable *table, pg_atomic_uint64 *reset_event_id,
							int *rows, uint64 *evicted);
extern int	settable_capacity(SetTable *table);
extern Size settable_row_size(SetTable *table);

#endif							/* PGTLS_AUDIT_SETTABLE_H */

/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every difference between the PostgreSQL majors pgtls_audit builds
 *		against (15, 16, 17 and 18), in one place.
 *
 * The rest of the code is written once, against the names defined here;
 * no other file tests PG_VERSION_NUM.  Include it after postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_COMPAT_H
#define PGTLS_AUDIT_COMPAT_H

#include "miscadmin.h"
#include "utils/guc.h"

/*
 * PGTLS_MY_PROC_INDEX: this backend's 0-based index among the first
 * MaxBackends process slots, or -1 if it has none yet.  17 replaced
 * backend IDs (1-based, storage/backendid.h) by proc numbers (0-based,
 * storage/procnumber.h).
 */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define PGTLS_MY_PROC_INDEX \
	(MyProcNumber == INVALID_PROC_NUMBER ? -1 : (int) MyProcNumber)
#else
#include "storage/backendid.h"
#define PGTLS_MY_PROC_INDEX \
	(MyBackendId == InvalidBackendId ? -1 : (int) MyBackendId - 1)
#endif

/*
 * pg_noreturn: a prefix that marks a function that does not return.  18
 * replaced the pg_attribute_noreturn() suffix by it; before 18 the suffix's
 * attribute works as a prefix too.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * pgtls_guc_malloc, pgtls_guc_free: memory for the "extra" of a GUC check
 * hook.  16 frees it with guc_free() (GUC values live in their own memory
 * context); before 16 GUC code frees it with free().  pgtls_guc_malloc
 * returns NULL if out of memory.
 */
#if PG_VERSION_NUM >= 160000
#define pgtls_guc_malloc(size) guc_malloc(LOG, (size))
#define pgtls_guc_free(ptr) guc_free(ptr)
#else
#define pgtls_guc_malloc(size) malloc(size)
#define pgtls_guc_free(ptr) free(ptr)
#endif

/*
 * PGTLS_DIRECT_TLS(port): whether the client opened TLS directly (17's
 * sslnegotiation=direct) rather than after an SSLRequest.  PostgreSQL does
 * not record it, but only a direct handshake pushes the bytes it peeked at
 * back through Port.raw_buf, whose count of consumed bytes stays set once
 * the handshake is done (the Port is zeroed at allocation; raw_buf is
 * non-NULL while the handshake runs).  The field's offset depends on
 * USE_OPENSSL, which pgtls_audit requires.  Before 17 every TLS session
 * starts with an SSLRequest.
 */
#if PG_VERSION_NUM >= 170000
#define PGTLS_DIRECT_TLS(port) \
	((port)->raw_buf != NULL || (port)->raw_buf_consumed > 0)
#else
#define PGTLS_DIRECT_TLS(port) false
#endif

/*
 * PGTLS_CREATE_FOREIGNSCAN_PATH: a foreign scan path of a base relation,
 * with no pathkeys, outer path or private data.  17 added the restriction
 * clauses of a path (fdw_restrictinfo), 18 the count of disabled nodes.
 */
#if PG_VERSION_NUM >= 180000
#define PGTLS_CREATE_FOREIGNSCAN_PATH(root, rel, rows, startup, total) \
	create_foreignscan_path((root), (rel), NULL, (rows), 0, (startup), \
							(total), NIL, NULL, NULL, NIL, NIL)
#elif PG_VERSION_NUM >= 170000
#define PGTLS_CREATE_FOREIGNSCAN_PATH(root, rel, rows, startup, total) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), \
							(total), NIL, NULL, NULL, NIL, NIL)
#else
#define PGTLS_CREATE_FOREIGNSCAN_PATH(root, rel, rows, startup, total) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), \
							(total), NIL, NULL, NULL, NIL)
#endif

#endif							/* PGTLS_AUDIT_COMPAT_H */

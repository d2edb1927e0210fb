/*-------------------------------------------------------------------------
 *
 * history_table.c
 *		The foreign-data wrapper behind pgtls_audit.history: the history
 *		as a table, read one event per row.
 *
 * A set-returning function puts every row into a tuplestore before the
 * first is returned, forming and copying each of them; with 100,000
 * events of 44 columns that costs more than everything else a history
 * query does.  A foreign scan instead returns each event as a virtual
 * tuple, built from the store when it is asked for and never formed.
 *
 * The scan reads the events that existed when it started, oldest first;
 * an event overwritten before its turn is skipped.  Visibility is the
 * views' (views.c).  The planner is told nothing beyond a row count: the
 * executor applies every condition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "compat.h"
#include "store.h"
#include "views.h"

PG_FUNCTION_INFO_V1(pgtls_audit_fdw_handler);

/* A scan in progress. */
typedef struct HistoryTableScan
{
	MemoryContext context;		/* of the scan: holds the rows' values */
	AttemptScan *rows;
	HistoryCursor cursor;
	AuditRecord *record;		/* the buffer events are read into */
} HistoryTableScan;

static void history_rel_size(PlannerInfo *root, RelOptInfo *baserel,
							 Oid foreigntableid);
static void history_paths(PlannerInfo *root, RelOptInfo *baserel,
						  Oid foreigntableid);
static ForeignScan *history_plan(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid, ForeignPath *best_path,
								 List *tlist, List *scan_clauses,
								 Plan *outer_plan);
static void history_begin(ForeignScanState *node, int eflags);
static TupleTableSlot *history_iterate(ForeignScanState *node);
static void history_rescan(ForeignScanState *node);
static void history_end(ForeignScanState *node);

Datum
pgtls_audit_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = history_rel_size;
	routine->GetForeignPaths = history_paths;
	routine->GetForeignPlan = history_plan;
	routine->BeginForeignScan = history_begin;
	routine->IterateForeignScan = history_iterate;
	routine->ReScanForeignScan = history_rescan;
	routine->EndForeignScan = history_end;
	PG_RETURN_POINTER(routine);
}

static void
history_rel_size(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	baserel->tuples = store_available() ?
		(double) store_history_estimate() : 0;
	baserel->rows = clamp_row_est(baserel->tuples *
								  clauselist_selectivity(root,
														 baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

/* One path: read every event, at the cost of a tuple each. */
static void
history_paths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Cost		total_cost;

	total_cost = baserel->tuples * (cpu_tuple_cost + cpu_operator_cost);

	add_path(baserel, (Path *)
			 PGTLS_CREATE_FOREIGNSCAN_PATH(root, baserel, baserel->rows,
										   0, total_cost));
}

static ForeignScan *
history_plan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			 ForeignPath *best_path, List *tlist, List *scan_clauses,
			 Plan *outer_plan)
{
	/* the executor checks every condition */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid,
							NIL, NIL, NIL, NIL, outer_plan);
}

static void
history_begin(ForeignScanState *node, int eflags)
{
	Relation	relation = node->ss.ss_currentRelation;
	HistoryTableScan *scan;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	require_store();
	scan = palloc0(sizeof(HistoryTableScan));
	scan->context = CurrentMemoryContext;
	scan->rows = attempt_scan_begin(RelationGetDescr(relation),
									psprintf("foreign table %s.%s",
											 get_namespace_name(RelationGetNamespace(relation)),
											 RelationGetRelationName(relation)));
	scan->record = store_record_buffer();
	store_open_history(&scan->cursor);
	node->fdw_state = scan;
}

/*
 * The next event the caller may see, as a virtual tuple whose values live
 * in the scan's memory until the next call (the executor resets the
 * per-tuple memory this runs in, so the rows' values cannot live there).
 */
static TupleTableSlot *
history_iterate(ForeignScanState *node)
{
	HistoryTableScan *scan = (HistoryTableScan *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext caller_context = MemoryContextSwitchTo(scan->context);

	ExecClearTuple(slot);
	while (store_next_history(&scan->cursor, scan->record))
	{
		if (attempt_row(scan->rows, scan->record,
						slot->tts_values, slot->tts_isnull))
		{
			ExecStoreVirtualTuple(slot);
			break;
		}
	}
	MemoryContextSwitchTo(caller_context);
	return slot;
}

/* Read again from the oldest event, as they are now. */
static void
history_rescan(ForeignScanState *node)
{
	HistoryTableScan *scan = (HistoryTableScan *) node->fdw_state;

	store_open_history(&scan->cursor);
}

static void
history_end(ForeignScanState *node)
{
	/* everything lives in the executor's memory, freed with it */
}

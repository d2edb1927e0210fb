/*-------------------------------------------------------------------------
 *
 * pgtls_audit.c
 *		Audit and govern the TLS of every connection attempt.
 *
 * Loaded through shared_preload_libraries, pgtls_audit hooks
 * ClientAuthentication_hook.  For every attempt that reaches authentication
 * it captures what the connection is (capture.c), judges it against the
 * policy GUCs (policy.c), writes one escaped line to the server log
 * (logline.c), remembers it in shared memory (store.c) and, in enforce
 * mode, refuses an authenticated connection that violates the policy.
 * views.c serves the store to SQL.
 *
 * The hook raises no error of its own except the FATAL that rejects a
 * connection; the store takes only spinlocks, briefly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "pgtls_audit.h"
#include "store.h"

PG_MODULE_MAGIC;

/*---- GUC variables ----*/

static bool log_connections = true;
static int	log_level = LOG;

static const struct config_enum_entry log_format_options[] = {
	{"text", LOG_FORMAT_TEXT, false},
	{"json", LOG_FORMAT_JSON, false},
	{NULL, 0, false}
};

static const struct config_enum_entry log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"log", LOG, false},
	{NULL, 0, false}
};

/*---- Saved hook values ----*/

static ClientAuthentication_hook_type prev_client_authentication_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/*---- Per-backend state ----*/

/* This connection attempt has been recorded: never record it twice. */
static bool attempt_recorded = false;

/* The line of a refused attempt, written when the backend exits. */
static char *pending_line = NULL;

/*
 * An attempt the hook accepted, and the memory holding it, until
 * InitPostgres commits its transaction: PostgreSQL may still refuse the
 * connection after authentication (NOLOGIN, no such database, CONNECT
 * privilege, connection limits), and the record must say so.
 */
static AuditAttempt *accepted_attempt = NULL;
static MemoryContext accepted_context = NULL;
static bool xact_callback_registered = false;

/*---- Function declarations ----*/

void		_PG_init(void);

static void pgtls_audit_client_authentication(Port *port, int status);
static void pgtls_audit_emit_log(ErrorData *edata);
static bool is_refusal(const ErrorData *edata);
static void record_refusal(const ErrorData *edata);
static void log_pending_line(int code, Datum arg);
static void defer_accepted_attempt(AuditAttempt *attempt, MemoryContext context);
static void settle_accepted_attempt(XactEvent event, void *arg);
static void refuse_accepted_attempt(const char *reason);
static void release_accepted_attempt(void);
static void record_attempt_at_exit(const AuditAttempt *attempt);
static AuditOutcome decide_outcome(int status, uint32 violations);
static char *format_line(const AuditAttempt *attempt);
static void log_line(const char *line);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomBoolVariable("pgtls_audit.log_connections",
							 "Logs every connection attempt that reaches authentication.",
							 NULL,
							 &log_connections,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.log_format",
							 "Sets the format of the connection log line.",
							 NULL,
							 &pgtls_audit_log_format,
							 LOG_FORMAT_TEXT,
							 log_format_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.log_level",
							 "Sets the message level of the connection log line.",
							 NULL,
							 &log_level,
							 LOG,
							 log_level_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	define_policy_gucs();
	store_init();
	capture_init();

	MarkGUCPrefixReserved("pgtls_audit");

	prev_client_authentication_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = pgtls_audit_client_authentication;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = pgtls_audit_emit_log;
}

/*
 * Capture, judge, record and, in enforce mode, reject.  The previous hook
 * runs first so that our FATAL never skips another module's hook.
 */
static void
pgtls_audit_client_authentication(Port *port, int status)
{
	MemoryContext context;
	MemoryContext oldcontext;
	AuditAttempt *attempt;

	if (prev_client_authentication_hook)
		prev_client_authentication_hook(port, status);

	/* PostgreSQL's FATAL after a failed authentication is this attempt */
	attempt_recorded = true;

	context = AllocSetContextCreate(TopMemoryContext, "pgtls_audit",
									ALLOCSET_SMALL_SIZES);
	oldcontext = MemoryContextSwitchTo(context);

	attempt = palloc(sizeof(AuditAttempt));
	capture_attempt(port, status, attempt);
	/* a transaction is open: visibility follows the role, not its name */
	attempt->role_oid = get_role_oid(port->user_name, true);
	attempt->stage = STAGE_AUTHENTICATION;
	attempt->judged = (pgtls_audit_mode != MODE_OFF);
	if (attempt->judged)
		attempt->violations = judge_attempt(attempt);
	attempt->outcome = decide_outcome(status, attempt->violations);
	MemoryContextSwitchTo(oldcontext);

	if (attempt->outcome == OUTCOME_ACCEPTED)
	{
		defer_accepted_attempt(attempt, context);
		return;
	}

	if (log_connections)
		log_line(format_line(attempt));
	store_attempt(attempt);

	if (attempt->outcome == OUTCOME_REJECTED)
		reject_attempt(attempt);

	MemoryContextDelete(context);
}

/*
 * Keep an accepted attempt, with the memory its strings live in, until
 * the transaction InitPostgres opened before authentication commits: then
 * the connection is established and the attempt is recorded as accepted.
 * A FATAL before that (seen by the emit_log_hook) records it as refused.
 */
static void
defer_accepted_attempt(AuditAttempt *attempt, MemoryContext context)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(settle_accepted_attempt, NULL);
		xact_callback_registered = true;
	}
	accepted_attempt = attempt;
	accepted_context = context;
}

/*
 * At the commit of the startup transaction, the accepted attempt is
 * recorded.  At an abort without a FATAL the emit_log_hook saw (one
 * filtered by log_min_messages), it is recorded as refused, without a
 * reason.
 */
static void
settle_accepted_attempt(XactEvent event, void *arg)
{
	if (accepted_attempt == NULL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		if (log_connections)
			log_line(format_line(accepted_attempt));
		store_attempt(accepted_attempt);
		release_accepted_attempt();
	}
	else if (event == XACT_EVENT_ABORT)
		refuse_accepted_attempt(NULL);
}

static void
release_accepted_attempt(void)
{
	accepted_attempt = NULL;
	MemoryContextDelete(accepted_context);
	accepted_context = NULL;
}

/*
 * PostgreSQL refused an authenticated connection: record the accepted
 * attempt as refused at stage authorization, with the server's reason.
 * This runs inside error reporting: the line is written at exit.
 */
static void
refuse_accepted_attempt(const char *reason)
{
	AuditAttempt *attempt = accepted_attempt;

	attempt->outcome = OUTCOME_REFUSED;
	attempt->stage = STAGE_AUTHORIZATION;
	attempt->reason = reason;
	record_attempt_at_exit(attempt);
	release_accepted_attempt();
}

/*
 * Attempts refused by PostgreSQL before ClientAuthentication_hook runs
 * (TLS handshake failures, pg_hba.conf rejections, a missing client
 * certificate) are seen only here.  The fast path is one flag: outside
 * connection startup, or once this attempt is recorded, nothing is done.
 */
static void
pgtls_audit_emit_log(ErrorData *edata)
{
	if (ClientAuthInProgress && !attempt_recorded && MyProcPort != NULL &&
		is_refusal(edata))
		record_refusal(edata);
	else if (accepted_attempt != NULL && edata->elevel >= FATAL)
		refuse_accepted_attempt(edata->message);

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * A FATAL ends the attempt; so does a communication error (COMMERROR of
 * class 08) before the startup packet, which PostgreSQL follows with a
 * silent exit.
 */
static bool
is_refusal(const ErrorData *edata)
{
	if (edata->elevel >= FATAL)
		return true;
	return edata->elevel == COMMERROR &&
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION;
}

/*
 * Record a refused attempt with what is known at its stage.  This runs
 * inside error reporting, possibly before the backend has a PGPROC: the
 * store takes only spinlocks, and the log line is written later, when the
 * backend exits, rather than by a nested ereport here.
 */
static void
record_refusal(const ErrorData *edata)
{
	AuditAttempt attempt;
	Port	   *port = MyProcPort;

	attempt_recorded = true;

	capture_attempt(port, STATUS_ERROR, &attempt);
	attempt.stage = (port->user_name != NULL && port->user_name[0] != '\0') ?
		STAGE_AUTHENTICATION : STAGE_HANDSHAKE;
	attempt.outcome = OUTCOME_REFUSED;
	attempt.reason = edata->message;
	attempt.judged = (pgtls_audit_mode != MODE_OFF &&
					  attempt.stage == STAGE_AUTHENTICATION);
	if (attempt.judged)
		attempt.violations = judge_attempt(&attempt);

	record_attempt_at_exit(&attempt);
}

/*
 * Record a refused attempt from inside error reporting: in the store now,
 * in the log when the backend exits, rather than by a nested ereport here.
 */
static void
record_attempt_at_exit(const AuditAttempt *attempt)
{
	store_attempt(attempt);

	if (log_connections)
	{
		pending_line = MemoryContextStrdup(TopMemoryContext, format_line(attempt));
		on_proc_exit(log_pending_line, (Datum) 0);
	}
}

static void
log_pending_line(int code, Datum arg)
{
	if (pending_line != NULL)
		log_line(pending_line);
	pending_line = NULL;
}

static AuditOutcome
decide_outcome(int status, uint32 violations)
{
	if (status == STATUS_EOF)
		return OUTCOME_ABANDONED;
	if (status != STATUS_OK)
		return OUTCOME_AUTH_FAILED;
	if (violations != 0 && pgtls_audit_mode == MODE_ENFORCE)
		return OUTCOME_REJECTED;
	return OUTCOME_ACCEPTED;
}

static char *
format_line(const AuditAttempt *attempt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	format_attempt(&buf, attempt, pgtls_audit_log_format);
	return buf.data;
}

static void
log_line(const char *line)
{
	ereport(log_level,
			(errmsg_internal("%s", line),
			 errhidestmt(true),
			 errhidecontext(true)));
}

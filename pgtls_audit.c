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

#include "fmgr.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "pgtls_audit.h"

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

/*---- Function declarations ----*/

void		_PG_init(void);

static void pgtls_audit_client_authentication(Port *port, int status);
static AuditOutcome decide_outcome(int status, uint32 violations);
static void log_attempt(const AuditAttempt *attempt);

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

	MarkGUCPrefixReserved("pgtls_audit");

	prev_client_authentication_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = pgtls_audit_client_authentication;
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
	AuditAttempt attempt;

	if (prev_client_authentication_hook)
		prev_client_authentication_hook(port, status);

	context = AllocSetContextCreate(CurrentMemoryContext, "pgtls_audit",
									ALLOCSET_SMALL_SIZES);
	oldcontext = MemoryContextSwitchTo(context);

	capture_attempt(port, status, &attempt);
	attempt.judged = (pgtls_audit_mode != MODE_OFF);
	if (attempt.judged)
		attempt.violations = judge_attempt(&attempt);
	attempt.outcome = decide_outcome(status, attempt.violations);

	if (log_connections)
		log_attempt(&attempt);
	store_attempt(&attempt);

	if (attempt.outcome == OUTCOME_REJECTED)
		reject_attempt(&attempt);

	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(context);
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

static void
log_attempt(const AuditAttempt *attempt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	format_attempt(&buf, attempt, pgtls_audit_log_format);
	ereport(log_level,
			(errmsg_internal("%s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	pfree(buf.data);
}

/*-------------------------------------------------------------------------
 *
 * views.c
 *		The SQL functions behind pgtls_audit's views.  They only read the
 *		store (and, for the server certificate, ssl_cert_file; for
 *		pgtls_audit.rules, the rules file), and judge by the rules in force
 *		(rules.c) and the policy (policy.c).
 *
 * Visibility follows pg_stat_ssl: a role with the privileges of
 * pg_read_all_stats sees every row; any other role sees only the rows of
 * roles whose privileges it has (its own, in the simplest case).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "pgtls_audit.h"
#include "policy.h"
#include "record.h"
#include "rules.h"
#include "store.h"
#include "views.h"

PG_FUNCTION_INFO_V1(pgtls_audit_history);
PG_FUNCTION_INFO_V1(pgtls_audit_history_1_1);
PG_FUNCTION_INFO_V1(pgtls_audit_sessions);
PG_FUNCTION_INFO_V1(pgtls_audit_sessions_1_1);
PG_FUNCTION_INFO_V1(pgtls_audit_rules);
PG_FUNCTION_INFO_V1(pgtls_audit_rule_for);
PG_FUNCTION_INFO_V1(pgtls_audit_summary);
PG_FUNCTION_INFO_V1(pgtls_audit_status);
PG_FUNCTION_INFO_V1(pgtls_audit_status_1_1);
PG_FUNCTION_INFO_V1(pgtls_audit_reset);
PG_FUNCTION_INFO_V1(pgtls_audit_server_certificate);
PG_FUNCTION_INFO_V1(pgtls_audit_client_certificates);

/* STACK_OF(CONF_VALUE), spelled so that pg_bsd_indent reads a typedef */
typedef struct stack_st_CONF_VALUE ConfValueStack;

#define RULES_COLUMNS 7
#define RULE_FOR_COLUMNS (1 + SETTING_COUNT)
#define SUMMARY_COLUMNS 9
#define STATUS_COLUMNS_1_0 9
#define STATUS_COLUMNS 12
#define CLIENT_CERTIFICATE_COLUMNS 18
#define SERVER_CERTIFICATE_COLUMNS 11

/* The type of each column of an attempt's row, in order. */
static const Oid attempt_column_types[ATTEMPT_COLUMNS] = {
	INT8OID,					/* event_id */
	TIMESTAMPTZOID,				/* time */
	TEXTOID,					/* stage */
	TEXTOID,					/* outcome */
	TEXTARRAYOID,				/* violations */
	TEXTARRAYOID,				/* current_violations */
	INT4OID,					/* pid */
	TEXTOID,					/* user_name */
	TEXTOID,					/* database_name */
	TEXTOID,					/* application_name */
	BOOLOID,					/* replication */
	TEXTOID,					/* transport */
	INETOID,					/* client_addr */
	INT4OID,					/* client_port */
	TEXTOID,					/* auth_method */
	INT4OID,					/* hba_line */
	BOOLOID,					/* ssl */
	TEXTOID,					/* tls_version */
	TEXTOID,					/* cipher */
	INT4OID,					/* cipher_bits */
	TEXTOID,					/* key_exchange_group */
	BOOLOID,					/* forward_secrecy */
	TEXTOID,					/* sni */
	BOOLOID,					/* client_cert */
	BOOLOID,					/* cert_verified */
	TEXTOID,					/* cert_subject */
	BOOLOID,					/* cert_subject_truncated */
	TEXTOID,					/* cert_issuer */
	BOOLOID,					/* cert_issuer_truncated */
	NUMERICOID,					/* cert_serial */
	TEXTOID,					/* cert_fingerprint */
	TIMESTAMPTZOID,				/* cert_not_before */
	TIMESTAMPTZOID,				/* cert_not_after */
	TEXTOID,					/* cert_key_algorithm */
	INT4OID,					/* cert_key_bits */
	TEXTOID,					/* cert_signature_algorithm */
	BOOLOID,					/* gss_authenticated */
	BOOLOID,					/* gss_encrypted */
	TEXTOID,					/* gss_principal */
	TEXTOID,					/* reason */
	INT4OID,					/* rule_line */
	INT4OID,					/* current_rule_line */
	TEXTOID,					/* tls_negotiation */
	TEXTOID,					/* alpn */
	BOOLOID,					/* cert_expiry_warning */
};

/*
 * Fill values[i], nulls[i] and advance i: the rows below are long, and a
 * column's position is its place in the SQL type.
 */
#define PUT(datum) (values[i] = (datum), nulls[i++] = false)
#define PUT_NULL() (values[i] = (Datum) 0, nulls[i++] = true)
#define PUT_TEXT(s) ((s) && *(s) ? PUT(view_text(s)) : PUT_NULL())
#define PUT_UTF8(s) ((s) ? PUT(view_text(s)) : PUT_NULL())

/* The same for a scan's rows, through the cache of column i. */
#define PUT_CACHED(s, convert) \
	((s) && *(s) ? PUT(cached_datum(&state->columns[i], (s), (convert))) : \
	 PUT_NULL())
#define PUT_TIMESTAMP(t) (timestamp_value((t), &values[i]) ? \
						  (nulls[i++] = false) : (nulls[i++] = true))

/* Which roles' rows the caller may see, decided once per role. */
typedef struct Visibility
{
	bool		see_all;
	HTAB	   *decided;		/* role OID -> bool */
} Visibility;

typedef struct VisibilityEntry
{
	Oid			role_oid;
	bool		visible;
} VisibilityEntry;

/*
 * The datum of the last value a column had.  Rows of a scan repeat their
 * values (the same clients connect again and again), so caching saves most
 * conversions, which dominate the cost of a large history.
 */
typedef struct ColumnCache
{
	char	   *value;			/* NULL before the first row */
	Datum		datum;
} ColumnCache;

typedef Datum (*ColumnConverter) (const char *value);

/*
 * The facts of a record the policy judges, to judge runs of equals once;
 * the rule that applies depends on the user, database and address, so a
 * run is only judged once while no rules are loaded.
 */
typedef struct JudgedFacts
{
	int32		tls_version_number;
	uint32		cipher_id;
	int32		cipher_bits;
	int32		auth_method_code;
	uint8		transport;
	bool		ssl;
	bool		gss_encrypted;
	bool		forward_secrecy;
	bool		cert_verified;
	bool		cert_present;
	int32		cert_key_type;
	int32		cert_key_bits;
	int32		cert_security_bits;
	int32		cert_signature_digest;
} JudgedFacts;

/* State of one scan of attempts, into rows of the SQL type. */
struct AttemptScan
{
	ReturnSetInfo *rsinfo;		/* the tuplestore to fill, if any */
	int			columns_count;	/* of the SQL type this caller knows */
	Visibility	visibility;
	ColumnCache columns[ATTEMPT_COLUMNS];
	JudgedFacts last_judged;	/* what the policy judges, of the last row */
	uint32		last_violations;
	bool		last_judged_by_mode;	/* the mode was not off */
	int			last_rule_line;
	bool		judged_once;
	Datum		violation_arrays[1 << VIOLATION_COUNT]; /* 0 until built */

	/* the settings that apply to the last client, while rules are loaded */
	bool		target_known;
	char	   *target_user;
	char	   *target_database;
	char	   *target_addr;
	bool		target_replication;
	uint8		target_transport;
	int			target_rule_line;
	PolicySettings target_settings;
};

static Datum status_record(FunctionCallInfo fcinfo, int columns);
static void require_columns(FunctionCallInfo fcinfo, TupleDesc tupdesc,
							int expected);
static void init_visibility(Visibility *visibility);
static bool role_visible(Visibility *visibility, Oid role_oid);
static void emit_attempts(FunctionCallInfo fcinfo,
						  void (*scan) (RecordVisitor visitor, void *arg),
						  int columns_count);
static void emit_attempt(const AuditRecord *record, void *arg);
static Datum cached_datum(ColumnCache *cache, const char *value,
						  ColumnConverter convert);
static Datum cached_violations(AttemptScan *state, uint32 violations);
static bool current_violations(AttemptScan *state, const AuditRecord *record,
							   uint32 *violations, int *rule_line);
static int	settings_for_record(AttemptScan *state, const AuditAttempt *attempt,
								PolicySettings *settings);
static bool same_string(const char *a, const char *b);
static Datum inet_datum(const char *value);
static Datum violations_array(uint32 violations);
static Datum view_text(const char *value);
static bool is_ascii(const char *value);
static char *escape_for_database(const char *value, int length);
static void append_character(StringInfo buf, const unsigned char *p,
							 int length, int encoding);
static Datum serial_numeric(const char *serial);
static bool timestamp_value(TimestampTz value, Datum *datum);
static Datum subject_alt_names(X509 *cert);
static Datum text_array(List *texts);
static Datum rule_names(const RuleName *names, int count);

/* Every SQL object of pgtls_audit reads the store. */
void
require_store(void)
{
	if (!store_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgtls_audit must be loaded via \"shared_preload_libraries\"")));
}

/*
 * The SQL declaration of the called function must have exactly the columns
 * that this library fills.  A library newer than the extension's SQL objects
 * serves their old declarations through versioned entry points (see
 * pgtls_audit--1.0.0.sql); a declaration it does not know is refused here,
 * before any row is built past the end of the caller's tuple descriptor.
 */
static void
require_columns(FunctionCallInfo fcinfo, TupleDesc tupdesc, int expected)
{
	if (tupdesc->natts != expected)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("function %s returns %d columns where the pgtls_audit library fills %d",
						format_procedure(fcinfo->flinfo->fn_oid),
						tupdesc->natts, expected),
				 errdetail("The SQL objects of extension \"pgtls_audit\" do not match its installed library."),
				 errhint("Run ALTER EXTENSION pgtls_audit UPDATE, or install the library of the extension's version.")));
}

static void
init_visibility(Visibility *visibility)
{
	HASHCTL		ctl;

	visibility->see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	visibility->decided = NULL;
	if (visibility->see_all)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(VisibilityEntry);
	ctl.hcxt = CurrentMemoryContext;
	visibility->decided = hash_create("pgtls_audit visibility", 64, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Whether rows of the role role_oid may be shown, as pg_stat_ssl decides.
 * The OID, not the name: a role created later under a dropped role's name
 * is another role.  Rows of a name that was no role (a failed login as a
 * stranger), or whose role is unknown, only to see_all.
 */
static bool
role_visible(Visibility *visibility, Oid role_oid)
{
	VisibilityEntry *entry;
	bool		found;

	if (visibility->see_all)
		return true;
	if (!OidIsValid(role_oid))
		return false;
	entry = hash_search(visibility->decided, &role_oid, HASH_ENTER, &found);
	if (!found)
		entry->visible = has_privs_of_role(GetUserId(), role_oid);
	return entry->visible;
}

/* Fill the result with the records a store scan visits. */
static void
emit_attempts(FunctionCallInfo fcinfo,
			  void (*scan) (RecordVisitor visitor, void *arg),
			  int columns_count)
{
	ReturnSetInfo *rsinfo;
	AttemptScan *state;

	require_store();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	require_columns(fcinfo, rsinfo->setDesc, columns_count);
	state = attempt_scan_begin(rsinfo->setDesc,
							   format_procedure(fcinfo->flinfo->fn_oid));
	state->rsinfo = rsinfo;
	scan(emit_attempt, state);
}

/*
 * The state of a scan whose rows have the columns of tupdesc: the first
 * ATTEMPT_COLUMNS_1_0 or all ATTEMPT_COLUMNS columns of the attempt type,
 * checked here ("object" names the caller's SQL object in the error).
 */
AttemptScan *
attempt_scan_begin(TupleDesc tupdesc, const char *object)
{
	AttemptScan *state = palloc0(sizeof(AttemptScan));

	if (tupdesc->natts != ATTEMPT_COLUMNS_1_0 &&
		tupdesc->natts != ATTEMPT_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s has %d columns where the pgtls_audit library fills %d",
						object, tupdesc->natts, ATTEMPT_COLUMNS),
				 errdetail("The SQL objects of extension \"pgtls_audit\" do not match its installed library."),
				 errhint("Run ALTER EXTENSION pgtls_audit UPDATE, or install the library of the extension's version.")));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attribute = TupleDescAttr(tupdesc, i);

		if (attribute->attisdropped ||
			attribute->atttypid != attempt_column_types[i])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column %d of %s has type %s where the pgtls_audit library fills %s",
							i + 1, object,
							format_type_be(attribute->atttypid),
							format_type_be(attempt_column_types[i])),
					 errdetail("The SQL objects of extension \"pgtls_audit\" do not match its installed library.")));
	}
	state->columns_count = tupdesc->natts;
	init_visibility(&state->visibility);
	return state;
}

/* Add the row of a record the caller may see to the function's result. */
static void
emit_attempt(const AuditRecord *record, void *arg)
{
	AttemptScan *state = (AttemptScan *) arg;
	Datum		values[ATTEMPT_COLUMNS];
	bool		nulls[ATTEMPT_COLUMNS];

	if (attempt_row(state, record, values, nulls))
		tuplestore_putvalues(state->rsinfo->setResult, state->rsinfo->setDesc,
							 values, nulls);
}

/* 1.0.0's history_records(): 40 columns */
Datum
pgtls_audit_history(PG_FUNCTION_ARGS)
{
	emit_attempts(fcinfo, store_scan_history, ATTEMPT_COLUMNS_1_0);
	return (Datum) 0;
}

Datum
pgtls_audit_history_1_1(PG_FUNCTION_ARGS)
{
	emit_attempts(fcinfo, store_scan_history, ATTEMPT_COLUMNS);
	return (Datum) 0;
}

/* 1.0.0's session_records(): 40 columns */
Datum
pgtls_audit_sessions(PG_FUNCTION_ARGS)
{
	emit_attempts(fcinfo, store_scan_sessions, ATTEMPT_COLUMNS_1_0);
	return (Datum) 0;
}

Datum
pgtls_audit_sessions_1_1(PG_FUNCTION_ARGS)
{
	emit_attempts(fcinfo, store_scan_sessions, ATTEMPT_COLUMNS);
	return (Datum) 0;
}

/*
 * The row of a record, in the order of the SQL type, into values and nulls
 * (ATTEMPT_COLUMNS long); false, with nothing filled, if the caller may not
 * see it.  A row's values stay valid until the next call.
 */
bool
attempt_row(AttemptScan *state, const AuditRecord *r, Datum *values,
			bool *nulls)
{
	int			i = 0;
	uint32		now_violations = 0;
	int			now_rule_line = 0;
	bool		now_judged = false;

	if (!role_visible(&state->visibility, r->role_oid))
		return false;

	PUT(Int64GetDatum((int64) r->event_id));
	PUT(TimestampTzGetDatum(r->time));
	PUT_CACHED(stage_name(r->stage), view_text);
	PUT_CACHED(outcome_name(r->outcome), view_text);
	if (r->judged)
		PUT(cached_violations(state, r->violations));
	else
		PUT_NULL();
	if (r->stage != STAGE_HANDSHAKE)
		now_judged = current_violations(state, r, &now_violations,
										&now_rule_line);
	if (now_judged)
		PUT(cached_violations(state, now_violations));
	else
		PUT_NULL();
	PUT(Int32GetDatum(r->pid));
	PUT_CACHED(record_string(r, RS_USER_NAME), view_text);
	PUT_CACHED(record_string(r, RS_DATABASE_NAME), view_text);
	PUT_CACHED(record_string(r, RS_APPLICATION_NAME), view_text);
	PUT(BoolGetDatum(r->replication));
	PUT_CACHED(transport_name(r->transport), view_text);
	PUT_CACHED(record_string(r, RS_CLIENT_ADDR), inet_datum);
	if (r->client_port >= 0)
		PUT(Int32GetDatum(r->client_port));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_AUTH_METHOD), view_text);
	if (r->hba_line > 0)
		PUT(Int32GetDatum(r->hba_line));
	else
		PUT_NULL();
	PUT(BoolGetDatum(r->ssl));
	PUT_CACHED(record_string(r, RS_TLS_VERSION), view_text);
	PUT_CACHED(record_string(r, RS_CIPHER), view_text);
	if (r->ssl)
		PUT(Int32GetDatum(r->cipher_bits));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_KEY_EXCHANGE_GROUP), view_text);
	if (r->ssl)
		PUT(BoolGetDatum(r->forward_secrecy));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_SNI), view_text);
	if (r->ssl)
		PUT(BoolGetDatum(r->cert_present));
	else
		PUT_NULL();
	if (r->cert_present)
		PUT(BoolGetDatum(r->cert_verified));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_CERT_SUBJECT), view_text);
	if (r->cert_present)
		PUT(BoolGetDatum(r->string_truncated[RS_CERT_SUBJECT]));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_CERT_ISSUER), view_text);
	if (r->cert_present)
		PUT(BoolGetDatum(r->string_truncated[RS_CERT_ISSUER]));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_CERT_SERIAL), serial_numeric);
	PUT_CACHED(record_string(r, RS_CERT_FINGERPRINT), view_text);
	if (r->cert_present)
	{
		PUT_TIMESTAMP(r->cert_not_before);
		PUT_TIMESTAMP(r->cert_not_after);
	}
	else
	{
		PUT_NULL();
		PUT_NULL();
	}
	PUT_CACHED(record_string(r, RS_CERT_KEY_ALGORITHM), view_text);
	if (r->cert_key_bits > 0)
		PUT(Int32GetDatum(r->cert_key_bits));
	else
		PUT_NULL();
	PUT_CACHED(record_string(r, RS_CERT_SIGNATURE_ALGORITHM), view_text);
	PUT(BoolGetDatum(r->gss_authenticated));
	PUT(BoolGetDatum(r->gss_encrypted));
	PUT_CACHED(record_string(r, RS_GSS_PRINCIPAL), view_text);
	PUT_CACHED(record_string(r, RS_REASON), view_text);
	Assert(i == ATTEMPT_COLUMNS_1_0);
	if (state->columns_count > ATTEMPT_COLUMNS_1_0)
	{
		if (r->rule_line > 0)
			PUT(Int32GetDatum(r->rule_line));
		else
			PUT_NULL();
		if (now_rule_line > 0)
			PUT(Int32GetDatum(now_rule_line));
		else
			PUT_NULL();
		PUT_CACHED(record_string(r, RS_TLS_NEGOTIATION), view_text);
		PUT_CACHED(record_string(r, RS_ALPN), view_text);
		if (r->cert_present)
			PUT(BoolGetDatum(r->cert_expiry_warning));
		else
			PUT_NULL();
		Assert(i == ATTEMPT_COLUMNS);
	}
	return true;
}

static Datum
cached_datum(ColumnCache *cache, const char *value, ColumnConverter convert)
{
	if (cache->value != NULL && strcmp(cache->value, value) == 0)
		return cache->datum;
	/* the rows returned so far were copied or consumed: it can go */
	if (cache->value != NULL)
	{
		pfree(cache->value);
		pfree(DatumGetPointer(cache->datum));
	}
	cache->value = pstrdup(value);
	cache->datum = convert(value);
	return cache->datum;
}

static Datum
cached_violations(AttemptScan *state, uint32 violations)
{
	if (state->violation_arrays[violations] == (Datum) 0)
		state->violation_arrays[violations] = violations_array(violations);
	return state->violation_arrays[violations];
}

/*
 * The violations of a record under the policy in force now (the rules and
 * the GUCs), and the line of the rule that judges it.  Returns false when
 * the settings that apply have mode = off.
 */
static bool
current_violations(AttemptScan *state, const AuditRecord *r,
				   uint32 *violations, int *rule_line)
{
	JudgedFacts facts;
	AuditAttempt attempt;
	PolicySettings settings;
	bool		cacheable = !rules_loaded();

	memset(&facts, 0, sizeof(facts));
	facts.tls_version_number = r->tls_version_number;
	facts.cipher_id = r->cipher_id;
	facts.cipher_bits = r->cipher_bits;
	facts.auth_method_code = r->auth_method_code;
	facts.transport = r->transport;
	facts.ssl = r->ssl;
	facts.gss_encrypted = r->gss_encrypted;
	facts.forward_secrecy = r->forward_secrecy;
	facts.cert_verified = r->cert_verified;
	facts.cert_present = r->cert_present;
	facts.cert_key_type = r->cert_key_type;
	facts.cert_key_bits = r->cert_key_bits;
	facts.cert_security_bits = r->cert_security_bits;
	facts.cert_signature_digest = r->cert_signature_digest;
	if (cacheable && state->judged_once &&
		memcmp(&facts, &state->last_judged, sizeof(facts)) == 0)
	{
		*violations = state->last_violations;
		*rule_line = state->last_rule_line;
		return state->last_judged_by_mode;
	}

	record_to_attempt(r, &attempt);
	*rule_line = settings_for_record(state, &attempt, &settings);
	*violations = 0;
	if (settings.mode != MODE_OFF)
		*violations = judge_policy(&settings, &attempt);
	state->last_judged = facts;
	state->last_violations = *violations;
	state->last_rule_line = *rule_line;
	state->last_judged_by_mode = (settings.mode != MODE_OFF);
	state->judged_once = true;
	return settings.mode != MODE_OFF;
}

/*
 * The rules and GUCs that judge a record's client now.  The rule depends
 * only on the user, database, address and kind of connection, and runs of
 * records share them: the rules are matched once per run.
 */
static int
settings_for_record(AttemptScan *state, const AuditAttempt *a,
					PolicySettings *settings)
{
	if (!state->target_known ||
		a->replication != state->target_replication ||
		a->transport != state->target_transport ||
		!same_string(a->user_name, state->target_user) ||
		!same_string(a->database_name, state->target_database) ||
		!same_string(a->client_addr, state->target_addr))
	{
		if (state->target_known)
		{
			if (state->target_user)
				pfree(state->target_user);
			if (state->target_database)
				pfree(state->target_database);
			if (state->target_addr)
				pfree(state->target_addr);
		}
		state->target_rule_line =
			rules_settings_for_attempt(a, true, &state->target_settings);
		state->target_user = a->user_name ? pstrdup(a->user_name) : NULL;
		state->target_database = a->database_name ?
			pstrdup(a->database_name) : NULL;
		state->target_addr = a->client_addr ? pstrdup(a->client_addr) : NULL;
		state->target_replication = a->replication;
		state->target_transport = a->transport;
		state->target_known = true;
	}
	*settings = state->target_settings;
	return state->target_rule_line;
}

static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A zone id ("fe80::1%eth0") would make inet_in fail: capture.c drops it. */
static Datum
inet_datum(const char *value)
{
	char	   *address = pstrdup(value);

	clean_ipv6_addr(AF_INET6, address);
	return DirectFunctionCall1(inet_in, CStringGetDatum(address));
}

/* {protocol,cipher_bits} */
static Datum
violations_array(uint32 violations)
{
	Datum		names[VIOLATION_COUNT];
	int			count = 0;

	for (int i = 0; i < VIOLATION_COUNT; i++)
	{
		if (violations & (1 << i))
			names[count++] = CStringGetTextDatum(AuditViolationNames[i]);
	}
	return PointerGetDatum(construct_array(names, count, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * A string of the store, UTF-8, as text of the database.  A view must
 * answer whatever clients sent, so nothing here raises an error: in a
 * database whose encoding lacks a character, the character is written
 * \uHHHH (\UHHHHHHHH beyond U+FFFF), and a byte that is not valid UTF-8
 * \xHH, as the log line writes them.  A SQL_ASCII database takes the UTF-8
 * bytes as they are, as it takes every string.
 */
static Datum
view_text(const char *value)
{
	int			length = strlen(value);
	int			encoding = GetDatabaseEncoding();

	if (encoding == PG_SQL_ASCII ||
		(encoding == PG_UTF8 && pg_verify_mbstr(PG_UTF8, value, length, true)) ||
		is_ascii(value))
		return CStringGetTextDatum(value);
	return CStringGetTextDatum(escape_for_database(value, length));
}

static bool
is_ascii(const char *value)
{
	for (const char *p = value; *p; p++)
	{
		if (IS_HIGHBIT_SET(*p))
			return false;
	}
	return true;
}

static char *
escape_for_database(const char *value, int length)
{
	const unsigned char *p = (const unsigned char *) value;
	const unsigned char *end = p + length;
	int			encoding = GetDatabaseEncoding();
	StringInfoData buf;

	initStringInfo(&buf);
	while (p < end)
	{
		int			n = IS_HIGHBIT_SET(*p) ? pg_utf_mblen(p) : 1;

		if (n == 1 && !IS_HIGHBIT_SET(*p))
			appendStringInfoChar(&buf, (char) *p);
		else if (p + n <= end && pg_utf8_islegal(p, n))
		{
			append_character(&buf, p, n, encoding);
			p += n;
			continue;
		}
		else
			appendStringInfo(&buf, "\\x%02x", *p);
		p++;
	}
	return buf.data;
}

/*
 * One valid UTF-8 character, converted to the database encoding, or
 * escaped if the encoding lacks it.
 */
static void
append_character(StringInfo buf, const unsigned char *p, int length,
				 int encoding)
{
	pg_wchar	c = utf8_to_unicode(p);

	if (encoding == PG_UTF8)
	{
		appendBinaryStringInfo(buf, (const char *) p, length);
		return;
	}
	{
		static Oid	proc = InvalidOid;
		unsigned char converted[MAX_CONVERSION_GROWTH * 4 + 1];

		/* the database's encoding is fixed for the life of a backend */
		if (!OidIsValid(proc))
			proc = FindDefaultConversionProc(PG_UTF8, encoding);
		if (OidIsValid(proc) &&
			pg_do_encoding_conversion_buf(proc, PG_UTF8, encoding,
										  unconstify(unsigned char *, p),
										  length, converted,
										  sizeof(converted), true) == length)
		{
			appendStringInfoString(buf, (const char *) converted);
			return;
		}
	}
	if (c <= 0xFFFF)
		appendStringInfo(buf, "\\u%04x", c);
	else
		appendStringInfo(buf, "\\U%08x", c);
}

static Datum
serial_numeric(const char *serial)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(serial),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static bool
timestamp_value(TimestampTz value, Datum *datum)
{
	if (TIMESTAMP_NOT_FINITE(value))
		return false;
	*datum = TimestampTzGetDatum(value);
	return true;
}

Datum
pgtls_audit_summary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Visibility	visibility;
	AggregateEntry *entries;
	int			count;

	require_store();
	InitMaterializedSRF(fcinfo, 0);
	require_columns(fcinfo, rsinfo->setDesc, SUMMARY_COLUMNS);
	init_visibility(&visibility);
	count = store_copy_aggregates(&entries);

	for (int n = 0; n < count; n++)
	{
		AggregateEntry *e = &entries[n];
		Datum		values[SUMMARY_COLUMNS];
		bool		nulls[SUMMARY_COLUMNS] = {0};

		if (!role_visible(&visibility, e->key.role_oid))
			continue;
		nulls[0] = e->key.user_name[0] == '\0';
		values[0] = view_text(e->key.user_name);
		nulls[1] = e->key.database_name[0] == '\0';
		values[1] = view_text(e->key.database_name);
		values[2] = view_text(transport_name(e->key.transport));
		nulls[3] = e->key.tls_version[0] == '\0';
		values[3] = view_text(e->key.tls_version);
		nulls[4] = e->key.cipher[0] == '\0';
		values[4] = view_text(e->key.cipher);
		values[5] = view_text(outcome_name(e->key.outcome));
		values[6] = Int64GetDatum((int64) e->count);
		values[7] = TimestampTzGetDatum(e->first_seen);
		values[8] = TimestampTzGetDatum(e->last_seen);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pgtls_audit.status: 1.0.0 declares nine columns; 1.1.0 adds the
 * certificate inventory's three, under the symbol pgtls_audit_status_1_1.
 */
Datum
pgtls_audit_status(PG_FUNCTION_ARGS)
{
	return status_record(fcinfo, STATUS_COLUMNS_1_0);
}

Datum
pgtls_audit_status_1_1(PG_FUNCTION_ARGS)
{
	return status_record(fcinfo, STATUS_COLUMNS);
}

static Datum
status_record(FunctionCallInfo fcinfo, int columns)
{
	TupleDesc	tupdesc;
	StoreStatus status;
	Datum		values[STATUS_COLUMNS];
	bool		nulls[STATUS_COLUMNS] = {0};

	require_store();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	require_columns(fcinfo, tupdesc, columns);
	store_get_status(&status);

	values[0] = Int32GetDatum(status.history_size);
	values[1] = Int64GetDatum((int64) status.events_total);
	values[2] = Int64GetDatum((int64) status.events_retained);
	values[3] = Int64GetDatum((int64) status.events_overwritten);
	values[4] = Int32GetDatum(status.max_aggregates);
	values[5] = Int32GetDatum(status.aggregates);
	values[6] = Int64GetDatum((int64) status.aggregates_evicted);
	values[7] = Int32GetDatum(status.max_dn_length);
	values[8] = TimestampTzGetDatum(status.stats_reset);
	values[9] = Int32GetDatum(status.max_certificates);
	values[10] = Int32GetDatum(status.certificates);
	values[11] = Int64GetDatum((int64) status.certificates_evicted);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
pgtls_audit_reset(PG_FUNCTION_ARGS)
{
	require_store();
	store_reset();
	PG_RETURN_VOID();
}

/*
 * The certificate in ssl_cert_file, as it is on disk now (the server
 * reads it again at reload).  No row when ssl is off.
 */
Datum
pgtls_audit_server_certificate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *path = GetConfigOption("ssl_cert_file", false, false);
	const char *ssl = GetConfigOption("ssl", false, false);
	AuditAttempt facts;
	Datum		values[SERVER_CERTIFICATE_COLUMNS];
	bool		nulls[SERVER_CERTIFICATE_COLUMNS] = {0};
	BIO		   *bio;
	X509	   *cert;
	int			i = 0;

	require_store();
	InitMaterializedSRF(fcinfo, 0);
	require_columns(fcinfo, rsinfo->setDesc, SERVER_CERTIFICATE_COLUMNS);
	if (ssl == NULL || strcmp(ssl, "on") != 0 || path == NULL || path[0] == '\0')
		return (Datum) 0;

	bio = BIO_new_file(path, "r");
	cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (bio)
		BIO_free(bio);
	if (cert == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load server certificate file \"%s\"", path)));

	memset(&facts, 0, sizeof(facts));
	capture_certificate(cert, &facts);

	PUT_UTF8(facts.cert_subject);
	PUT_UTF8(facts.cert_issuer);
	PUT(serial_numeric(facts.cert_serial));
	PUT_TEXT(facts.cert_fingerprint);
	PUT_TIMESTAMP(facts.cert_not_before);
	PUT_TIMESTAMP(facts.cert_not_after);
	if (TIMESTAMP_NOT_FINITE(facts.cert_not_after))
		PUT_NULL();
	else
		PUT(Int32GetDatum((int32) ((facts.cert_not_after - GetCurrentTimestamp()) /
								   USECS_PER_DAY)));
	PUT_TEXT(facts.cert_key_algorithm);
	PUT(Int32GetDatum(facts.cert_key_bits));
	PUT_TEXT(facts.cert_signature_algorithm);
	PUT(subject_alt_names(cert));
	X509_free(cert);

	Assert(i == SERVER_CERTIFICATE_COLUMNS);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* {DNS:db.example.com,IP:10.0.0.1} */
static Datum
subject_alt_names(X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int			count = names ? sk_GENERAL_NAME_num(names) : 0;
	Datum	   *items = palloc(sizeof(Datum) * Max(count, 1));
	int			kept = 0;

	for (int n = 0; n < count; n++)
	{
		GENERAL_NAME *name = sk_GENERAL_NAME_value(names, n);
		ConfValueStack *parts = i2v_GENERAL_NAME(NULL, name, NULL);

		if (parts != NULL && sk_CONF_VALUE_num(parts) > 0)
		{
			CONF_VALUE *part = sk_CONF_VALUE_value(parts, 0);

			items[kept++] = view_text(psprintf("%s:%s", part->name,
											   part->value ? part->value : ""));
		}
		sk_CONF_VALUE_pop_free(parts, X509V3_conf_free);
	}
	if (names)
		GENERAL_NAMES_free(names);
	return PointerGetDatum(construct_array(items, kept, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * The client certificate inventory.  A row is visible if one of the roles
 * that used the certificate is (see role_visible); a certificate only
 * names that are no role presented, only to see_all.
 */
Datum
pgtls_audit_client_certificates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Visibility	visibility;
	CertificateRow *rows;
	Size		row_size;
	int			count;

	require_store();
	InitMaterializedSRF(fcinfo, 0);
	require_columns(fcinfo, rsinfo->setDesc, CLIENT_CERTIFICATE_COLUMNS);
	init_visibility(&visibility);
	count = store_copy_certificates(&rows, &row_size);

	for (int n = 0; n < count; n++)
	{
		CertificateRow *c = (CertificateRow *) ((char *) rows + row_size * n);
		Datum		values[CLIENT_CERTIFICATE_COLUMNS];
		bool		nulls[CLIENT_CERTIFICATE_COLUMNS];
		Datum		roles[CERTIFICATE_ROLES];
		int			role_names = 0;
		bool		visible = visibility.see_all;
		int			i = 0;

		for (int r = 0; r < c->role_count; r++)
		{
			char	   *name = GetUserNameFromId(c->roles[r], true);

			visible = visible || role_visible(&visibility, c->roles[r]);
			if (name != NULL)
				roles[role_names++] = CStringGetTextDatum(name);
		}
		if (!visible)
			continue;

		PUT(CStringGetTextDatum(c->fingerprint));
		PUT_UTF8(c->dns);
		PUT_UTF8(certificate_issuer(c));
		PUT(BoolGetDatum(c->subject_truncated));
		PUT(BoolGetDatum(c->issuer_truncated));
		if (c->serial[0] != '\0')
			PUT(serial_numeric(c->serial));
		else
			PUT_NULL();
		PUT_TIMESTAMP(c->not_before);
		PUT_TIMESTAMP(c->not_after);
		PUT_TEXT(c->key_algorithm);
		if (c->key_bits > 0)
			PUT(Int32GetDatum(c->key_bits));
		else
			PUT_NULL();
		PUT_TEXT(c->signature_algorithm);
		PUT(BoolGetDatum(c->verified));
		PUT(TimestampTzGetDatum(c->first_seen));
		PUT(TimestampTzGetDatum(c->last_seen));
		PUT(Int64GetDatum((int64) c->attempts));
		PUT(Int64GetDatum((int64) c->accepted));
		PUT(PointerGetDatum(construct_array(roles, role_names, TEXTOID, -1,
											false, TYPALIGN_INT)));
		if (c->client_addr[0] != '\0')
			PUT(inet_datum(c->client_addr));
		else
			PUT_NULL();
		Assert(i == CLIENT_CERTIFICATE_COLUMNS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Text elements as a text[]. */
static Datum
text_array(List *texts)
{
	Datum	   *items = palloc(sizeof(Datum) * Max(list_length(texts), 1));
	int			count = 0;
	ListCell   *lc;

	foreach(lc, texts)
		items[count++] = CStringGetTextDatum((const char *) lfirst(lc));
	return PointerGetDatum(construct_array(items, count, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

static Datum
rule_names(const RuleName *names, int count)
{
	List	   *texts = NIL;

	for (int n = 0; n < count; n++)
		texts = lappend(texts, (char *) names[n].text);
	return text_array(texts);
}

/*
 * The rules file as it is on disk now, one row per rule, with the error
 * of each invalid line, as pg_hba_file_rules shows pg_hba.conf: to check an
 * edit before reloading.  Reading the server's files takes the privileges
 * of pg_read_server_files, or the function's EXECUTE grant.
 */
Datum
pgtls_audit_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *path = rules_file_path();
	const RuleSet *set;

	require_store();
	InitMaterializedSRF(fcinfo, 0);
	require_columns(fcinfo, rsinfo->setDesc, RULES_COLUMNS);
	if (path == NULL)
		return (Datum) 0;

	set = rules_read_listing(path);
	if (set->error != NULL)
	{
		Datum		values[RULES_COLUMNS] = {0};
		bool		nulls[RULES_COLUMNS] = {true, true, true, true, true, true, false};

		values[6] = CStringGetTextDatum(set->error);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (int n = 0; n < set->count; n++)
	{
		const Rule *rule = &set->rules[n];
		Datum		values[RULES_COLUMNS];
		bool		nulls[RULES_COLUMNS];
		int			i = 0;

		PUT(Int32GetDatum(rule->line_number));
		if (rule->error != NULL)
		{
			while (i < RULES_COLUMNS - 1)
				PUT_NULL();
			PUT(CStringGetTextDatum(rule->error));
		}
		else
		{
			PUT(rule_names(rule->databases, rule->database_count));
			PUT(rule_names(rule->users, rule->user_count));
			PUT_TEXT(rule->address_text);
			PUT_TEXT(rule->netmask_text);
			PUT(text_array(rule->setting_texts));
			PUT_NULL();
		}
		Assert(i == RULES_COLUMNS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Which rule, and which effective settings, would judge user_name on
 * database_name from client_addr (NULL: the Unix-domain socket), under the
 * rules and GUCs in force in this backend.
 */
Datum
pgtls_audit_rule_for(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	PolicySettings settings;
	Datum		values[RULE_FOR_COLUMNS];
	bool		nulls[RULE_FOR_COLUMNS];
	char	   *user_name;
	char	   *database_name = NULL;
	char	   *client_addr = NULL;
	bool		replication = false;
	int			rule_line;
	int			i = 0;

	require_store();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("user name must not be null")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	require_columns(fcinfo, tupdesc, RULE_FOR_COLUMNS);
	user_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
		database_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
	{
		client_addr = DatumGetCString(DirectFunctionCall1(inet_out,
														  PG_GETARG_DATUM(2)));
		/* inet_out writes a host address without its /32 or /128 */
		if (strchr(client_addr, '/') != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("client address must be a host address, not a network")));
	}
	if (!PG_ARGISNULL(3))
		replication = PG_GETARG_BOOL(3);
	if (database_name == NULL && !replication)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("database name must not be null unless replication is true")));

	rule_line = rules_settings_for(user_name, database_name, replication,
								   client_addr, &settings);
	if (rule_line > 0)
		PUT(Int32GetDatum(rule_line));
	else
		PUT_NULL();
	for (int setting = 0; setting < SETTING_COUNT; setting++)
	{
		const char *text = policy_setting_text(&settings, setting);

		if (text != NULL)
			PUT(CStringGetTextDatum(text));
		else
			PUT_NULL();
	}
	Assert(i == RULE_FOR_COLUMNS);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*-------------------------------------------------------------------------
 *
 * policy.c
 *		What a connection is allowed to be: the policy GUCs and the verdict.
 *
 * Every policy GUC is PGC_SIGHUP: authentication runs before per-role and
 * per-database settings apply, and no user may weaken the policy with SET.
 * Whatever can be prepared once per configuration (the cipher allow-list,
 * the set of forbidden authentication methods) is prepared by the check
 * hooks when the configuration is loaded, in the postmaster, and inherited
 * by every backend; judging a connection is then a few comparisons.
 *
 * Only TCP connections are judged: a Unix-domain socket never leaves the
 * host.  The defaults are what a security review would ask of a new
 * deployment (see README.md, "Policy"), and mode = audit by default so that
 * loading the module never locks a client out before the operator has read
 * what it would refuse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "libpq/hba.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "pgtls_audit.h"

const char *const AuditViolationNames[VIOLATION_COUNT] = {
	"no_encryption",
	"protocol",
	"cipher",
	"cipher_bits",
	"forward_secrecy",
	"no_client_cert",
	"auth_method",
};

/* STACK_OF(SSL_CIPHER), spelled so that pg_bsd_indent reads a typedef */
typedef struct stack_st_SSL_CIPHER CipherStack;

/* The ciphers allowed by pgtls_audit.ciphers, as sorted OpenSSL ids. */
typedef struct CipherAllowList
{
	int			count;
	uint32		ids[FLEXIBLE_ARRAY_MEMBER];
} CipherAllowList;

/*---- GUC variables ----*/

int			pgtls_audit_mode = MODE_AUDIT;
static bool policy_require_ssl = true;
static int	policy_min_protocol_version = TLS1_2_VERSION;
static int	policy_min_cipher_bits = 128;
static char *policy_ciphers = NULL;
static bool policy_require_forward_secrecy = true;
static bool policy_require_client_cert = false;
static char *policy_forbidden_auth_methods = NULL;

/*
 * AEAD ciphers with an ephemeral key exchange only (Mozilla's
 * "intermediate" list for TLSv1.2): no CBC, no SHA-1 MAC, no RSA key
 * transport, no anonymous suites.
 */
#define DEFAULT_CIPHERS \
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"

/*
 * No authentication at all, a cleartext password, a replayable MD5 hash,
 * and an ident answer that the client host chooses.
 */
#define DEFAULT_FORBIDDEN_AUTH_METHODS "trust, password, md5, ident"

/* Prepared forms, set by the assign hooks. */
static const CipherAllowList *allowed_ciphers = NULL;
static uint32 forbidden_auth_mask = 0;

static const struct config_enum_entry mode_options[] = {
	{"off", MODE_OFF, false},
	{"audit", MODE_AUDIT, false},
	{"enforce", MODE_ENFORCE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry protocol_options[] = {
	{"TLSv1", TLS1_VERSION, false},
	{"TLSv1.1", TLS1_1_VERSION, false},
	{"TLSv1.2", TLS1_2_VERSION, false},
	{"TLSv1.3", TLS1_3_VERSION, false},
	{NULL, 0, false}
};

static bool check_ciphers(char **newval, void **extra, GucSource source);
static void assign_ciphers(const char *newval, void *extra);
static bool check_forbidden_auth_methods(char **newval, void **extra,
										 GucSource source);
static void assign_forbidden_auth_methods(const char *newval, void *extra);
static int	compare_cipher_ids(const void *a, const void *b);
static const char *protocol_name(int version);
static char *violation_list(uint32 violations);

void
define_policy_gucs(void)
{
	DefineCustomEnumVariable("pgtls_audit.mode",
							 "Sets whether connections are judged, and whether violating ones are rejected.",
							 "off does not judge; audit judges and logs but never rejects; enforce rejects violating connections.",
							 &pgtls_audit_mode,
							 MODE_AUDIT,
							 mode_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgtls_audit.require_ssl",
							 "Requires TCP connections to be encrypted by TLS or GSSAPI.",
							 NULL,
							 &policy_require_ssl,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.min_protocol_version",
							 "Sets the minimum TLS protocol version allowed.",
							 NULL,
							 &policy_min_protocol_version,
							 TLS1_2_VERSION,
							 protocol_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.min_cipher_bits",
							"Sets the minimum number of secret bits of the TLS cipher allowed.",
							"0 allows any cipher strength.",
							&policy_min_cipher_bits,
							128,
							0, 1024,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pgtls_audit.ciphers",
							   "Sets the TLS ciphers allowed below TLSv1.3, in OpenSSL cipher-string syntax.",
							   "An empty string allows every cipher.",
							   &policy_ciphers,
							   DEFAULT_CIPHERS,
							   PGC_SIGHUP,
							   0,
							   check_ciphers, assign_ciphers, NULL);

	DefineCustomBoolVariable("pgtls_audit.require_forward_secrecy",
							 "Requires TLS connections to use an ephemeral key exchange.",
							 NULL,
							 &policy_require_forward_secrecy,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgtls_audit.require_client_cert",
							 "Requires TCP connections to use TLS with a verified client certificate.",
							 NULL,
							 &policy_require_client_cert,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("pgtls_audit.forbidden_auth_methods",
							   "Sets the pg_hba.conf authentication methods forbidden for TCP connections.",
							   "A comma-separated list of pg_hba.conf method names such as \"trust, password, md5\".",
							   &policy_forbidden_auth_methods,
							   DEFAULT_FORBIDDEN_AUTH_METHODS,
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_forbidden_auth_methods,
							   assign_forbidden_auth_methods,
							   NULL);
}

/*
 * The policy violations of one attempt, as VIOLATION_* bits.  views.c
 * judges runs of records with equal JudgedFacts once: whatever this reads
 * of an attempt must be in that struct.  Unix-socket
 * connections are local and never judged.
 */
uint32
judge_attempt(const AuditAttempt *a)
{
	uint32		violations = 0;

	if (a->transport == TRANSPORT_UNIX)
		return 0;

	if (!a->ssl)
	{
		if (policy_require_ssl && !a->gss_encrypted)
			violations |= VIOLATION_NO_ENCRYPTION;

		/*
		 * Without TLS there is no certificate.  Judging only TLS sessions
		 * would let an sslmode=prefer client without a certificate in on its
		 * plaintext retry whenever require_ssl is off.
		 */
		if (policy_require_client_cert)
			violations |= VIOLATION_NO_CLIENT_CERT;
	}
	else
	{
		if (a->tls_version_number < policy_min_protocol_version)
			violations |= VIOLATION_PROTOCOL;
		if (allowed_ciphers != NULL &&
			a->tls_version_number < TLS1_3_VERSION &&
			bsearch(&a->cipher_id, allowed_ciphers->ids,
					allowed_ciphers->count, sizeof(uint32),
					compare_cipher_ids) == NULL)
			violations |= VIOLATION_CIPHER;
		if (a->cipher_bits < policy_min_cipher_bits)
			violations |= VIOLATION_CIPHER_BITS;
		if (policy_require_forward_secrecy && !a->forward_secrecy)
			violations |= VIOLATION_FORWARD_SECRECY;
		if (policy_require_client_cert && !a->cert_verified)
			violations |= VIOLATION_NO_CLIENT_CERT;
	}

	if (a->auth_method_code >= 0 &&
		(forbidden_auth_mask & (1 << a->auth_method_code)) != 0)
		violations |= VIOLATION_AUTH_METHOD;

	return violations;
}

/*
 * Refuse an authenticated connection that violates the policy, naming the
 * first violation in the primary message and all of them in the detail.
 * Only called after PostgreSQL's own authentication succeeded, so telling
 * the client why reveals nothing to a stranger.
 */
void
reject_attempt(const AuditAttempt *a)
{
	uint32		v = a->violations;
	char	   *all = violation_list(v);

#define REJECT(msg, hint) \
	ereport(FATAL, \
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), \
			 msg, \
			 errdetail("This connection violates the server's connection security policy: %s.", all), \
			 hint))

	if (v & VIOLATION_NO_ENCRYPTION)
		REJECT(errmsg("connection rejected: encryption is required"),
			   errhint("Connect with sslmode=require or stronger, or with gssencmode=require."));
	if (v & VIOLATION_PROTOCOL)
		REJECT(errmsg("connection rejected: TLS protocol version %s is below the allowed minimum %s",
					  a->tls_version,
					  protocol_name(policy_min_protocol_version)),
			   errhint("Use a client and TLS library that can negotiate %s or later.",
					   protocol_name(policy_min_protocol_version)));
	if (v & VIOLATION_CIPHER)
		REJECT(errmsg("connection rejected: TLS cipher %s is not allowed",
					  a->cipher),
			   errhint("Allow the client to negotiate TLSv1.3 or a cipher allowed by the server."));
	if (v & VIOLATION_CIPHER_BITS)
		REJECT(errmsg("connection rejected: TLS cipher %s has %d bits, below the allowed minimum of %d",
					  a->cipher, a->cipher_bits, policy_min_cipher_bits),
			   errhint("Allow the client to negotiate a stronger cipher."));
	if (v & VIOLATION_FORWARD_SECRECY)
		REJECT(errmsg("connection rejected: TLS cipher %s does not provide forward secrecy",
					  a->cipher),
			   errhint("Allow the client to negotiate an ECDHE or DHE cipher, or TLSv1.3."));
	if (v & VIOLATION_NO_CLIENT_CERT)
		REJECT(errmsg("connection rejected: a verified client certificate is required"),
			   errhint("Connect over TLS with a client certificate signed by a certificate authority the server trusts (sslcert, sslkey)."));
	if (v & VIOLATION_AUTH_METHOD)
		REJECT(errmsg("connection rejected: authentication method \"%s\" is not allowed",
					  a->auth_method),
			   errhint("Ask the server administrator to authenticate this connection with SCRAM or a client certificate."));

#undef REJECT

	elog(FATAL, "pgtls_audit rejected a connection without a violation");
}

/* "protocol, cipher_bits" */
static char *
violation_list(uint32 violations)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < VIOLATION_COUNT; i++)
	{
		if ((violations & (1 << i)) == 0)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, AuditViolationNames[i]);
	}
	return buf.data;
}

static const char *
protocol_name(int version)
{
	for (const struct config_enum_entry *e = protocol_options; e->name; e++)
	{
		if (e->val == version)
			return e->name;
	}
	return "unknown";
}

/*
 * Let OpenSSL evaluate the cipher string, exactly as it would for
 * ssl_ciphers, and keep the ids of the ciphers it selects.  The security
 * level is 0 so that the allow-list is what the string says, not what the
 * system's OpenSSL configuration would also forbid.
 */
static bool
check_ciphers(char **newval, void **extra, GucSource source)
{
	SSL_CTX    *context;
	CipherStack *ciphers;
	CipherAllowList *list;
	int			count;

	if (**newval == '\0')
	{
		*extra = NULL;
		return true;
	}

	context = SSL_CTX_new(TLS_method());
	if (context == NULL)
	{
		ERR_clear_error();
		GUC_check_errdetail("Could not create an OpenSSL context.");
		return false;
	}
	SSL_CTX_set_security_level(context, 0);
	if (SSL_CTX_set_cipher_list(context, *newval) != 1)
	{
		/* leave no stale error behind for the TLS code of this process */
		ERR_clear_error();
		SSL_CTX_free(context);
		GUC_check_errdetail("OpenSSL selects no cipher for the cipher string \"%s\".",
							*newval);
		return false;
	}

	ciphers = SSL_CTX_get_ciphers(context);
	count = ciphers ? sk_SSL_CIPHER_num(ciphers) : 0;
	list = pgtls_guc_malloc(offsetof(CipherAllowList, ids) + Max(count, 1) * sizeof(uint32));
	if (list == NULL)
	{
		SSL_CTX_free(context);
		return false;
	}
	list->count = 0;
	for (int i = 0; i < count; i++)
	{
		const SSL_CIPHER *cipher = sk_SSL_CIPHER_value(ciphers, i);

		/* TLSv1.3 suites are governed by ssl settings, not by this list */
		if (strcmp(SSL_CIPHER_get_version(cipher), "TLSv1.3") == 0)
			continue;
		list->ids[list->count++] = SSL_CIPHER_get_id(cipher);
	}
	SSL_CTX_free(context);

	if (list->count == 0)
	{
		pgtls_guc_free(list);
		GUC_check_errdetail("OpenSSL selects no TLSv1.2 or older cipher for the cipher string \"%s\".",
							*newval);
		return false;
	}
	qsort(list->ids, list->count, sizeof(uint32), compare_cipher_ids);
	*extra = list;
	return true;
}

static void
assign_ciphers(const char *newval, void *extra)
{
	allowed_ciphers = (const CipherAllowList *) extra;
}

static int
compare_cipher_ids(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return (x > y) - (x < y);
}

static bool
check_forbidden_auth_methods(char **newval, void **extra, GucSource source)
{
	char	   *rawstring = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;
	uint32		mask = 0;
	uint32	   *result;

	if (!SplitIdentifierString(rawstring, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		pfree(rawstring);
		list_free(names);
		return false;
	}

	foreach(lc, names)
	{
		const char *name = (const char *) lfirst(lc);
		int			method;

		for (method = uaTrust; method <= USER_AUTH_LAST; method++)
		{
			if (strcmp(name, hba_authname((UserAuth) method)) == 0)
				break;
		}
		if (method > USER_AUTH_LAST)
		{
			GUC_check_errdetail("Unrecognized authentication method: \"%s\".", name);
			pfree(rawstring);
			list_free(names);
			return false;
		}
		mask |= 1 << method;
	}
	pfree(rawstring);
	list_free(names);

	result = pgtls_guc_malloc(sizeof(uint32));
	if (result == NULL)
		return false;
	*result = mask;
	*extra = result;
	return true;
}

static void
assign_forbidden_auth_methods(const char *newval, void *extra)
{
	forbidden_auth_mask = *(const uint32 *) extra;
}

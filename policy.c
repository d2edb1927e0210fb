/*-------------------------------------------------------------------------
 *
 * policy.c
 *		What a connection is allowed to be: the policy GUCs and the verdict.
 *
 * Every policy GUC is PGC_SIGHUP: authentication runs before per-role and
 * per-database settings apply, and no user may weaken the policy with SET.
 * Whatever can be prepared once per configuration (the cipher allow-list,
 * the sets of forbidden authentication methods and signature digests) is
 * prepared by the check hooks when the configuration is loaded, in the
 * postmaster, and inherited by every backend; judging a connection is then
 * a few comparisons.
 *
 * The client certificate's strength is judged from the facts capture.c
 * reads once per attempt (key type, size and security strength, the
 * digest of its signature), so that judging it costs a switch and a short
 * table walk, and a stored record can be judged again the same way.
 *
 * A rule of the rules file (rules.c) may override any of these settings for
 * the attempts it matches, and add two of its own, cert_issuer and
 * cert_subject: policy_parse_setting reads a rule's "name=value" with the
 * same syntax and validation as the GUC, and judge_policy judges an
 * attempt against one complete PolicySettings, whichever source it has.
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

#include "catalog/pg_collation.h"
#include "libpq/hba.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "compat.h"
#include "pgtls_audit.h"
#include "policy.h"

const char *const AuditViolationNames[VIOLATION_COUNT] = {
	"no_encryption",
	"protocol",
	"cipher",
	"cipher_bits",
	"forward_secrecy",
	"no_client_cert",
	"auth_method",
	"cert_identity",
	"cert_key",
	"cert_signature",
};

const char *const PolicySettingNames[SETTING_COUNT] = {
	"mode",
	"require_ssl",
	"min_protocol_version",
	"min_cipher_bits",
	"ciphers",
	"require_forward_secrecy",
	"require_client_cert",
	"forbidden_auth_methods",
	"min_cert_rsa_bits",
	"min_cert_ec_bits",
	"forbidden_cert_signature_algorithms",
	"cert_issuer",
	"cert_subject",
};

/* STACK_OF(SSL_CIPHER), spelled so that pg_bsd_indent reads a typedef */
typedef struct stack_st_SSL_CIPHER CipherStack;

/*---- GUC variables ----*/

int			pgtls_audit_mode = MODE_AUDIT;
static bool policy_require_ssl = true;
static int	policy_min_protocol_version = TLS1_2_VERSION;
static int	policy_min_cipher_bits = 128;
static char *policy_ciphers = NULL;
static bool policy_require_forward_secrecy = true;
static bool policy_require_client_cert = false;
static char *policy_forbidden_auth_methods = NULL;
static int	policy_min_cert_rsa_bits = 2048;
static int	policy_min_cert_ec_bits = 256;
static char *policy_forbidden_cert_signature_algorithms = NULL;

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

/*
 * Digests with practical collision attacks: a certificate signed with one
 * can be forged (MD5 in 2008, SHA-1 in 2020).
 */
#define DEFAULT_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS "md5, sha1"

/*
 * The largest minima worth stating: no RSA key above 16384 bits is in use,
 * and the largest curve OpenSSL knows has 571 bits.
 */
#define MAX_CERT_RSA_BITS	16384
#define MAX_CERT_EC_BITS	571

/*
 * The digests a certificate's signature may use, by the names that
 * forbidden_cert_signature_algorithms accepts (OpenSSL's, in lower case).
 * A setting is a mask of positions in this table.
 */
typedef struct SignatureDigest
{
	const char *name;
	int			nid;
} SignatureDigest;

static const SignatureDigest signature_digests[] = {
	{"md2", NID_md2},
	{"md4", NID_md4},
	{"md5", NID_md5},
	{"sha1", NID_sha1},
	{"sha224", NID_sha224},
	{"sha256", NID_sha256},
	{"sha384", NID_sha384},
	{"sha512", NID_sha512},
	{"sha512-224", NID_sha512_224},
	{"sha512-256", NID_sha512_256},
	{"sha3-224", NID_sha3_224},
	{"sha3-256", NID_sha3_256},
	{"sha3-384", NID_sha3_384},
	{"sha3-512", NID_sha3_512},
	{"sm3", NID_sm3},
};

/* Prepared forms, set by the assign hooks. */
static const CipherAllowList *allowed_ciphers = NULL;
static uint32 forbidden_auth_mask = 0;
static uint32 forbidden_signature_mask = 0;

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
static bool check_forbidden_cert_signature_algorithms(char **newval,
													  void **extra,
													  GucSource source);
static void assign_forbidden_cert_signature_algorithms(const char *newval,
													   void *extra);
static bool check_name_list(char **newval, void **extra,
							bool (*to_mask) (const char *list, uint32 *mask,
											 char **error));
static CipherAllowList *cipher_allow_list(const char *ciphers, char **error);
static bool name_list_mask(const char *list, int (*position) (const char *name),
						   const char *kind, uint32 *result, char **error);
static bool auth_method_mask(const char *methods, uint32 *mask, char **error);
static int	auth_method_position(const char *name);
static bool signature_digest_mask(const char *digests, uint32 *mask,
								  char **error);
static int	signature_digest_position(const char *name);
static int	digest_position(int nid);
static bool cert_key_strength(const PolicySettings *settings,
							  const AuditAttempt *attempt,
							  int *strength, int *minimum);
static bool enum_value(const struct config_enum_entry *options,
					   const char *value, int *result);
static bool dn_pattern(const char *value, DnPattern *pattern, char **error);
static void free_regex(void *arg);
static bool dn_matches(const DnPattern *pattern, const char *dn);
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

	DefineCustomIntVariable("pgtls_audit.min_cert_rsa_bits",
							"Sets the minimum size in bits of an RSA or DSA client certificate key allowed.",
							"0 allows any size.",
							&policy_min_cert_rsa_bits,
							2048,
							0, MAX_CERT_RSA_BITS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.min_cert_ec_bits",
							"Sets the minimum size in bits of an elliptic-curve client certificate key allowed.",
							"Other keys, such as Ed25519, need half as many bits of security strength; 0 allows any key.",
							&policy_min_cert_ec_bits,
							256,
							0, MAX_CERT_EC_BITS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pgtls_audit.forbidden_cert_signature_algorithms",
							   "Sets the digests forbidden in the signature of a client certificate.",
							   "A comma-separated list of digest names such as \"md5, sha1\".",
							   &policy_forbidden_cert_signature_algorithms,
							   DEFAULT_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS,
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_forbidden_cert_signature_algorithms,
							   assign_forbidden_cert_signature_algorithms,
							   NULL);
}

/* The settings the GUCs state now, for the attempts no rule matches. */
void
policy_guc_settings(PolicySettings *s)
{
	memset(s, 0, sizeof(PolicySettings));
	s->mode = pgtls_audit_mode;
	s->require_ssl = policy_require_ssl;
	s->min_protocol_version = policy_min_protocol_version;
	s->min_cipher_bits = policy_min_cipher_bits;
	s->ciphers = policy_ciphers;
	s->allowed_ciphers = allowed_ciphers;
	s->require_forward_secrecy = policy_require_forward_secrecy;
	s->require_client_cert = policy_require_client_cert;
	s->forbidden_auth_methods = policy_forbidden_auth_methods;
	s->forbidden_auth_mask = forbidden_auth_mask;
	s->min_cert_rsa_bits = policy_min_cert_rsa_bits;
	s->min_cert_ec_bits = policy_min_cert_ec_bits;
	s->forbidden_cert_signature_algorithms =
		policy_forbidden_cert_signature_algorithms;
	s->forbidden_signature_mask = forbidden_signature_mask;
}

/*
 * Read one "name=value" setting of a rule into *s and mark it in *set_mask,
 * with the syntax and validation of the GUC of that name.  Memory comes
 * from CurrentMemoryContext; a regular expression is freed with it.  On a
 * bad name or value, returns false with a message in *error.
 */
bool
policy_parse_setting(const char *name, const char *value, PolicySettings *s,
					 uint32 *set_mask, char **error)
{
	int			setting;
	bool		ok = true;

	for (setting = 0; setting < SETTING_COUNT; setting++)
	{
		if (strcmp(name, PolicySettingNames[setting]) == 0)
			break;
	}
	if (setting == SETTING_COUNT)
	{
		*error = psprintf("unrecognized setting \"%s\"", name);
		return false;
	}
	if (*set_mask & (1 << setting))
	{
		*error = psprintf("setting \"%s\" is given more than once", name);
		return false;
	}

	switch ((PolicySetting) setting)
	{
		case SETTING_MODE:
			ok = enum_value(mode_options, value, &s->mode);
			break;
		case SETTING_REQUIRE_SSL:
			ok = parse_bool(value, &s->require_ssl);
			break;
		case SETTING_MIN_PROTOCOL_VERSION:
			ok = enum_value(protocol_options, value, &s->min_protocol_version);
			break;
		case SETTING_MIN_CIPHER_BITS:
			ok = parse_int(value, &s->min_cipher_bits, 0, NULL) &&
				s->min_cipher_bits >= 0 && s->min_cipher_bits <= 1024;
			break;
		case SETTING_CIPHERS:
			s->ciphers = pstrdup(value);
			s->allowed_ciphers = NULL;
			if (value[0] != '\0')
			{
				s->allowed_ciphers = cipher_allow_list(value, error);
				if (s->allowed_ciphers == NULL)
					return false;
			}
			break;
		case SETTING_REQUIRE_FORWARD_SECRECY:
			ok = parse_bool(value, &s->require_forward_secrecy);
			break;
		case SETTING_REQUIRE_CLIENT_CERT:
			ok = parse_bool(value, &s->require_client_cert);
			break;
		case SETTING_FORBIDDEN_AUTH_METHODS:
			if (!auth_method_mask(value, &s->forbidden_auth_mask, error))
				return false;
			s->forbidden_auth_methods = pstrdup(value);
			break;
		case SETTING_MIN_CERT_RSA_BITS:
			ok = parse_int(value, &s->min_cert_rsa_bits, 0, NULL) &&
				s->min_cert_rsa_bits >= 0 &&
				s->min_cert_rsa_bits <= MAX_CERT_RSA_BITS;
			break;
		case SETTING_MIN_CERT_EC_BITS:
			ok = parse_int(value, &s->min_cert_ec_bits, 0, NULL) &&
				s->min_cert_ec_bits >= 0 &&
				s->min_cert_ec_bits <= MAX_CERT_EC_BITS;
			break;
		case SETTING_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS:
			if (!signature_digest_mask(value, &s->forbidden_signature_mask,
									   error))
				return false;
			s->forbidden_cert_signature_algorithms = pstrdup(value);
			break;
		case SETTING_CERT_ISSUER:
			if (!dn_pattern(value, &s->cert_issuer, error))
				return false;
			break;
		case SETTING_CERT_SUBJECT:
			if (!dn_pattern(value, &s->cert_subject, error))
				return false;
			break;
		case SETTING_COUNT:
			break;
	}
	if (!ok)
	{
		*error = psprintf("invalid value for setting \"%s\": \"%s\"",
						  name, value);
		return false;
	}
	*set_mask |= 1 << setting;
	return true;
}

/* Replace the settings of *s that set_mask names by those of *overrides. */
void
policy_overlay(PolicySettings *s, const PolicySettings *o, uint32 set_mask)
{
	if (set_mask & (1 << SETTING_MODE))
		s->mode = o->mode;
	if (set_mask & (1 << SETTING_REQUIRE_SSL))
		s->require_ssl = o->require_ssl;
	if (set_mask & (1 << SETTING_MIN_PROTOCOL_VERSION))
		s->min_protocol_version = o->min_protocol_version;
	if (set_mask & (1 << SETTING_MIN_CIPHER_BITS))
		s->min_cipher_bits = o->min_cipher_bits;
	if (set_mask & (1 << SETTING_CIPHERS))
	{
		s->ciphers = o->ciphers;
		s->allowed_ciphers = o->allowed_ciphers;
	}
	if (set_mask & (1 << SETTING_REQUIRE_FORWARD_SECRECY))
		s->require_forward_secrecy = o->require_forward_secrecy;
	if (set_mask & (1 << SETTING_REQUIRE_CLIENT_CERT))
		s->require_client_cert = o->require_client_cert;
	if (set_mask & (1 << SETTING_FORBIDDEN_AUTH_METHODS))
	{
		s->forbidden_auth_methods = o->forbidden_auth_methods;
		s->forbidden_auth_mask = o->forbidden_auth_mask;
	}
	if (set_mask & (1 << SETTING_MIN_CERT_RSA_BITS))
		s->min_cert_rsa_bits = o->min_cert_rsa_bits;
	if (set_mask & (1 << SETTING_MIN_CERT_EC_BITS))
		s->min_cert_ec_bits = o->min_cert_ec_bits;
	if (set_mask & (1 << SETTING_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS))
	{
		s->forbidden_cert_signature_algorithms =
			o->forbidden_cert_signature_algorithms;
		s->forbidden_signature_mask = o->forbidden_signature_mask;
	}
	if (set_mask & (1 << SETTING_CERT_ISSUER))
		s->cert_issuer = o->cert_issuer;
	if (set_mask & (1 << SETTING_CERT_SUBJECT))
		s->cert_subject = o->cert_subject;
}

/* One setting as text, as pg_settings would show it; NULL if not set. */
const char *
policy_setting_text(const PolicySettings *s, PolicySetting setting)
{
	switch (setting)
	{
		case SETTING_MODE:
			for (const struct config_enum_entry *e = mode_options; e->name; e++)
			{
				if (e->val == s->mode)
					return pstrdup(e->name);
			}
			return NULL;
		case SETTING_REQUIRE_SSL:
			return pstrdup(s->require_ssl ? "on" : "off");
		case SETTING_MIN_PROTOCOL_VERSION:
			return pstrdup(protocol_name(s->min_protocol_version));
		case SETTING_MIN_CIPHER_BITS:
			return psprintf("%d", s->min_cipher_bits);
		case SETTING_CIPHERS:
			return s->ciphers ? pstrdup(s->ciphers) : NULL;
		case SETTING_REQUIRE_FORWARD_SECRECY:
			return pstrdup(s->require_forward_secrecy ? "on" : "off");
		case SETTING_REQUIRE_CLIENT_CERT:
			return pstrdup(s->require_client_cert ? "on" : "off");
		case SETTING_FORBIDDEN_AUTH_METHODS:
			return s->forbidden_auth_methods ?
				pstrdup(s->forbidden_auth_methods) : NULL;
		case SETTING_MIN_CERT_RSA_BITS:
			return psprintf("%d", s->min_cert_rsa_bits);
		case SETTING_MIN_CERT_EC_BITS:
			return psprintf("%d", s->min_cert_ec_bits);
		case SETTING_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS:
			return s->forbidden_cert_signature_algorithms ?
				pstrdup(s->forbidden_cert_signature_algorithms) : NULL;
		case SETTING_CERT_ISSUER:
			return s->cert_issuer.text ? pstrdup(s->cert_issuer.text) : NULL;
		case SETTING_CERT_SUBJECT:
			return s->cert_subject.text ? pstrdup(s->cert_subject.text) : NULL;
		case SETTING_COUNT:
			break;
	}
	return NULL;
}

/*
 * The policy violations of one attempt under the settings *s, as
 * VIOLATION_* bits.  views.c judges runs of records with equal JudgedFacts
 * once: whatever this reads of an attempt must be in that struct, except
 * the certificate's names, which only settings with cert_issuer or
 * cert_subject read.  Unix-socket connections are local and never judged.
 */
uint32
judge_policy(const PolicySettings *s, const AuditAttempt *a)
{
	uint32		violations = 0;

	if (a->transport == TRANSPORT_UNIX)
		return 0;

	if (!a->ssl)
	{
		if (s->require_ssl && !a->gss_encrypted)
			violations |= VIOLATION_NO_ENCRYPTION;

		/*
		 * Without TLS there is no certificate.  Judging only TLS sessions
		 * would let an sslmode=prefer client without a certificate in on its
		 * plaintext retry whenever require_ssl is off.
		 */
		if (s->require_client_cert)
			violations |= VIOLATION_NO_CLIENT_CERT;
	}
	else
	{
		if (a->tls_version_number < s->min_protocol_version)
			violations |= VIOLATION_PROTOCOL;
		if (s->allowed_ciphers != NULL &&
			a->tls_version_number < TLS1_3_VERSION &&
			bsearch(&a->cipher_id, s->allowed_ciphers->ids,
					s->allowed_ciphers->count, sizeof(uint32),
					compare_cipher_ids) == NULL)
			violations |= VIOLATION_CIPHER;
		if (a->cipher_bits < s->min_cipher_bits)
			violations |= VIOLATION_CIPHER_BITS;
		if (s->require_forward_secrecy && !a->forward_secrecy)
			violations |= VIOLATION_FORWARD_SECRECY;
		if (s->require_client_cert && !a->cert_verified)
			violations |= VIOLATION_NO_CLIENT_CERT;

		/* verified or not, the certificate the client presented */
		if (a->cert_present)
		{
			int			strength;
			int			minimum;

			cert_key_strength(s, a, &strength, &minimum);
			if (strength < minimum)
				violations |= VIOLATION_CERT_KEY;
			if (s->forbidden_signature_mask != 0)
			{
				int			digest = digest_position(a->cert_signature_digest);

				if (digest >= 0 &&
					(s->forbidden_signature_mask & (1 << digest)) != 0)
					violations |= VIOLATION_CERT_SIGNATURE;
			}
		}
	}

	/* a required identity needs a verified certificate that carries it */
	if ((s->cert_issuer.text != NULL || s->cert_subject.text != NULL) &&
		(!a->ssl || !a->cert_verified ||
		 !dn_matches(&s->cert_issuer, a->cert_issuer) ||
		 !dn_matches(&s->cert_subject, a->cert_subject)))
		violations |= VIOLATION_CERT_IDENTITY;

	if (a->auth_method_code >= 0 &&
		(s->forbidden_auth_mask & (1 << a->auth_method_code)) != 0)
		violations |= VIOLATION_AUTH_METHOD;

	return violations;
}

/*
 * Refuse an authenticated connection that violates the settings *s,
 * naming the first violation in the primary message and all of them in the
 * detail.  Only called after PostgreSQL's own authentication succeeded, so
 * telling the client why reveals nothing to a stranger.
 */
void
reject_attempt(const AuditAttempt *a, const PolicySettings *s)
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
					  protocol_name(s->min_protocol_version)),
			   errhint("Use a client and TLS library that can negotiate %s or later.",
					   protocol_name(s->min_protocol_version)));
	if (v & VIOLATION_CIPHER)
		REJECT(errmsg("connection rejected: TLS cipher %s is not allowed",
					  a->cipher),
			   errhint("Allow the client to negotiate TLSv1.3 or a cipher allowed by the server."));
	if (v & VIOLATION_CIPHER_BITS)
		REJECT(errmsg("connection rejected: TLS cipher %s has %d bits, below the allowed minimum of %d",
					  a->cipher, a->cipher_bits, s->min_cipher_bits),
			   errhint("Allow the client to negotiate a stronger cipher."));
	if (v & VIOLATION_FORWARD_SECRECY)
		REJECT(errmsg("connection rejected: TLS cipher %s does not provide forward secrecy",
					  a->cipher),
			   errhint("Allow the client to negotiate an ECDHE or DHE cipher, or TLSv1.3."));
	if (v & VIOLATION_NO_CLIENT_CERT)
		REJECT(errmsg("connection rejected: a verified client certificate is required"),
			   errhint("Connect over TLS with a client certificate signed by a certificate authority the server trusts (sslcert, sslkey)."));
	if (v & VIOLATION_CERT_IDENTITY)
		REJECT(errmsg("connection rejected: the client certificate does not carry the identity required for this connection"),
			   errhint("Connect with the client certificate the server administrator issued for this role and address."));
	if (v & VIOLATION_CERT_KEY)
	{
		const char *algorithm = a->cert_key_algorithm;
		int			strength;
		int			minimum;

		if (algorithm == NULL)
			algorithm = "of unknown type";

		if (cert_key_strength(s, a, &strength, &minimum))
			REJECT(errmsg("connection rejected: client certificate key %s has a security strength of %d bits, below the allowed minimum of %d",
						  algorithm, strength, minimum),
				   errhint("Connect with a client certificate that has a stronger key."));
		REJECT(errmsg("connection rejected: client certificate key %s has %d bits, below the allowed minimum of %d",
					  algorithm, strength, minimum),
			   errhint("Connect with a client certificate that has a stronger key."));
	}
	if (v & VIOLATION_CERT_SIGNATURE)
		REJECT(errmsg("connection rejected: client certificate signature digest \"%s\" is not allowed",
					  signature_digests[digest_position(a->cert_signature_digest)].name),
			   errhint("Connect with a client certificate that its certificate authority signed with an allowed digest, such as SHA-256."));
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

/* An enum value as the GUC machinery reads it: case does not matter. */
static bool
enum_value(const struct config_enum_entry *options, const char *value,
		   int *result)
{
	for (const struct config_enum_entry *e = options; e->name; e++)
	{
		if (pg_strcasecmp(value, e->name) == 0)
		{
			*result = e->val;
			return true;
		}
	}
	return false;
}

/*
 * A DN setting: a regular expression after a leading "/", as in
 * pg_ident.conf, else the exact RFC 2253 text pgtls_audit logs.  The
 * expression is compiled here, once per configuration, with the C
 * collation (no database is needed) on the DN's bytes, so that the
 * postmaster and every backend read it alike.
 */
static bool
dn_pattern(const char *value, DnPattern *pattern, char **error)
{
	pg_wchar   *wide;
	int			length;
	int			rc;
	MemoryContextCallback *callback;

	pattern->text = pstrdup(value);
	pattern->regex = NULL;
	if (value[0] == '\0')
	{
		*error = pstrdup("a distinguished name or a regular expression must not be empty");
		return false;
	}
	if (value[0] != '/')
		return true;

	wide = palloc((strlen(value) + 1) * sizeof(pg_wchar));
	length = pg_encoding_mb2wchar_with_len(PG_SQL_ASCII, value + 1, wide,
										   strlen(value + 1));
	pattern->regex = palloc(sizeof(regex_t));
	rc = pg_regcomp(pattern->regex, wide, length, REG_ADVANCED, C_COLLATION_OID);
	pfree(wide);
	if (rc != REG_OKAY)
	{
		char		message[100];

		pg_regerror(rc, pattern->regex, message, sizeof(message));
		*error = psprintf("invalid regular expression \"%s\": %s",
						  value + 1, message);
		pattern->regex = NULL;
		return false;
	}
	callback = palloc(sizeof(MemoryContextCallback));
	callback->func = free_regex;
	callback->arg = pattern->regex;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, callback);
	return true;
}

static void
free_regex(void *arg)
{
	pg_regfree((regex_t *) arg);
}

/* Whether dn satisfies the pattern; any dn does when none is required. */
static bool
dn_matches(const DnPattern *pattern, const char *dn)
{
	pg_wchar   *wide;
	int			length;
	int			rc;

	if (pattern->text == NULL)
		return true;
	if (dn == NULL)
		return false;
	if (pattern->regex == NULL)
		return strcmp(pattern->text, dn) == 0;

	wide = palloc((strlen(dn) + 1) * sizeof(pg_wchar));
	length = pg_encoding_mb2wchar_with_len(PG_SQL_ASCII, dn, wide, strlen(dn));
	rc = pg_regexec(pattern->regex, wide, length, 0, NULL, 0, NULL, 0);
	pfree(wide);
	return rc == REG_OKAY;
}

/*
 * Let OpenSSL evaluate the cipher string, exactly as it would for
 * ssl_ciphers, and keep the ids of the ciphers it selects, palloc'd.  The
 * security level is 0 so that the allow-list is what the string says, not
 * what the system's OpenSSL configuration would also forbid.
 */
static CipherAllowList *
cipher_allow_list(const char *cipher_string, char **error)
{
	SSL_CTX    *context;
	CipherStack *ciphers;
	CipherAllowList *list;
	int			count;

	context = SSL_CTX_new(TLS_method());
	if (context == NULL)
	{
		ERR_clear_error();
		*error = pstrdup("could not create an OpenSSL context");
		return NULL;
	}
	SSL_CTX_set_security_level(context, 0);
	if (SSL_CTX_set_cipher_list(context, cipher_string) != 1)
	{
		/* leave no stale error behind for the TLS code of this process */
		ERR_clear_error();
		SSL_CTX_free(context);
		*error = psprintf("OpenSSL selects no cipher for the cipher string \"%s\"",
						  cipher_string);
		return NULL;
	}

	ciphers = SSL_CTX_get_ciphers(context);
	count = ciphers ? sk_SSL_CIPHER_num(ciphers) : 0;
	list = palloc(offsetof(CipherAllowList, ids) + Max(count, 1) * sizeof(uint32));
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
		pfree(list);
		*error = psprintf("OpenSSL selects no TLSv1.2 or older cipher for the cipher string \"%s\"",
						  cipher_string);
		return NULL;
	}
	qsort(list->ids, list->count, sizeof(uint32), compare_cipher_ids);
	return list;
}

static bool
check_ciphers(char **newval, void **extra, GucSource source)
{
	CipherAllowList *list;
	CipherAllowList *copy;
	char	   *error;
	Size		size;

	if (**newval == '\0')
	{
		*extra = NULL;
		return true;
	}
	list = cipher_allow_list(*newval, &error);
	if (list == NULL)
	{
		GUC_check_errdetail("%c%s.", pg_toupper((unsigned char) error[0]),
							error + 1);
		return false;
	}
	size = offsetof(CipherAllowList, ids) + list->count * sizeof(uint32);
	copy = pgtls_guc_malloc(size);
	if (copy == NULL)
		return false;
	memcpy(copy, list, size);
	pfree(list);
	*extra = copy;
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

/*
 * The strength of the client certificate's key and the minimum it must
 * reach under the settings *s; the minimum is 0 when nothing is required.
 * RSA and DSA keys compare their size with min_cert_rsa_bits (a DSA key of
 * a given size is as strong as an RSA key of that size), elliptic-curve
 * keys theirs with min_cert_ec_bits.  Any other key (Ed25519, Ed448)
 * compares its security strength with the strength such a curve gives,
 * half its size: Ed25519 (128) is as strong as P-256, Ed448 (224) falls
 * between P-384 and P-521.  A key whose strength OpenSSL cannot tell has
 * none.  Returns true when the strength is a security strength.
 */
static bool
cert_key_strength(const PolicySettings *s, const AuditAttempt *a,
				  int *strength, int *minimum)
{
	switch (a->cert_key_type)
	{
		case EVP_PKEY_RSA:
		case EVP_PKEY_RSA_PSS:
		case EVP_PKEY_DSA:
			*strength = a->cert_key_bits;
			*minimum = s->min_cert_rsa_bits;
			return false;
		case EVP_PKEY_EC:
		case EVP_PKEY_SM2:
			*strength = a->cert_key_bits;
			*minimum = s->min_cert_ec_bits;
			return false;
		default:
			*strength = a->cert_security_bits;
			*minimum = (s->min_cert_ec_bits + 1) / 2;
			return true;
	}
}

/*
 * The mask of the names in a comma-separated list, each name's bit being
 * its position as position() finds it, or -1 for a name it does not know.
 */
static bool
name_list_mask(const char *list, int (*position) (const char *name),
			   const char *kind, uint32 *result, char **error)
{
	char	   *rawstring = pstrdup(list);
	List	   *names;
	ListCell   *lc;
	uint32		mask = 0;

	if (!SplitIdentifierString(rawstring, ',', &names))
	{
		*error = pstrdup("list syntax is invalid");
		pfree(rawstring);
		list_free(names);
		return false;
	}

	foreach(lc, names)
	{
		const char *name = (const char *) lfirst(lc);
		int			bit = position(name);

		if (bit < 0)
		{
			*error = psprintf("unrecognized %s: \"%s\"", kind, name);
			pfree(rawstring);
			list_free(names);
			return false;
		}
		mask |= 1 << bit;
	}
	pfree(rawstring);
	list_free(names);
	*result = mask;
	return true;
}

/* The bits of the pg_hba.conf methods listed in "methods". */
static bool
auth_method_mask(const char *methods, uint32 *result, char **error)
{
	return name_list_mask(methods, auth_method_position,
						  "authentication method", result, error);
}

static int
auth_method_position(const char *name)
{
	for (int method = uaTrust; method <= USER_AUTH_LAST; method++)
	{
		if (strcmp(name, hba_authname((UserAuth) method)) == 0)
			return method;
	}
	return -1;
}

/* The bits, in signature_digests, of the digests listed in "digests". */
static bool
signature_digest_mask(const char *digests, uint32 *result, char **error)
{
	StaticAssertStmt(lengthof(signature_digests) <= 32,
					 "a mask of uint32 holds every digest");
	return name_list_mask(digests, signature_digest_position,
						  "signature digest algorithm", result, error);
}

static int
signature_digest_position(const char *name)
{
	for (size_t i = 0; i < lengthof(signature_digests); i++)
	{
		if (strcmp(name, signature_digests[i].name) == 0)
			return (int) i;
	}
	return -1;
}

/* The position in signature_digests of the digest nid, or -1. */
static int
digest_position(int nid)
{
	for (size_t i = 0; i < lengthof(signature_digests); i++)
	{
		if (signature_digests[i].nid == nid)
			return (int) i;
	}
	return -1;
}

/*
 * The check hook of a GUC that lists names: the list is parsed here, once
 * per configuration, into the mask the assign hook installs.
 */
static bool
check_name_list(char **newval, void **extra,
				bool (*to_mask) (const char *list, uint32 *mask, char **error))
{
	uint32		mask;
	uint32	   *result;
	char	   *error;

	if (!to_mask(*newval, &mask, &error))
	{
		GUC_check_errdetail("%c%s.", pg_toupper((unsigned char) error[0]),
							error + 1);
		return false;
	}
	result = pgtls_guc_malloc(sizeof(uint32));
	if (result == NULL)
		return false;
	*result = mask;
	*extra = result;
	return true;
}

static bool
check_forbidden_auth_methods(char **newval, void **extra, GucSource source)
{
	return check_name_list(newval, extra, auth_method_mask);
}

static void
assign_forbidden_auth_methods(const char *newval, void *extra)
{
	forbidden_auth_mask = *(const uint32 *) extra;
}

static bool
check_forbidden_cert_signature_algorithms(char **newval, void **extra,
										  GucSource source)
{
	if (!check_name_list(newval, extra, signature_digest_mask))
	{
		StringInfoData names;

		initStringInfo(&names);
		for (size_t i = 0; i < lengthof(signature_digests); i++)
			appendStringInfo(&names, "%s%s", i > 0 ? ", " : "",
							 signature_digests[i].name);
		GUC_check_errhint("The accepted names are: %s.", names.data);
		return false;
	}
	return true;
}

static void
assign_forbidden_cert_signature_algorithms(const char *newval, void *extra)
{
	forbidden_signature_mask = *(const uint32 *) extra;
}

/*-------------------------------------------------------------------------
 *
 * policy.h
 *		The policy settings, as the GUCs state them for the whole server
 *		and as a rule of the rules file overrides some of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_POLICY_H
#define PGTLS_AUDIT_POLICY_H

#include "regex/regex.h"

#include "pgtls_audit.h"

/* The settings a rule may state, by their names without the prefix. */
typedef enum PolicySetting
{
	SETTING_MODE,
	SETTING_REQUIRE_SSL,
	SETTING_MIN_PROTOCOL_VERSION,
	SETTING_MIN_CIPHER_BITS,
	SETTING_CIPHERS,
	SETTING_REQUIRE_FORWARD_SECRECY,
	SETTING_REQUIRE_CLIENT_CERT,
	SETTING_FORBIDDEN_AUTH_METHODS,
	SETTING_MIN_CERT_RSA_BITS,
	SETTING_MIN_CERT_EC_BITS,
	SETTING_FORBIDDEN_CERT_SIGNATURE_ALGORITHMS,
	SETTING_CERT_ISSUER,		/* rules only */
	SETTING_CERT_SUBJECT,		/* rules only */
	SETTING_COUNT
} PolicySetting;

extern const char *const PolicySettingNames[SETTING_COUNT];

/* The ciphers allowed by a cipher string, as sorted OpenSSL ids. */
typedef struct CipherAllowList
{
	int			count;
	uint32		ids[FLEXIBLE_ARRAY_MEMBER];
} CipherAllowList;

/*
 * A distinguished name a client certificate must carry: the exact RFC 2253
 * text, or a regular expression when the setting starts with "/".  text is
 * NULL when nothing is required.
 */
typedef struct DnPattern
{
	const char *text;			/* the setting as written */
	regex_t    *regex;			/* compiled, or NULL for an exact match */
} DnPattern;

/* One complete set of policy settings, prepared for judging. */
typedef struct PolicySettings
{
	int			mode;
	bool		require_ssl;
	int			min_protocol_version;
	int			min_cipher_bits;
	const char *ciphers;
	const CipherAllowList *allowed_ciphers; /* NULL: every cipher */
	bool		require_forward_secrecy;
	bool		require_client_cert;
	const char *forbidden_auth_methods;
	uint32		forbidden_auth_mask;
	int			min_cert_rsa_bits;
	int			min_cert_ec_bits;
	const char *forbidden_cert_signature_algorithms;
	uint32		forbidden_signature_mask;	/* bits of SignatureDigests */
	DnPattern	cert_issuer;
	DnPattern	cert_subject;
} PolicySettings;

extern void policy_guc_settings(PolicySettings *settings);
extern bool policy_parse_setting(const char *name, const char *value,
								 PolicySettings *settings, uint32 *set_mask,
								 char **error);
extern void policy_overlay(PolicySettings *settings,
						   const PolicySettings *overrides, uint32 set_mask);
extern const char *policy_setting_text(const PolicySettings *settings,
									   PolicySetting setting);
extern uint32 judge_policy(const PolicySettings *settings,
						   const AuditAttempt *attempt);
extern void reject_attempt(const AuditAttempt *attempt,
						   const PolicySettings *settings);

#endif							/* PGTLS_AUDIT_POLICY_H */

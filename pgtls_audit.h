/*-------------------------------------------------------------------------
 *
 * pgtls_audit.h
 *		Shared declarations of pgtls_audit.
 *
 * One connection attempt flows through three stages, each in its own file:
 *
 *	capture.c	what the connection is (Port, TLS session, client certificate)
 *	policy.c	what is allowed (policy GUCs, verdict)
 *	rules.c		which policy applies to whom (the rules file)
 *	logline.c	how an attempt is written to the server log
 *	store.c		what is remembered, in shared memory: the history (history.c),
 *				the live sessions (sessions.c) and the aggregates
 *				(aggregates.c), of records packed by record.c
 *	views.c		the SQL functions behind the views, reading the store
 *
 * pgtls_audit.c registers the GUCs and hooks and ties the stages together.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_H
#define PGTLS_AUDIT_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "libpq/libpq-be.h"

#include "compat.h"

/* How the client reached the server. */
typedef enum AuditTransport
{
	TRANSPORT_UNIX,
	TRANSPORT_IPV4,
	TRANSPORT_IPV6
} AuditTransport;

/* What became of an attempt. */
typedef enum AuditOutcome
{
	OUTCOME_ACCEPTED,			/* authenticated; not refused by us */
	OUTCOME_REJECTED,			/* authenticated, refused by our policy */
	OUTCOME_AUTH_FAILED,		/* PostgreSQL's authentication failed */
	OUTCOME_ABANDONED,			/* client hung up during authentication */
	OUTCOME_REFUSED				/* refused by PostgreSQL before our hook */
} AuditOutcome;

/* How far an attempt got. */
typedef enum AuditStage
{
	STAGE_AUTHENTICATION,		/* seen by ClientAuthentication_hook */
	STAGE_HANDSHAKE,			/* refused before authentication */
	STAGE_AUTHORIZATION			/* refused by PostgreSQL after it */
} AuditStage;

/*
 * Policy violations, as bits.  AuditViolationNames follows their order;
 * a bit never changes meaning, since stored records carry them: a new
 * violation takes the next bit.
 */
#define VIOLATION_NO_ENCRYPTION		(1 << 0)
#define VIOLATION_PROTOCOL			(1 << 1)
#define VIOLATION_CIPHER			(1 << 2)
#define VIOLATION_CIPHER_BITS		(1 << 3)
#define VIOLATION_FORWARD_SECRECY	(1 << 4)
#define VIOLATION_NO_CLIENT_CERT	(1 << 5)
#define VIOLATION_AUTH_METHOD		(1 << 6)
#define VIOLATION_CERT_IDENTITY		(1 << 7)
#define VIOLATION_CERT_KEY			(1 << 8)
#define VIOLATION_CERT_SIGNATURE	(1 << 9)
#define VIOLATION_COUNT				10

extern const char *const AuditViolationNames[VIOLATION_COUNT];

/*
 * The captured facts of one connection attempt.  Strings point into
 * palloc'd memory or into the Port; NULL means unknown or not applicable.
 */
typedef struct AuditAttempt
{
	TimestampTz time;
	int			pid;
	const char *user_name;
	Oid			role_oid;		/* the role named user_name, if one exists */
	const char *database_name;
	const char *application_name;
	bool		replication;

	AuditTransport transport;
	const char *client_addr;	/* NULL for unix sockets */
	int			client_port;	/* -1 for unix sockets */

	const char *auth_method;	/* pg_hba method name */
	int			auth_method_code;	/* UserAuth, or -1 if unknown */
	int			hba_line;		/* 0 if unknown */
	const SockAddr *client_sockaddr;	/* NULL unless TCP, and known */
	int			auth_status;	/* STATUS_OK, STATUS_ERROR or STATUS_EOF */

	bool		gss_authenticated;
	bool		gss_encrypted;
	const char *gss_principal;

	/* TLS session */
	bool		ssl;
	const char *tls_version;
	int			tls_version_number; /* OpenSSL's, e.g. TLS1_2_VERSION */
	const char *cipher;
	uint32		cipher_id;		/* OpenSSL's SSL_CIPHER_get_id() */
	int			cipher_bits;
	const char *key_exchange_group;
	bool		forward_secrecy;
	const char *sni;
	const char *tls_negotiation;	/* "postgres" (SSLRequest) or "direct" */
	const char *alpn;			/* ALPN protocol selected, or NULL */

	/* client certificate */
	bool		cert_present;
	bool		cert_verified;
	const char *cert_subject;	/* RFC 2253, in full */
	const char *cert_issuer;
	const char *cert_serial;	/* decimal */
	const char *cert_fingerprint;	/* SHA-256, colon-separated hex */
	TimestampTz cert_not_before;
	TimestampTz cert_not_after;
	const char *cert_key_algorithm;
	int			cert_key_type;	/* EVP_PKEY_get_base_id(), or NID_undef */
	int			cert_key_bits;
	int			cert_security_bits; /* EVP_PKEY_get_security_bits() */
	const char *cert_signature_algorithm;
	int			cert_signature_digest;	/* NID of the digest the issuer signed
										 * with; NID_undef for none */
	bool		cert_expiry_warned; /* expires within the warning period */

	/* verdict */
	AuditStage	stage;
	const char *reason;			/* the server's message, if it refused */
	bool		judged;			/* false when the mode in force is off */
	int			rule_line;		/* the rule that judged; 0: the GUCs */
	uint32		violations;		/* VIOLATION_* bits */
	AuditOutcome outcome;
} AuditAttempt;

/*
 * One attempt as the store keeps it: fixed-size fields, then every string
 * packed one after the other, each NUL-terminated and clipped to its
 * documented maximum, so that a record takes the room its values need and
 * copying one is cheap.
 */
typedef enum RecordString
{
	RS_USER_NAME,
	RS_DATABASE_NAME,
	RS_APPLICATION_NAME,
	RS_CLIENT_ADDR,
	RS_AUTH_METHOD,
	RS_TLS_VERSION,
	RS_CIPHER,
	RS_KEY_EXCHANGE_GROUP,
	RS_SNI,
	RS_CERT_SUBJECT,
	RS_CERT_ISSUER,
	RS_CERT_SERIAL,
	RS_CERT_FINGERPRINT,
	RS_CERT_KEY_ALGORITHM,
	RS_CERT_SIGNATURE_ALGORITHM,
	RS_GSS_PRINCIPAL,
	RS_REASON,
	RS_TLS_NEGOTIATION,
	RS_ALPN,
	RS_COUNT
} RecordString;

#define RECORD_SHORT_LEN	32

typedef struct AuditRecord
{
	uint64		event_id;
	TimestampTz time;
	TimestampTz cert_not_before;
	TimestampTz cert_not_after;
	int32		pid;
	uint32		violations;
	int32		client_port;
	int32		auth_method_code;
	int32		hba_line;
	int32		rule_line;
	int32		tls_version_number;
	uint32		cipher_id;
	int32		cipher_bits;
	int32		cert_key_type;
	int32		cert_key_bits;
	int32		cert_security_bits;
	int32		cert_signature_digest;
	uint8		transport;		/* AuditTransport */
	uint8		outcome;		/* AuditOutcome */
	uint8		stage;			/* AuditStage */
	bool		replication;
	bool		judged;
	bool		ssl;
	bool		forward_secrecy;
	bool		cert_present;
	bool		cert_verified;
	bool		gss_authenticated;
	bool		gss_encrypted;
	bool		cert_expiry_warning;
	bool		string_present[RS_COUNT];
	bool		string_truncated[RS_COUNT];
	uint16		string_offset[RS_COUNT];	/* into strings[] */
	uint16		strings_used;
	Oid			role_oid;		/* InvalidOid: no such role, or unknown */
	char		strings[FLEXIBLE_ARRAY_MEMBER];
} AuditRecord;

/* capture.c */
extern void capture_init(void);
extern void capture_attempt(Port *port, int status, AuditAttempt *attempt);
extern void capture_unfinished_handshake(Port *port, AuditAttempt *attempt);
extern const char *transport_name(AuditTransport transport);
extern const char *outcome_name(AuditOutcome outcome);
extern const char *stage_name(AuditStage stage);
struct x509_st;
extern void capture_certificate(struct x509_st *cert, AuditAttempt *attempt);

/* policy.c (the rest in policy.h) */
extern int	pgtls_audit_mode;

#define MODE_OFF		0
#define MODE_AUDIT		1
#define MODE_ENFORCE	2

extern void define_policy_gucs(void);

/* logline.c */
extern int	pgtls_audit_log_format;

#define LOG_FORMAT_TEXT 0
#define LOG_FORMAT_JSON 1

extern void format_attempt(StringInfo buf, const AuditAttempt *attempt, int format);
extern void append_escaped(StringInfo buf, const char *value, bool json);

#endif							/* PGTLS_AUDIT_H */

/*-------------------------------------------------------------------------
 *
 * rules.h
 *		The rules file: which policy settings judge which role, database
 *		and client address.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_RULES_H
#define PGTLS_AUDIT_RULES_H

#include "nodes/pg_list.h"

#include "policy.h"

/* A database or user name of a rule, or a keyword standing for some. */
typedef enum RuleNameKind
{
	RULE_NAME_LITERAL,			/* a name, quoted or not */
	RULE_NAME_ALL,
	RULE_NAME_SAMEUSER,			/* databases only */
	RULE_NAME_SAMEROLE,			/* databases only */
	RULE_NAME_REPLICATION,		/* databases only */
	RULE_NAME_MEMBER_OF			/* users only: +role */
} RuleNameKind;

typedef struct RuleName
{
	RuleNameKind kind;
	const char *name;			/* the name or the role, without + */
	const char *text;			/* as written, for pgtls_audit.rules */
} RuleName;

typedef enum RuleAddressKind
{
	RULE_ADDRESS_ALL,
	RULE_ADDRESS_SAMEHOST,
	RULE_ADDRESS_SAMENET,
	RULE_ADDRESS_LOCAL,			/* the Unix-domain socket */
	RULE_ADDRESS_RANGE			/* address and mask */
} RuleAddressKind;

/* One line of the rules file. */
typedef struct Rule
{
	int			line_number;
	const char *error;			/* NULL unless the line is invalid */
	int			database_count;
	RuleName   *databases;
	int			user_count;
	RuleName   *users;
	RuleAddressKind address_kind;
	struct sockaddr_storage address;
	struct sockaddr_storage mask;
	uint32		ipv4_address;	/* IPv4: the same, network byte order */
	uint32		ipv4_mask;
	const char *address_text;
	const char *netmask_text;
	List	   *setting_texts;	/* "name=value" strings, as read */
	PolicySettings settings;	/* the overriding values */
	uint32		set_mask;		/* which settings are overridden */
} Rule;

/* The rules of one file, in its own memory context. */
typedef struct RuleSet
{
	MemoryContext context;
	const char *path;
	const char *error;			/* the file could not be read */
	int			count;
	Rule	   *rules;
	struct RuleSet *next;		/* all sets of this process */
} RuleSet;

extern void define_rules_guc(void);
extern bool rules_loaded(void);
extern const char *rules_file_path(void);
extern int	rules_settings_for_attempt(const AuditAttempt *attempt,
									   bool use_catalog,
									   PolicySettings *settings);
extern int	rules_settings_for(const char *user_name, const char *database_name,
							   bool replication, const char *client_addr,
							   PolicySettings *settings);
extern const RuleSet *rules_read_listing(const char *path);

#endif							/* PGTLS_AUDIT_RULES_H */

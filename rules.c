/*-------------------------------------------------------------------------
 *
 * rules.c
 *		The rules file named by pgtls_audit.rules_file: which policy
 *		settings judge which role, database and client address.
 *
 * One rule per line, "#" starts a comment:
 *
 *		database  user  address  [netmask]  [name=value ...]
 *
 * The first three fields are matched as pg_hba.conf matches them (database
 * all, sameuser, samerole, replication, names; user all, names, +role;
 * address all, samehost, samenet, local, CIDR or address and mask; comma
 * lists and double-quoted names).  The settings are those of the policy
 * GUCs, without the prefix, plus cert_issuer and cert_subject; policy.c
 * reads and validates them.  The first rule that matches an attempt
 * supplies its settings, the GUCs the others; an attempt no rule matches
 * is judged by the GUCs alone.
 *
 * The file is read by the check hook of pgtls_audit.rules_file, that is in
 * the postmaster at start and at each reload (and in each backend at
 * reload), never per connection: a backend inherits the parsed rules by
 * fork.  An invalid file is refused with its line number, so the rules in
 * force stay, as with pg_hba.conf; at server start it stops the start.
 *
 * Each parsed file lives in a memory context of its own.  The GUC's extra
 * is only a pointer to it, and every set but the one in force is freed
 * whenever a set is parsed or installed, so that neither a reload nor a
 * check that is not applied (pg_file_settings) leaks.
 *
 * Matching is a few comparisons per rule; only +role and samerole consult
 * the catalog, and samehost and samenet the network interfaces, as
 * pg_hba.conf does, and only for the rules an attempt reaches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>

#include "common/ip.h"
#include "common/string.h"
#include "libpq/ifaddr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "compat.h"
#include "rules.h"

/* One field of a line: its comma-separated items. */
typedef struct RuleItem
{
	char	   *text;			/* without its quotes */
	bool		quoted;
} RuleItem;

/* What a rule is matched against, with what was looked up once. */
typedef struct RuleTarget
{
	const char *user_name;
	uint32		ipv4_address;	/* network byte order, if AF_INET */
	const char *database_name;
	bool		physical_replication;
	AuditTransport transport;
	bool		address_known;
	struct sockaddr_storage address;
	bool		use_catalog;
	bool		user_oid_known;
	Oid			user_oid;
	int			samehost;		/* -1 until checked */
	int			samenet;		/* -1 until checked */
} RuleTarget;

/* For the walk over the network interfaces. */
typedef struct NetworkCheck
{
	RuleAddressKind kind;
	const struct sockaddr_storage *address;
	bool		result;
} NetworkCheck;

/*---- GUC variables ----*/

static char *rules_file = NULL;

/*---- State ----*/

/* The rules in force; NULL when there are none. */
static RuleSet *active_rules = NULL;

/* Every set parsed in this process and not yet freed. */
static RuleSet *all_sets = NULL;

/*---- Function declarations ----*/

static bool check_rules_file(char **newval, void **extra, GucSource source);
static void assign_rules_file(const char *newval, void *extra);
static void free_unused_sets(RuleSet *keep);
static RuleSet *read_rules(const char *path, bool listing, int *error_line,
						   const char **error);
static bool parse_line(char *line, Rule *rule);
static bool next_field(char **cursor, bool split_commas, List **items,
					   char **error);
static bool parse_names(List *items, bool databases, Rule *rule);
static bool parse_address(List *items, List *mask_items, Rule *rule,
						  bool *mask_used);
static bool parse_ip(const char *text, struct sockaddr_storage *address);
static char *address_text(const struct sockaddr_storage *address);
static bool parse_setting(const char *text, Rule *rule);
static int	match(const RuleSet *set, RuleTarget *target);
static bool match_database(const Rule *rule, RuleTarget *target);
static bool match_user(const Rule *rule, RuleTarget *target);
static bool match_address(const Rule *rule, RuleTarget *target);
static bool role_member(RuleTarget *target, const char *role);
static bool same_host_or_net(RuleTarget *target, RuleAddressKind kind);
static void network_callback(struct sockaddr *address,
							 struct sockaddr *netmask, void *arg);
static int	settings_for_target(RuleTarget *target, PolicySettings *settings);

void
define_rules_guc(void)
{
	DefineCustomStringVariable("pgtls_audit.rules_file",
							   "Sets the file of policy rules per role, database and client address.",
							   "A relative path is relative to the data directory; empty means no rules.",
							   &rules_file,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_rules_file, assign_rules_file, NULL);
}

bool
rules_loaded(void)
{
	return active_rules != NULL;
}

/* The path of the rules file in force, or NULL if none is set. */
const char *
rules_file_path(void)
{
	return (rules_file != NULL && rules_file[0] != '\0') ? rules_file : NULL;
}

/*
 * Parse the file named by newval.  On an error, report it with its line
 * number and keep the rules in force; while the postmaster starts, an
 * error stops the start, since a security policy fails closed.
 */
static bool
check_rules_file(char **newval, void **extra, GucSource source)
{
	RuleSet    *set;
	RuleSet   **holder;
	int			line = 0;
	const char *error = NULL;

	free_unused_sets(active_rules);
	if (**newval == '\0')
	{
		*extra = NULL;
		return true;
	}

	set = read_rules(*newval, false, &line, &error);
	if (set == NULL)
	{
		if (process_shared_preload_libraries_in_progress)
		{
			if (line > 0)
				ereport(FATAL,
						(errcode(ERRCODE_CONFIG_FILE_ERROR),
						 errmsg("could not load pgtls_audit rules file \"%s\"",
								*newval),
						 errdetail("Line %d: %s.", line, error)));
			else
				ereport(FATAL,
						(errcode(ERRCODE_CONFIG_FILE_ERROR),
						 errmsg("could not load pgtls_audit rules file \"%s\"",
								*newval),
						 errdetail("%c%s.", pg_toupper((unsigned char) error[0]),
								   error + 1)));
		}
		GUC_check_errmsg("could not load pgtls_audit rules file \"%s\"; the rules in force are kept",
						 *newval);
		if (line > 0)
			GUC_check_errdetail("Line %d: %s.", line, error);
		else
			GUC_check_errdetail("%c%s.", pg_toupper((unsigned char) error[0]),
								error + 1);
		return false;
	}

	holder = pgtls_guc_malloc(sizeof(RuleSet *));
	if (holder == NULL)
	{
		free_unused_sets(active_rules);
		return false;
	}
	*holder = set;
	*extra = holder;
	return true;
}

static void
assign_rules_file(const char *newval, void *extra)
{
	active_rules = extra ? *(RuleSet **) extra : NULL;
	free_unused_sets(active_rules);
}

/* Free every parsed set but "keep". */
static void
free_unused_sets(RuleSet *keep)
{
	RuleSet   **link = &all_sets;

	while (*link != NULL)
	{
		RuleSet    *set = *link;

		if (set == keep)
		{
			link = &set->next;
			continue;
		}
		*link = set->next;
		MemoryContextDelete(set->context);
	}
}

/*
 * Read the rules file at path into a new RuleSet.  With listing, every
 * line becomes a rule, invalid lines with their error, and the set is
 * allocated in CurrentMemoryContext (for pgtls_audit.rules); otherwise the
 * first error returns NULL with its line (0 when the file could not be
 * read) and message, and a valid set lives in a context of its own under
 * TopMemoryContext, linked into all_sets.
 */
static RuleSet *
read_rules(const char *path, bool listing, int *error_line,
		   const char **error)
{
	MemoryContext context;
	MemoryContext oldcontext;
	RuleSet    *set;
	FILE	   *file;
	StringInfoData buf;
	int			line_number = 0;
	int			allocated = 16;

	context = AllocSetContextCreate(listing ? CurrentMemoryContext : TopMemoryContext,
									"pgtls_audit rules",
									ALLOCSET_SMALL_SIZES);
	oldcontext = MemoryContextSwitchTo(context);

	set = palloc0(sizeof(RuleSet));
	set->context = context;
	set->path = pstrdup(path);
	set->rules = palloc(allocated * sizeof(Rule));

	file = AllocateFile(path, "r");
	if (file == NULL)
	{
		set->error = psprintf("could not open file \"%s\": %m", path);
		MemoryContextSwitchTo(oldcontext);
		if (listing)
			return set;
		*error_line = 0;
		*error = pstrdup(set->error);
		MemoryContextDelete(context);
		return NULL;
	}

	initStringInfo(&buf);
	while (pg_get_line_buf(file, &buf))
	{
		Rule		rule;

		line_number++;
		memset(&rule, 0, sizeof(rule));
		rule.line_number = line_number;
		if (!parse_line(buf.data, &rule))
			continue;			/* a blank or comment line */
		if (rule.error != NULL && !listing)
		{
			FreeFile(file);
			MemoryContextSwitchTo(oldcontext);
			*error_line = line_number;
			*error = pstrdup(rule.error);
			MemoryContextDelete(context);
			return NULL;
		}
		if (set->count == allocated)
		{
			allocated *= 2;
			set->rules = repalloc(set->rules, allocated * sizeof(Rule));
		}
		set->rules[set->count++] = rule;
	}
	if (ferror(file))
	{
		set->error = psprintf("could not read file \"%s\": %m", path);
		if (!listing)
		{
			FreeFile(file);
			MemoryContextSwitchTo(oldcontext);
			*error_line = 0;
			*error = pstrdup(set->error);
			MemoryContextDelete(context);
			return NULL;
		}
	}
	FreeFile(file);
	pfree(buf.data);
	MemoryContextSwitchTo(oldcontext);

	if (!listing)
	{
		set->next = all_sets;
		all_sets = set;
	}
	return set;
}

/*
 * Parse one line into *rule, setting rule->error if it is invalid.
 * Returns false for a line with no rule (blank or comment only).
 */
static bool
parse_line(char *line, Rule *rule)
{
	char	   *cursor = line;
	List	   *fields[3];
	List	   *next = NIL;
	char	   *error = NULL;
	bool		mask_used = false;
	int			count;

	for (count = 0; count < 3; count++)
	{
		if (!next_field(&cursor, true, &fields[count], &error))
			break;
	}
	if (error != NULL)
	{
		rule->error = error;
		return true;
	}
	if (count == 0)
		return false;
	if (count < 3)
	{
		rule->error = pstrdup(count == 1 ? "end-of-line before user name" :
							  "end-of-line before address");
		return true;
	}
	if (!parse_names(fields[0], true, rule) ||
		!parse_names(fields[1], false, rule))
		return true;

	/* a netmask follows an address without a prefix length */
	if (!next_field(&cursor, false, &next, &error) && error != NULL)
	{
		rule->error = error;
		return true;
	}
	if (!parse_address(fields[2], next, rule, &mask_used))
		return true;
	if (next != NIL && !mask_used)
	{
		if (!parse_setting(((RuleItem *) linitial(next))->text, rule))
			return true;
	}

	for (;;)
	{
		if (!next_field(&cursor, false, &next, &error))
		{
			if (error != NULL)
				rule->error = error;
			break;
		}
		if (!parse_setting(((RuleItem *) linitial(next))->text, rule))
			break;
	}
	return true;
}

/*
 * Read the next whitespace-separated field at *cursor into a list of
 * RuleItems: split at commas outside double quotes when split_commas,
 * else one item.  Inside quotes, "" stands for one double quote.  Returns
 * false at the end of the line or at a comment, or with *error set.
 */
static bool
next_field(char **cursor, bool split_commas, List **items, char **error)
{
	char	   *p = *cursor;
	StringInfoData text;
	bool		in_quotes = false;
	bool		quoted = false;

	*items = NIL;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p == '\0' || *p == '#')
	{
		*cursor = p;
		return false;
	}

	initStringInfo(&text);
	for (;; p++)
	{
		if (*p == '\0' || *p == '\n' || *p == '\r' ||
			(!in_quotes && (*p == ' ' || *p == '\t' || *p == '#' ||
							(split_commas && *p == ','))))
		{
			RuleItem   *item;

			if (in_quotes)
			{
				*error = pstrdup("unterminated quoted string");
				return false;
			}
			if (text.len == 0 && !quoted)
			{
				*error = pstrdup("empty element in a comma-separated list");
				return false;
			}
			item = palloc(sizeof(RuleItem));
			item->text = pstrdup(text.data);
			item->quoted = quoted;
			*items = lappend(*items, item);
			if (split_commas && *p == ',' && !in_quotes)
			{
				resetStringInfo(&text);
				quoted = false;
				continue;
			}
			break;
		}
		if (*p == '"')
		{
			if (in_quotes && p[1] == '"')
			{
				appendStringInfoChar(&text, '"');
				p++;
				continue;
			}
			in_quotes = !in_quotes;
			quoted = true;
			continue;
		}
		appendStringInfoChar(&text, *p);
	}
	*cursor = p;
	return true;
}

static bool
parse_names(List *items, bool databases, Rule *rule)
{
	RuleName   *names = palloc(list_length(items) * sizeof(RuleName));
	int			count = 0;
	ListCell   *lc;

	foreach(lc, items)
	{
		RuleItem   *item = lfirst(lc);
		RuleName   *name = &names[count++];

		name->kind = RULE_NAME_LITERAL;
		name->name = item->text;
		name->text = item->quoted ? psprintf("\"%s\"", item->text) : item->text;
		if (item->quoted)
			continue;
		if (strcmp(item->text, "all") == 0)
			name->kind = RULE_NAME_ALL;
		else if (databases && strcmp(item->text, "sameuser") == 0)
			name->kind = RULE_NAME_SAMEUSER;
		else if (databases && (strcmp(item->text, "samerole") == 0 ||
							   strcmp(item->text, "samegroup") == 0))
			name->kind = RULE_NAME_SAMEROLE;
		else if (databases && strcmp(item->text, "replication") == 0)
			name->kind = RULE_NAME_REPLICATION;
		else if (!databases && item->text[0] == '+')
		{
			if (item->text[1] == '\0')
			{
				rule->error = pstrdup("\"+\" must be followed by a role name");
				return false;
			}
			name->kind = RULE_NAME_MEMBER_OF;
			name->name = item->text + 1;
		}
		else if (item->text[0] == '@')
		{
			rule->error = psprintf("file inclusion \"%s\" is not supported",
								   item->text);
			return false;
		}
	}
	if (databases)
	{
		rule->databases = names;
		rule->database_count = count;
	}
	else
	{
		rule->users = names;
		rule->user_count = count;
	}
	return true;
}

/*
 * The address field, and the netmask field after it when the address has
 * no prefix length (then *mask_used).
 */
static bool
parse_address(List *items, List *mask_items, Rule *rule, bool *mask_used)
{
	RuleItem   *item;
	char	   *text;
	char	   *slash;

	if (list_length(items) != 1)
	{
		rule->error = pstrdup("multiple values in the address field");
		return false;
	}
	item = linitial(items);
	text = item->text;
	rule->address_text = text;
	if (!item->quoted)
	{
		if (strcmp(text, "all") == 0)
		{
			rule->address_kind = RULE_ADDRESS_ALL;
			return true;
		}
		if (strcmp(text, "samehost") == 0)
		{
			rule->address_kind = RULE_ADDRESS_SAMEHOST;
			return true;
		}
		if (strcmp(text, "samenet") == 0)
		{
			rule->address_kind = RULE_ADDRESS_SAMENET;
			return true;
		}
		if (strcmp(text, "local") == 0)
		{
			rule->address_kind = RULE_ADDRESS_LOCAL;
			return true;
		}
	}

	rule->address_kind = RULE_ADDRESS_RANGE;
	slash = strchr(text, '/');
	if (slash != NULL)
	{
		char	   *address = pnstrdup(text, slash - text);
		char	   *end;
		long		bits;

		if (!parse_ip(address, &rule->address))
		{
			rule->error = psprintf("invalid IP address \"%s\"", address);
			return false;
		}
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits < 0 ||
			bits > INT_MAX ||
			pg_sockaddr_cidr_mask(&rule->mask, slash + 1,
								  rule->address.ss_family) < 0)
		{
			rule->error = psprintf("invalid CIDR mask in address \"%s\"", text);
			return false;
		}
		rule->address_text = address;
	}
	else
	{
		RuleItem   *mask;

		if (!parse_ip(text, &rule->address))
		{
			rule->error = psprintf("invalid IP address \"%s\"", text);
			return false;
		}
		if (mask_items == NIL)
		{
			rule->error = pstrdup("end-of-line before netmask specification");
			return false;
		}
		mask = linitial(mask_items);
		if (!parse_ip(mask->text, &rule->mask))
		{
			rule->error = psprintf("invalid IP mask \"%s\"", mask->text);
			return false;
		}
		if (rule->mask.ss_family != rule->address.ss_family)
		{
			rule->error = pstrdup("IP address and mask do not match");
			return false;
		}
		*mask_used = true;
	}
	rule->netmask_text = address_text(&rule->mask);
	if (rule->address.ss_family == AF_INET)
	{
		rule->ipv4_address =
			((struct sockaddr_in *) &rule->address)->sin_addr.s_addr;
		rule->ipv4_mask = ((struct sockaddr_in *) &rule->mask)->sin_addr.s_addr;
	}
	return true;
}

/* A numeric IPv4 or IPv6 address; host names are not looked up. */
static bool
parse_ip(const char *text, struct sockaddr_storage *address)
{
	struct addrinfo hints;
	struct addrinfo *result = NULL;
	int			rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = pg_getaddrinfo_all(text, NULL, &hints, &result);
	if (rc != 0 || result == NULL)
	{
		if (result)
			pg_freeaddrinfo_all(hints.ai_family, result);
		return false;
	}
	memset(address, 0, sizeof(*address));
	memcpy(address, result->ai_addr, result->ai_addrlen);
	pg_freeaddrinfo_all(hints.ai_family, result);
	return true;
}

static char *
address_text(const struct sockaddr_storage *address)
{
	char		host[NI_MAXHOST];

	if (pg_getnameinfo_all(address, address->ss_family == AF_INET ?
						   sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
						   host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		return NULL;
	return pstrdup(host);
}

/* One "name=value" setting. */
static bool
parse_setting(const char *text, Rule *rule)
{
	const char *equals = strchr(text, '=');
	char	   *name;
	char	   *error = NULL;

	if (equals == NULL || equals == text)
	{
		rule->error = psprintf("invalid setting \"%s\": expected name=value",
							   text);
		return false;
	}
	name = pnstrdup(text, equals - text);
	if (!policy_parse_setting(name, equals + 1, &rule->settings,
							  &rule->set_mask, &error))
	{
		rule->error = error;
		return false;
	}
	rule->setting_texts = lappend(rule->setting_texts,
								  psprintf("%s=%s", name, equals + 1));
	return true;
}

/*
 * The settings that judge an attempt: the first matching rule's over the
 * GUCs.  Returns the rule's line number, or 0 when the GUCs judge alone.
 * use_catalog says whether role membership can be looked up (a
 * transaction is open and no error is being reported); without it, rules
 * that need it do not match.
 */
int
rules_settings_for_attempt(const AuditAttempt *a, bool use_catalog,
						   PolicySettings *settings)
{
	RuleTarget	target;

	memset(&target, 0, sizeof(target));
	target.user_name = a->user_name ? a->user_name : "";
	target.database_name = a->database_name ? a->database_name : "";
	target.physical_replication = a->replication &&
		target.database_name[0] == '\0';
	target.transport = a->transport;
	if (a->client_sockaddr != NULL)
	{
		memcpy(&target.address, &a->client_sockaddr->addr,
			   sizeof(target.address));
		target.address_known = true;
	}
	else if (a->transport != TRANSPORT_UNIX && a->client_addr != NULL)
		target.address_known = parse_ip(a->client_addr, &target.address);
	target.use_catalog = use_catalog;
	return settings_for_target(&target, settings);
}

/*
 * The same for a hypothetical connection; client_addr NULL means the
 * Unix-domain socket.
 */
int
rules_settings_for(const char *user_name, const char *database_name,
				   bool replication, const char *client_addr,
				   PolicySettings *settings)
{
	RuleTarget	target;

	memset(&target, 0, sizeof(target));
	target.user_name = user_name;
	target.database_name = database_name ? database_name : "";
	target.physical_replication = replication && target.database_name[0] == '\0';
	if (client_addr == NULL)
		target.transport = TRANSPORT_UNIX;
	else
	{
		target.address_known = parse_ip(client_addr, &target.address);
		if (!target.address_known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid IP address \"%s\"", client_addr)));
		target.transport = target.address.ss_family == AF_INET6 ?
			TRANSPORT_IPV6 : TRANSPORT_IPV4;
	}
	target.use_catalog = true;
	return settings_for_target(&target, settings);
}

static int
settings_for_target(RuleTarget *target, PolicySettings *settings)
{
	int			index;

	policy_guc_settings(settings);
	if (active_rules == NULL)
		return 0;
	target->samehost = -1;
	target->samenet = -1;
	if (target->address_known && target->address.ss_family == AF_INET)
		target->ipv4_address =
			((struct sockaddr_in *) &target->address)->sin_addr.s_addr;
	index = match(active_rules, target);
	if (index < 0)
		return 0;
	policy_overlay(settings, &active_rules->rules[index].settings,
				   active_rules->rules[index].set_mask);
	return active_rules->rules[index].line_number;
}

/* The index of the first rule that matches, or -1. */
static int
match(const RuleSet *set, RuleTarget *target)
{
	for (int i = 0; i < set->count; i++)
	{
		const Rule *rule = &set->rules[i];

		if (match_address(rule, target) &&
			match_database(rule, target) &&
			match_user(rule, target))
			return i;
	}
	return -1;
}

/*
 * As pg_hba.conf: a physical replication connection matches only
 * "replication", any other connection anything but "replication".
 */
static bool
match_database(const Rule *rule, RuleTarget *target)
{
	for (int i = 0; i < rule->database_count; i++)
	{
		const RuleName *name = &rule->databases[i];

		if (target->physical_replication)
		{
			if (name->kind == RULE_NAME_REPLICATION)
				return true;
			continue;
		}
		switch (name->kind)
		{
			case RULE_NAME_ALL:
				return true;
			case RULE_NAME_SAMEUSER:
				if (strcmp(target->database_name, target->user_name) == 0)
					return true;
				break;
			case RULE_NAME_SAMEROLE:
				if (role_member(target, target->database_name))
					return true;
				break;
			case RULE_NAME_LITERAL:
				if (target->database_name[0] == name->name[0] &&
					strcmp(target->database_name, name->name) == 0)
					return true;
				break;
			case RULE_NAME_REPLICATION:
			case RULE_NAME_MEMBER_OF:
				break;
		}
	}
	return false;
}

static bool
match_user(const Rule *rule, RuleTarget *target)
{
	for (int i = 0; i < rule->user_count; i++)
	{
		const RuleName *name = &rule->users[i];

		switch (name->kind)
		{
			case RULE_NAME_ALL:
				return true;
			case RULE_NAME_MEMBER_OF:
				if (role_member(target, name->name))
					return true;
				break;
			case RULE_NAME_LITERAL:
				/* most names differ in their first byte: spare the call */
				if (target->user_name[0] == name->name[0] &&
					strcmp(target->user_name, name->name) == 0)
					return true;
				break;
			case RULE_NAME_SAMEUSER:
			case RULE_NAME_SAMEROLE:
			case RULE_NAME_REPLICATION:
				break;
		}
	}
	return false;
}

static bool
match_address(const Rule *rule, RuleTarget *target)
{
	switch (rule->address_kind)
	{
		case RULE_ADDRESS_ALL:
			return true;
		case RULE_ADDRESS_LOCAL:
			return target->transport == TRANSPORT_UNIX;
		case RULE_ADDRESS_RANGE:
			if (!target->address_known ||
				target->address.ss_family != rule->address.ss_family)
				return false;
			/* the common case without a call */
			if (rule->address.ss_family == AF_INET)
				return ((target->ipv4_address ^ rule->ipv4_address) &
						rule->ipv4_mask) == 0;
			return pg_range_sockaddr(&target->address, &rule->address,
									 &rule->mask);
		case RULE_ADDRESS_SAMEHOST:
		case RULE_ADDRESS_SAMENET:
			return target->address_known &&
				same_host_or_net(target, rule->address_kind);
	}
	return false;
}

/*
 * Whether the user is a member of role, directly or not, as pg_hba.conf's
 * +role decides (superuser-ness aside).
 */
static bool
role_member(RuleTarget *target, const char *role)
{
	Oid			role_oid;

	if (!target->use_catalog)
		return false;
	if (!target->user_oid_known)
	{
		target->user_oid = get_role_oid(target->user_name, true);
		target->user_oid_known = true;
	}
	if (!OidIsValid(target->user_oid))
		return false;
	role_oid = get_role_oid(role, true);
	if (!OidIsValid(role_oid))
		return false;
	return is_member_of_role_nosuper(target->user_oid, role_oid);
}

/* samehost and samenet, as pg_hba.conf checks them: once per attempt. */
static bool
same_host_or_net(RuleTarget *target, RuleAddressKind kind)
{
	int		   *cached = &target->samenet;
	NetworkCheck check;

	if (kind == RULE_ADDRESS_SAMEHOST)
		cached = &target->samehost;

	if (*cached >= 0)
		return *cached;
	check.kind = kind;
	check.address = &target->address;
	check.result = false;
	if (pg_foreach_ifaddr(network_callback, &check) < 0)
		check.result = false;
	*cached = check.result;
	return check.result;
}

static void
network_callback(struct sockaddr *address, struct sockaddr *netmask,
				 void *arg)
{
	NetworkCheck *check = (NetworkCheck *) arg;
	struct sockaddr_storage host_mask;

	if (check->result || address->sa_family != check->address->ss_family)
		return;
	if (check->kind == RULE_ADDRESS_SAMEHOST)
	{
		pg_sockaddr_cidr_mask(&host_mask, NULL, address->sa_family);
		check->result = pg_range_sockaddr(check->address,
										  (struct sockaddr_storage *) address,
										  &host_mask);
	}
	else
		check->result = pg_range_sockaddr(check->address,
										  (struct sockaddr_storage *) address,
										  (struct sockaddr_storage *) netmask);
}

/*
 * The file at path as it is on disk now, every line with its error if
 * any, in CurrentMemoryContext: for pgtls_audit.rules.
 */
const RuleSet *
rules_read_listing(const char *path)
{
	return read_rules(path, true, NULL, NULL);
}

/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *		Counts of attempts by role, database, transport, protocol, cipher
 *		and outcome, in a set-associative table (settable.c): whatever names
 *		clients send, counting an attempt compares at most SET_WAYS rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "aggregates.h"
#include "record.h"
#include "settable.h"

/* What one upsert adds to a row. */
typedef struct AggregateAddition
{
	uint64		count;
	TimestampTz first_seen;
	TimestampTz last_seen;
} AggregateAddition;

static void make_key(AggregateKey *key, const AuditRecord *record);
static void add_to_row(void *row, bool inserted, void *arg);

Size
aggregates_shmem_size(int max_aggregates)
{
	return settable_shmem_size(max_aggregates, sizeof(AggregateEntry));
}

Aggregates *
aggregates_init(void *place, bool found, int max_aggregates)
{
	return settable_init(place, found, max_aggregates,
						 sizeof(AggregateEntry),
						 sizeof(AggregateKey));
}

int
aggregates_capacity(Aggregates *aggregates)
{
	return settable_capacity(aggregates);
}

/* The key of a record; zeroed first, so that its padding hashes alike. */
static void
make_key(AggregateKey *key, const AuditRecord *record)
{
	const char *user_name = record_string(record, RS_USER_NAME);
	const char *database_name = record_string(record, RS_DATABASE_NAME);
	const char *tls_version = record_string(record, RS_TLS_VERSION);
	const char *cipher = record_string(record, RS_CIPHER);

	memset(key, 0, sizeof(AggregateKey));
	if (user_name)
		strlcpy(key->user_name, user_name, sizeof(key->user_name));
	if (database_name)
		strlcpy(key->database_name, database_name, sizeof(key->database_name));
	if (tls_version)
		strlcpy(key->tls_version, tls_version, sizeof(key->tls_version));
	if (cipher)
		strlcpy(key->cipher, cipher, sizeof(key->cipher));
	key->role_oid = record->role_oid;
	key->transport = record->transport;
	key->outcome = record->outcome;
}

static void
add_to_row(void *row, bool inserted, void *arg)
{
	AggregateEntry *entry = (AggregateEntry *) row;
	AggregateAddition *addition = (AggregateAddition *) arg;

	if (inserted)
	{
		entry->count = 0;
		entry->first_seen = addition->first_seen;
		entry->last_seen = addition->last_seen;
	}
	entry->count += addition->count;
	entry->first_seen = Min(entry->first_seen, addition->first_seen);
	entry->last_seen = Max(entry->last_seen, addition->last_seen);
}

/* Count one attempt.  The caller has blocked signals. */
void
aggregates_count(Aggregates *aggregates, const AuditRecord *record,
				 pg_atomic_uint64 *reset_event_id)
{
	AggregateKey key;
	AggregateAddition addition = {1, record->time, record->time};

	make_key(&key, record);
	settable_upsert(aggregates, &key, record->time,
					record->event_id, reset_event_id, add_to_row, &addition);
}

/*
 * Add a row read from a dump file, after checking that every field is in
 * range: the file is data, not trusted.  False if the row is invalid.
 */
bool
aggregates_merge(Aggregates *aggregates, const AggregateEntry *entry,
				 pg_atomic_uint64 *reset_event_id)
{
	const AggregateKey *loaded = &entry->key;
	AggregateKey key;
	AggregateAddition addition = {entry->count, entry->first_seen,
	entry->last_seen};

	if (loaded->transport > TRANSPORT_IPV6 || loaded->outcome > OUTCOME_REFUSED ||
		entry->count == 0 || entry->first_seen > entry->last_seen ||
		memchr(loaded->user_name, '\0', sizeof(loaded->user_name)) == NULL ||
		memchr(loaded->database_name, '\0', sizeof(loaded->database_name)) == NULL ||
		memchr(loaded->tls_version, '\0', sizeof(loaded->tls_version)) == NULL ||
		memchr(loaded->cipher, '\0', sizeof(loaded->cipher)) == NULL)
		return false;

	/* rebuild the key so that its padding hashes as ours does */
	memset(&key, 0, sizeof(key));
	strlcpy(key.user_name, loaded->user_name, sizeof(key.user_name));
	strlcpy(key.database_name, loaded->database_name, sizeof(key.database_name));
	strlcpy(key.tls_version, loaded->tls_version, sizeof(key.tls_version));
	strlcpy(key.cipher, loaded->cipher, sizeof(key.cipher));
	key.role_oid = loaded->role_oid;
	key.transport = loaded->transport;
	key.outcome = loaded->outcome;
	settable_upsert(aggregates, &key, entry->last_seen,
					PG_UINT64_MAX, reset_event_id, add_to_row, &addition);
	return true;
}

int
aggregates_copy(Aggregates *aggregates, pg_atomic_uint64 *reset_event_id,
				AggregateEntry **entries)
{
	return settable_copy(aggregates, reset_event_id,
						 (void **) entries);
}

void
aggregates_totals(Aggregates *aggregates, pg_atomic_uint64 *reset_event_id,
				  int *rows, uint64 *evicted)
{
	settable_totals(aggregates, reset_event_id, rows, evicted);
}

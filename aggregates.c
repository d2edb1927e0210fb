/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *		Counts of attempts by role, database, transport, protocol, cipher
 *		and outcome, in a set-associative table in shared memory.
 *
 * Keys come from clients: user and database names are recorded before
 * authentication, so any TCP peer chooses them.  The table therefore does
 * the same bounded work whatever arrives: a key hashes (with a seed drawn
 * at server start, so that no client can aim at one set) to one set of
 * AGGREGATE_WAYS rows; a lookup compares at most that many, and a new key
 * meeting a full set evicts the least recently seen row of that set.
 * There is no tombstone, no whole-table scan and no global lock: each set
 * has its own spinlock, held for one lookup or one copy of the set.
 *
 * reset() does not visit the sets: each set remembers the reset it
 * belongs to, and a set of an older reset is empty to readers and is
 * cleared by its next writer.  An event older than the last reset is not
 * counted, so a count never includes an attempt the history hides.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/timestamp.h"
#include "storage/spin.h"

#include "aggregates.h"
#include "record.h"

typedef struct AggregateSet
{
	slock_t		mutex;
	int			used;			/* rows 0 .. used - 1 are in use */
	uint64		reset_event_id; /* the reset these rows belong to */
	uint64		evicted;		/* rows evicted since then */
	uint32		tags[AGGREGATE_WAYS];	/* hash of each row's key */
	AggregateEntry entries[AGGREGATE_WAYS];
} AggregateSet;

struct Aggregates
{
	int			set_count;
	int			ways;
	uint64		seed;
	AggregateSet sets[FLEXIBLE_ARRAY_MEMBER];
};

static void geometry(int max_aggregates, int *set_count, int *ways);
static void make_key(AggregateKey *key, const AuditRecord *record);
static bool set_is_current(const AggregateSet *set, uint64 reset_event_id);
static void add(Aggregates *aggregates, const AggregateKey *key, uint64 count,
				TimestampTz first_seen, TimestampTz last_seen,
				uint64 event_id, pg_atomic_uint64 *reset_event_id);

/*
 * max_aggregates rows, in sets of AGGREGATE_WAYS (fewer for a tiny table,
 * so that its bound is exact).
 */
static void
geometry(int max_aggregates, int *set_count, int *ways)
{
	*ways = Min(max_aggregates, AGGREGATE_WAYS);
	*set_count = (max_aggregates + *ways - 1) / *ways;
}

Size
aggregates_shmem_size(int max_aggregates)
{
	int			set_count;
	int			ways;

	geometry(max_aggregates, &set_count, &ways);
	return add_size(offsetof(Aggregates, sets),
					mul_size(sizeof(AggregateSet), set_count));
}

Aggregates *
aggregates_init(void *place, bool found, int max_aggregates)
{
	Aggregates *aggregates = (Aggregates *) place;

	if (found)
		return aggregates;
	geometry(max_aggregates, &aggregates->set_count, &aggregates->ways);
	if (!pg_strong_random(&aggregates->seed, sizeof(aggregates->seed)))
		aggregates->seed = (uint64) GetCurrentTimestamp();
	for (int i = 0; i < aggregates->set_count; i++)
	{
		AggregateSet *set = &aggregates->sets[i];

		SpinLockInit(&set->mutex);
		set->used = 0;
		set->reset_event_id = 0;
		set->evicted = 0;
	}
	return aggregates;
}

int
aggregates_capacity(Aggregates *aggregates)
{
	return aggregates->set_count * aggregates->ways;
}

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

static bool
set_is_current(const AggregateSet *set, uint64 reset_event_id)
{
	return set->reset_event_id == reset_event_id;
}

/*
 * Add "count" attempts of "key" seen between first_seen and last_seen, by
 * an event not older than the last reset.  The caller has blocked signals.
 */
static void
add(Aggregates *aggregates, const AggregateKey *key, uint64 count,
	TimestampTz first_seen, TimestampTz last_seen, uint64 event_id,
	pg_atomic_uint64 *reset_event_id)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key,
										   sizeof(AggregateKey),
										   aggregates->seed);
	uint32		tag = (uint32) hash;
	AggregateSet *set = &aggregates->sets[(hash >> 32) % aggregates->set_count];
	AggregateEntry *entry = NULL;
	uint64		reset;

	SpinLockAcquire(&set->mutex);
	reset = pg_atomic_read_u64(reset_event_id);
	if (event_id < reset)
	{
		SpinLockRelease(&set->mutex);
		return;
	}
	if (!set_is_current(set, reset))
	{
		set->used = 0;
		set->evicted = 0;
		set->reset_event_id = reset;
	}

	for (int way = 0; way < set->used; way++)
	{
		if (set->tags[way] == tag &&
			memcmp(&set->entries[way].key, key, sizeof(AggregateKey)) == 0)
		{
			entry = &set->entries[way];
			break;
		}
	}
	if (entry == NULL)
	{
		int			way;

		if (set->used < aggregates->ways)
			way = set->used++;
		else
		{
			/* evict the least recently seen row of the set */
			way = 0;
			for (int w = 1; w < set->used; w++)
			{
				if (set->entries[w].last_seen < set->entries[way].last_seen)
					way = w;
			}
			set->evicted++;
		}
		set->tags[way] = tag;
		entry = &set->entries[way];
		entry->key = *key;
		entry->count = 0;
		entry->first_seen = first_seen;
		entry->last_seen = last_seen;
	}
	entry->count += count;
	entry->first_seen = Min(entry->first_seen, first_seen);
	entry->last_seen = Max(entry->last_seen, last_seen);
	SpinLockRelease(&set->mutex);
}

/* Count one attempt.  The caller has blocked signals. */
void
aggregates_count(Aggregates *aggregates, const AuditRecord *record,
				 pg_atomic_uint64 *reset_event_id)
{
	AggregateKey key;

	make_key(&key, record);
	add(aggregates, &key, 1, record->time, record->time, record->event_id,
		reset_event_id);
}

/*
 * Add a row read from a dump file, after checking that every field is in
 * range: the file is data, not trusted.  False if the row is invalid.
 */
bool
aggregates_merge(Aggregates *aggregates, const AggregateEntry *entry,
				 pg_atomic_uint64 *reset_event_id)
{
	AggregateKey key = entry->key;

	if (key.transport > TRANSPORT_IPV6 || key.outcome > OUTCOME_REFUSED ||
		entry->count == 0 || entry->first_seen > entry->last_seen ||
		memchr(key.user_name, '\0', sizeof(key.user_name)) == NULL ||
		memchr(key.database_name, '\0', sizeof(key.database_name)) == NULL ||
		memchr(key.tls_version, '\0', sizeof(key.tls_version)) == NULL ||
		memchr(key.cipher, '\0', sizeof(key.cipher)) == NULL)
		return false;

	/* rebuild the key so that its padding hashes as ours does */
	memset(&key, 0, sizeof(key));
	strlcpy(key.user_name, entry->key.user_name, sizeof(key.user_name));
	strlcpy(key.database_name, entry->key.database_name,
			sizeof(key.database_name));
	strlcpy(key.tls_version, entry->key.tls_version, sizeof(key.tls_version));
	strlcpy(key.cipher, entry->key.cipher, sizeof(key.cipher));
	key.role_oid = entry->key.role_oid;
	key.transport = entry->key.transport;
	key.outcome = entry->key.outcome;
	add(aggregates, &key, entry->count, entry->first_seen, entry->last_seen,
		PG_UINT64_MAX, reset_event_id);
	return true;
}

/*
 * Copy the rows out, a set at a time: each set's lock is held for the copy
 * of at most AGGREGATE_WAYS rows into a local buffer, never across the
 * growth of the result.
 */
int
aggregates_copy(Aggregates *aggregates, pg_atomic_uint64 *reset_event_id,
				AggregateEntry **entries)
{
	AggregateEntry buffer[AGGREGATE_WAYS];
	int			allocated = 64;
	int			count = 0;
	AggregateEntry *result = palloc(sizeof(AggregateEntry) * allocated);

	for (int i = 0; i < aggregates->set_count; i++)
	{
		AggregateSet *set = &aggregates->sets[i];
		int			used;

		SpinLockAcquire(&set->mutex);
		used = set_is_current(set, pg_atomic_read_u64(reset_event_id)) ?
			set->used : 0;
		memcpy(buffer, set->entries, sizeof(AggregateEntry) * used);
		SpinLockRelease(&set->mutex);

		if (count + used > allocated)
		{
			allocated = Max(allocated * 2, count + used);
			result = repalloc(result, sizeof(AggregateEntry) * allocated);
		}
		memcpy(result + count, buffer, sizeof(AggregateEntry) * used);
		count += used;
	}
	*entries = result;
	return count;
}

/* Rows in use and rows evicted since the last reset. */
void
aggregates_totals(Aggregates *aggregates, pg_atomic_uint64 *reset_event_id,
				  int *rows, uint64 *evicted)
{
	uint64		reset = pg_atomic_read_u64(reset_event_id);

	*rows = 0;
	*evicted = 0;
	for (int i = 0; i < aggregates->set_count; i++)
	{
		AggregateSet *set = &aggregates->sets[i];

		SpinLockAcquire(&set->mutex);
		if (set_is_current(set, reset))
		{
			*rows += set->used;
			*evicted += set->evicted;
		}
		SpinLockRelease(&set->mutex);
	}
}

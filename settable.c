/*-------------------------------------------------------------------------
 *
 * settable.c
 *		A bounded, set-associative table of fixed-size rows in shared
 *		memory, whose keys clients may choose (user and database names are
 *		recorded before authentication; certificates are the client's).
 *
 * The table does the same bounded work whatever arrives: a key hashes
 * (with a seed drawn at server start, so that no client can aim at one
 * set) to one set of SET_WAYS rows; a lookup compares at most that many,
 * and a new key meeting a full set evicts the least recently seen row of
 * that set.  There is no tombstone, no whole-table scan and no global
 * lock: each set has its own spinlock, held for one lookup and update, or
 * for one copy of the set.  Writers block signals around it (store.c).
 *
 * A row begins with its key.  Resetting does not visit the sets: each set
 * remembers the reset it belongs to (the event id of the reset point); a
 * set of an older reset is empty to readers and is cleared by its next
 * writer, and an event older than the last reset is not counted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "settable.h"

typedef struct SetHeader
{
	slock_t		mutex;
	int			used;			/* rows 0 .. used - 1 are in use */
	uint64		reset_event_id; /* the reset these rows belong to */
	uint64		evicted;		/* rows evicted since then */
	uint32		tags[SET_WAYS]; /* hash of each row's key */
	TimestampTz last_seen[SET_WAYS];
	/* the rows follow, at MAXALIGN(sizeof(SetHeader)) */
} SetHeader;

struct SetTable
{
	int			set_count;
	int			ways;
	Size		row_size;
	Size		row_stride;
	Size		set_stride;
	Size		key_size;
	uint64		seed;
	/* the sets follow, at MAXALIGN(sizeof(SetTable)) */
};

static void geometry(int rows, Size row_size, int *set_count, int *ways,
					 Size *set_stride);
static SetHeader *set_at(SetTable *table, int index);
static char *row_at(SetTable *table, SetHeader *set, int way);

/*
 * "rows" rows, in sets of SET_WAYS (fewer for a tiny table, so that its
 * bound is exact).
 */
static void
geometry(int rows, Size row_size, int *set_count, int *ways, Size *set_stride)
{
	*ways = Min(rows, SET_WAYS);
	*set_count = (rows + *ways - 1) / *ways;
	*set_stride = MAXALIGN(sizeof(SetHeader)) + MAXALIGN(row_size) * *ways;
}

Size
settable_shmem_size(int rows, Size row_size)
{
	int			set_count;
	int			ways;
	Size		set_stride;

	geometry(rows, row_size, &set_count, &ways, &set_stride);
	return add_size(MAXALIGN(sizeof(SetTable)), mul_size(set_stride, set_count));
}

SetTable   *
settable_init(void *place, bool found, int rows, Size row_size, Size key_size)
{
	SetTable   *table = (SetTable *) place;

	if (found)
		return table;
	geometry(rows, row_size, &table->set_count, &table->ways,
			 &table->set_stride);
	table->row_size = row_size;
	table->row_stride = MAXALIGN(row_size);
	table->key_size = key_size;
	if (!pg_strong_random(&table->seed, sizeof(table->seed)))
		table->seed = (uint64) GetCurrentTimestamp();
	for (int i = 0; i < table->set_count; i++)
	{
		SetHeader  *set = set_at(table, i);

		SpinLockInit(&set->mutex);
		set->used = 0;
		set->reset_event_id = 0;
		set->evicted = 0;
	}
	return table;
}

int
settable_capacity(SetTable *table)
{
	return table->set_count * table->ways;
}

Size
settable_row_size(SetTable *table)
{
	return table->row_size;
}

static SetHeader *
set_at(SetTable *table, int index)
{
	return (SetHeader *) ((char *) table + MAXALIGN(sizeof(SetTable)) +
						  table->set_stride * index);
}

static char *
row_at(SetTable *table, SetHeader *set, int way)
{
	return (char *) set + MAXALIGN(sizeof(SetHeader)) + table->row_stride * way;
}

/*
 * Find the row of "key", or insert it (evicting the least recently seen
 * row of its set when the set is full), and let "update" fill or update it
 * under the set's lock.  Nothing is done for an event older than the last
 * reset.  The caller has blocked signals.
 */
void
settable_upsert(SetTable *table, const void *key, TimestampTz seen,
				uint64 event_id, pg_atomic_uint64 *reset_event_id,
				SetRowUpdate update, void *arg)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key,
										   table->key_size, table->seed);
	uint32		tag = (uint32) hash;
	SetHeader  *set = set_at(table, (hash >> 32) % table->set_count);
	uint64		reset;
	int			way;

	SpinLockAcquire(&set->mutex);
	reset = pg_atomic_read_u64(reset_event_id);
	if (event_id < reset)
	{
		SpinLockRelease(&set->mutex);
		return;
	}
	if (set->reset_event_id != reset)
	{
		set->used = 0;
		set->evicted = 0;
		set->reset_event_id = reset;
	}

	for (way = 0; way < set->used; way++)
	{
		if (set->tags[way] == tag &&
			memcmp(row_at(table, set, way), key, table->key_size) == 0)
			break;
	}
	if (way < set->used)
	{
		set->last_seen[way] = Max(set->last_seen[way], seen);
		update(row_at(table, set, way), false, arg);
	}
	else
	{
		if (set->used < table->ways)
			way = set->used++;
		else
		{
			/* evict the least recently seen row of the set */
			way = 0;
			for (int w = 1; w < set->used; w++)
			{
				if (set->last_seen[w] < set->last_seen[way])
					way = w;
			}
			set->evicted++;
		}
		set->tags[way] = tag;
		set->last_seen[way] = seen;
		memcpy(row_at(table, set, way), key, table->key_size);
		update(row_at(table, set, way), true, arg);
	}
	SpinLockRelease(&set->mutex);
}

/*
 * Copy the rows since the last reset into a palloc'd array of row_size
 * elements, a set at a time: each set's lock is held for the copy of at
 * most SET_WAYS rows into a local buffer, never across the growth of the
 * result.  Returns the number of rows.
 */
int
settable_copy(SetTable *table, pg_atomic_uint64 *reset_event_id, void **rows)
{
	char	   *buffer = palloc(table->row_stride * table->ways);
	int			allocated = 64;
	int			count = 0;
	char	   *result = palloc(table->row_size * allocated);

	for (int i = 0; i < table->set_count; i++)
	{
		SetHeader  *set = set_at(table, i);
		int			used;

		SpinLockAcquire(&set->mutex);
		used = set->reset_event_id == pg_atomic_read_u64(reset_event_id) ?
			set->used : 0;
		memcpy(buffer, row_at(table, set, 0), table->row_stride * used);
		SpinLockRelease(&set->mutex);

		if (count + used > allocated)
		{
			allocated = Max(allocated * 2, count + used);
			result = repalloc(result, table->row_size * allocated);
		}
		for (int way = 0; way < used; way++)
			memcpy(result + table->row_size * (count + way),
				   buffer + table->row_stride * way, table->row_size);
		count += used;
	}
	pfree(buffer);
	*rows = result;
	return count;
}

/* Rows in use and rows evicted since the last reset. */
void
settable_totals(SetTable *table, pg_atomic_uint64 *reset_event_id,
				int *rows, uint64 *evicted)
{
	uint64		reset = pg_atomic_read_u64(reset_event_id);

	*rows = 0;
	*evicted = 0;
	for (int i = 0; i < table->set_count; i++)
	{
		SetHeader  *set = set_at(table, i);

		SpinLockAcquire(&set->mutex);
		if (set->reset_event_id == reset)
		{
			*rows += set->used;
			*evicted += set->evicted;
		}
		SpinLockRelease(&set->mutex);
	}
}

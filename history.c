/*-------------------------------------------------------------------------
 *
 * history.c
 *		The history of connection attempts: variable-length records in a
 *		byte ring, found through an index of history_size entries.
 *
 * Event ids increase by one per attempt.  Event N's index entry is entry
 * N % history_size; it says where in the ring the record lies.  Ring
 * positions increase forever (byte offsets since start); the byte at
 * position P lies at P % ring_size.  The record at position P is intact
 * as long as no writer has reserved beyond P + ring_size.
 *
 * Writers are serialized by one spinlock, held for the copy of one record
 * (under 1 kB typically) and a few stores; ids are assigned under it, so a
 * slow writer can never overwrite a newer event.  The caller blocks the
 * signals whose handlers may _exit (see store.c).  A writer first
 * publishes how far it reserves (write_end), then copies, then publishes
 * the index entry.
 *
 * Readers take no lock: they read the entry, copy the record out, and
 * check afterwards that neither the entry nor the bytes were reused
 * meanwhile, as PgBackendStatus readers do with a change counter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "port/atomics.h"
#include "storage/spin.h"

#include "history.h"
#include "record.h"

typedef struct HistoryEntry
{
	pg_atomic_uint64 event_id;	/* 0 while being written, or never used */
	uint64		position;		/* of the record in the ring */
	uint32		length;			/* of the record */
} HistoryEntry;

struct History
{
	slock_t		mutex;			/* serializes writers */
	int			history_size;	/* entries */
	Size		ring_size;		/* bytes */
	Size		record_capacity;	/* the largest record */
	pg_atomic_uint64 next_event_id; /* the id the next event gets */
	pg_atomic_uint64 write_end; /* ring bytes reserved so far */
	HistoryEntry entries[FLEXIBLE_ARRAY_MEMBER];
	/* the ring follows, at ring_offset() */
};

static Size ring_offset(int history_size);
static char *ring(History *history);
static Size ring_size_for(int history_size, Size record_capacity);
static void copy_into_ring(History *history, uint64 position,
						   const void *source, Size length);
static void copy_from_ring(History *history, uint64 position, void *target,
						   Size length);
static bool intact(History *history, uint64 position);
static bool read_event(History *history, uint64 event_id, AuditRecord *record);
static void populate_ring(History *history, uint64 from, uint64 to);
static uint64 oldest_kept(History *history, uint64 first, uint64 next);

static Size
ring_offset(int history_size)
{
	return MAXALIGN(add_size(offsetof(History, entries),
							 mul_size(sizeof(HistoryEntry), history_size)));
}

static char *
ring(History *history)
{
	return (char *) history + ring_offset(history->history_size);
}

/* Room for history_size typical events, and always for a few of the largest. */
static Size
ring_size_for(int history_size, Size record_capacity)
{
	return Max(mul_size(HISTORY_BYTES_PER_EVENT, history_size),
			   mul_size(4, MAXALIGN(record_capacity)));
}

Size
history_shmem_size(int history_size, Size record_capacity)
{
	return add_size(ring_offset(history_size),
					ring_size_for(history_size, record_capacity));
}

History    *
history_init(void *place, bool found, int history_size, Size record_capacity)
{
	History    *history = (History *) place;

	if (found)
		return history;
	memset(history, 0, ring_offset(history_size));
	SpinLockInit(&history->mutex);
	history->history_size = history_size;
	history->ring_size = ring_size_for(history_size, record_capacity);
	history->record_capacity = record_capacity;
	pg_atomic_init_u64(&history->next_event_id, 1);
	pg_atomic_init_u64(&history->write_end, 0);
	for (int i = 0; i < history_size; i++)
		pg_atomic_init_u64(&history->entries[i].event_id, 0);
	return history;
}

uint64
history_next_event_id(History *history)
{
	return pg_atomic_read_u64(&history->next_event_id);
}

/* At startup only, before any writer. */
void
history_set_next_event_id(History *history, uint64 next)
{
	pg_atomic_write_u64(&history->next_event_id, next);
}

/*
 * Touch the ring where the next record of "length" bytes will most likely
 * go, and its index entry, so that the page faults of a backend's first
 * write happen before the lock rather than under it.
 */
void
history_prefault(History *history, Size length)
{
	volatile const char *ring_bytes = ring(history);
	uint64		position = pg_atomic_read_u64(&history->write_end);
	uint64		next = pg_atomic_read_u64(&history->next_event_id);
	volatile const HistoryEntry *entry;

	(void) ring_bytes[position % history->ring_size];
	(void) ring_bytes[(position + length - 1) % history->ring_size];
	entry = &history->entries[next % history->history_size];
	(void) entry->length;
}

/*
 * Append a record, assigning it the next event id (or, when loading a
 * dump, keeping its own, which must exceed every id appended before).
 * The caller has blocked signals.  Returns the event id.
 */
uint64
history_append(History *history, AuditRecord *record, bool keep_event_id)
{
	Size		length = record_size(record);
	uint64		event_id;
	uint64		position;
	HistoryEntry *entry;

	Assert(length <= history->record_capacity);

	SpinLockAcquire(&history->mutex);
	event_id = keep_event_id ? record->event_id :
		pg_atomic_read_u64(&history->next_event_id);
	record->event_id = event_id;
	entry = &history->entries[event_id % history->history_size];
	position = pg_atomic_read_u64(&history->write_end);

	/* withdraw the entry, then claim the bytes, then write */
	pg_atomic_write_u64(&entry->event_id, 0);
	pg_write_barrier();
	pg_atomic_write_u64(&history->write_end, position + MAXALIGN(length));
	pg_write_barrier();
	copy_into_ring(history, position, record, length);
	entry->position = position;
	entry->length = length;
	pg_write_barrier();
	pg_atomic_write_u64(&entry->event_id, event_id);
	pg_atomic_write_u64(&history->next_event_id, event_id + 1);
	SpinLockRelease(&history->mutex);

	return event_id;
}

static void
copy_into_ring(History *history, uint64 position, const void *source,
			   Size length)
{
	Size		offset = position % history->ring_size;
	Size		first = Min(length, history->ring_size - offset);

	memcpy(ring(history) + offset, source, first);
	if (first < length)
		memcpy(ring(history), (const char *) source + first, length - first);
}

static void
copy_from_ring(History *history, uint64 position, void *target, Size length)
{
	Size		offset = position % history->ring_size;
	Size		first = Min(length, history->ring_size - offset);

	memcpy(target, ring(history) + offset, first);
	if (first < length)
		memcpy((char *) target + first, ring(history), length - first);
}

/* No writer has reserved the bytes of a record at "position" again. */
static bool
intact(History *history, uint64 position)
{
	return pg_atomic_read_u64(&history->write_end) <= position + history->ring_size;
}

/*
 * Copy event "event_id" out into "record" (record_capacity bytes); false
 * if it is gone or being written.
 */
static bool
read_event(History *history, uint64 event_id, AuditRecord *record)
{
	HistoryEntry *entry = &history->entries[event_id % history->history_size];
	uint64		position;
	uint32		length;

	if (pg_atomic_read_u64(&entry->event_id) != event_id)
		return false;
	pg_read_barrier();
	position = entry->position;
	length = entry->length;
	if (length < RECORD_HEADER_SIZE || length > history->record_capacity ||
		!intact(history, position))
		return false;

	copy_from_ring(history, position, record, length);

	pg_read_barrier();
	if (pg_atomic_read_u64(&entry->event_id) != event_id ||
		!intact(history, position))
		return false;
	return record->event_id == event_id && record_size(record) == length;
}

/*
 * A backend's first scan of a large history would take a page fault for
 * every page of the ring; ask the kernel to map the ring's bytes between
 * positions "from" and "to" in one call instead.  Only an optimization:
 * failure is ignored.
 */
static void
populate_ring(History *history, uint64 from, uint64 to)
{
#ifdef MADV_POPULATE_READ
	static uint64 populated_to = 0;
	Size		page = sysconf(_SC_PAGESIZE);
	uintptr_t	base = (uintptr_t) ring(history);
	uintptr_t	start;
	uintptr_t	end;

	from = Max(from, populated_to);
	if (to <= from)
		return;
	populated_to = to;
	if (to - from >= history->ring_size)
	{
		start = base;
		end = base + history->ring_size;
	}
	else
	{
		start = base + from % history->ring_size;
		end = base + to % history->ring_size;
		if (end <= start)
		{
			/* wrapped: the end of the ring now, its start below */
			(void) madvise((void *) (start - start % page),
						   base + history->ring_size - (start - start % page),
						   MADV_POPULATE_READ);
			start = base;
		}
	}
	start -= start % page;
	if (end > start)
		(void) madvise((void *) start, end - start, MADV_POPULATE_READ);
#endif
}

/*
 * Start reading the events from "first" on, oldest first: the events that
 * exist now, and of those the ones still there when they are read.
 */
void
history_open(History *history, uint64 first, HistoryCursor *cursor)
{
	uint64		next = pg_atomic_read_u64(&history->next_event_id);
	uint64		write_end = pg_atomic_read_u64(&history->write_end);

	first = oldest_kept(history, first, next);
	if (write_end > 0)
		populate_ring(history,
					  write_end > history->ring_size ?
					  write_end - history->ring_size : 0,
					  write_end);
	cursor->next_id = first;
	cursor->end_id = next;
}

/*
 * Copy the cursor's next event into "record" (record_capacity bytes);
 * false when no event is left.  Events overwritten since history_open()
 * are skipped.
 */
bool
history_next(History *history, HistoryCursor *cursor, AuditRecord *record)
{
	while (cursor->next_id < cursor->end_id)
	{
		if (read_event(history, cursor->next_id++, record))
			return true;
	}
	return false;
}

/* Visit the events from "first" on, oldest first. */
void
history_scan(History *history, uint64 first, RecordVisitor visitor, void *arg)
{
	AuditRecord *record = palloc(history->record_capacity);
	HistoryCursor cursor;

	history_open(history, first, &cursor);
	while (history_next(history, &cursor, record))
		visitor(record, arg);
	pfree(record);
}

/*
 * The number of event ids from "first" on that the index can still hold:
 * what a scan reads at most, without reading the entries.
 */
uint64
history_span(History *history, uint64 first)
{
	uint64		next = pg_atomic_read_u64(&history->next_event_id);

	return next > first ? next - oldest_kept(history, first, next) : 0;
}

/*
 * The oldest of the ids from "first" up to "next" whose entries have not
 * been reused by a newer event.
 */
static uint64
oldest_kept(History *history, uint64 first, uint64 next)
{
	if (next > first && next - first > (uint64) history->history_size)
		return next - history->history_size;
	return first;
}

/* The number of events from "first" on that are still in the history. */
uint64
history_retained(History *history, uint64 first)
{
	uint64		next = pg_atomic_read_u64(&history->next_event_id);
	uint64		count = 0;

	for (uint64 id = oldest_kept(history, first, next); id < next; id++)
	{
		HistoryEntry *entry = &history->entries[id % history->history_size];

		if (pg_atomic_read_u64(&entry->event_id) != id)
			continue;
		pg_read_barrier();
		if (intact(history, entry->position))
			count++;
	}
	return count;
}

/*-------------------------------------------------------------------------
 *
 * sessions.c
 *		The live sessions: one slot per backend, indexed by its proc
 *		number, holding the record of the attempt that opened the session.
 *
 * Only the backend that owns a slot writes it, so there is no lock: the
 * writer bumps the slot's change counter before and after the copy (odd
 * while writing), and a reader copies the slot out and keeps the copy only
 * if the counter was even and unchanged, as PgBackendStatus does.  A
 * reader retries a bounded number of times, so even a writer that died
 * mid-copy cannot make it loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/ipc.h"

#include "record.h"
#include "sessions.h"

/* How often a reader tries a slot that is being written. */
#define READ_ATTEMPTS	100

typedef struct SessionSlot
{
	pg_atomic_uint32 changecount;	/* odd while the owner writes */
	bool		used;
	AuditRecord record;			/* record_capacity bytes */
} SessionSlot;

struct Sessions
{
	int			slots;
	Size		slot_stride;
	Size		record_capacity;
	char		slot_space[FLEXIBLE_ARRAY_MEMBER];
};

/* This backend's slot, once it has published one. */
static SessionSlot *my_slot = NULL;

static Size slot_stride_for(Size record_capacity);
static SessionSlot *session_slot(Sessions *sessions, int index);
static void write_slot(SessionSlot *slot, const AuditRecord *record, bool used);
static void clear_my_slot(int code, Datum arg);

static Size
slot_stride_for(Size record_capacity)
{
	return MAXALIGN(offsetof(SessionSlot, record) + record_capacity);
}

Size
sessions_shmem_size(int slots, Size record_capacity)
{
	return add_size(MAXALIGN(offsetof(Sessions, slot_space)),
					mul_size(slot_stride_for(record_capacity), slots));
}

Sessions   *
sessions_init(void *place, bool found, int slots, Size record_capacity)
{
	Sessions   *sessions = (Sessions *) place;

	if (found)
		return sessions;
	sessions->slots = slots;
	sessions->slot_stride = slot_stride_for(record_capacity);
	sessions->record_capacity = record_capacity;
	for (int i = 0; i < slots; i++)
	{
		SessionSlot *slot = session_slot(sessions, i);

		pg_atomic_init_u32(&slot->changecount, 0);
		slot->used = false;
	}
	return sessions;
}

static SessionSlot *
session_slot(Sessions *sessions, int index)
{
	return (SessionSlot *) (sessions->slot_space + sessions->slot_stride * index);
}

static void
write_slot(SessionSlot *slot, const AuditRecord *record, bool used)
{
	pg_atomic_fetch_add_u32(&slot->changecount, 1);
	pg_write_barrier();
	if (used)
		memcpy(&slot->record, record, record_size(record));
	slot->used = used;
	pg_write_barrier();
	pg_atomic_fetch_add_u32(&slot->changecount, 1);
}

/* This backend's session is the one "record" opened. */
void
sessions_publish(Sessions *sessions, int slot, const AuditRecord *record)
{
	if (slot < 0 || slot >= sessions->slots)
		return;
	if (my_slot == NULL)
		before_shmem_exit(clear_my_slot, (Datum) 0);
	my_slot = session_slot(sessions, slot);
	write_slot(my_slot, record, true);
}

static void
clear_my_slot(int code, Datum arg)
{
	if (my_slot != NULL)
		write_slot(my_slot, NULL, false);
	my_slot = NULL;
}

void
sessions_scan(Sessions *sessions, RecordVisitor visitor, void *arg)
{
	AuditRecord *record = palloc(sessions->record_capacity);

	for (int i = 0; i < sessions->slots; i++)
	{
		SessionSlot *slot = session_slot(sessions, i);

		for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++)
		{
			uint32		before = pg_atomic_read_u32(&slot->changecount);
			bool		used;

			pg_read_barrier();
			used = slot->used;
			if (used)
				memcpy(record, &slot->record,
					   Min(record_size(&slot->record), sessions->record_capacity));
			pg_read_barrier();
			if ((before & 1) == 0 &&
				pg_atomic_read_u32(&slot->changecount) == before)
			{
				if (used && record_size(record) <= sessions->record_capacity)
					visitor(record, arg);
				break;
			}
			pg_spin_delay();
		}
	}
	pfree(record);
}

/*-------------------------------------------------------------------------
 *
 * store.c
 *		What pgtls_audit remembers, in shared memory: the history of
 *		attempts (history.c), the live sessions (sessions.c), the
 *		aggregates (aggregates.c) and the client certificates
 *		(certificates.c).  This file sizes and lays them out,
 *		writes an attempt into all three, resets them, and keeps them across
 *		a clean shutdown.
 *
 * The locking rule.  Writers run on the connection path, some of them
 * (refusals seen by emit_log_hook) while the backend is still reading its
 * startup packet.  There PostgreSQL's SIGTERM and startup-timeout handlers
 * leave with _exit(1), which the postmaster takes for a clean exit: no
 * crash restart would free a lock the backend held.  So:
 *
 *	- every lock a writer takes is a spinlock held for one copy (a record of
 *	  typically under 1 kB, or a set of SET_WAYS aggregate rows) and
 *	  a few stores; no loop over a table, no allocation, no I/O under it;
 *	- store_attempt blocks every signal PostgreSQL blocks in BlockSig
 *	  around all of its writes, so no handler can end the process while it
 *	  holds one; a signal that arrives meanwhile is handled right after;
 *	- readers of the history and of the sessions take no lock at all: they
 *	  copy and check that what they copied was not being rewritten.
 *
 * The work per attempt does not depend on what clients send: one append to
 * the ring, one lookup in one aggregate set, one copy into the backend's
 * own session slot.
 *
 * Event ids never go backwards.  The ids of a clean shutdown are saved;
 * at every start a lease of EVENT_ID_LEASE ids beyond the first one is
 * written to disk, so that after a crash (or an ignored dump file, or with
 * pgtls_audit.save = off) the next start begins above any id handed out.
 *
 * Persistence follows pg_stat_statements: at a clean shutdown the
 * postmaster writes the history and the aggregates to a temporary file
 * renamed durably into place; at startup the file is read, every field of
 * it checked, and removed.  Nothing is written after a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "libpq/pqsignal.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "certificates.h"
#include "compat.h"
#include "record.h"
#include "sessions.h"
#include "store.h"

#define STORE_DUMP_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pgtls_audit.stat"
#define STORE_FILE_MAGIC	0x70677461	/* "pgta" */
#define STORE_FILE_VERSION	6

#define EVENT_ID_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pgtls_audit.ids"
#define EVENT_ID_MAGIC		0x70676964	/* "pgid" */
#define EVENT_ID_LEASE		(UINT64CONST(1) << 40)

/* The most shared memory the settings may ask for. */
#define STORE_MAX_SHMEM_MB	1024

typedef struct StoreHeader
{
	pg_atomic_uint64 reset_event_id;	/* the first event since reset() */
	pg_atomic_uint64 stats_reset;	/* TimestampTz of the last reset() */
	pg_atomic_uint64 evicted_before_start;	/* aggregate rows, from the dump */
	pg_atomic_uint64 certificates_evicted_before_start; /* from the dump */
} StoreHeader;

/* Where each part lies in the store's shared memory, and its size. */
typedef struct StoreLayout
{
	Size		record_capacity;
	int			session_slots;
	Size		history_offset;
	Size		history_size;
	Size		sessions_offset;
	Size		sessions_size;
	Size		aggregates_offset;
	Size		aggregates_size;
	Size		certificates_offset;
	Size		certificates_size;
	Size		total;
} StoreLayout;

/*---- GUC variables ----*/

static int	history_size = 1000;
static int	max_aggregates = 1000;
static int	max_certificates = 1000;
static int	max_dn_length = 1024;
static bool save_store = true;

/*---- Shared memory ----*/

static StoreHeader *header = NULL;
static History *history = NULL;
static Sessions *sessions = NULL;
static Aggregates *aggregates = NULL;
static Certificates *certificates = NULL;
static StoreLayout layout;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*---- Function declarations ----*/

static void compute_layout(StoreLayout *l);
static void store_request_shmem(void);
static void store_startup_shmem(void);
static void init_parts(char *base, bool found);
static void store_shmem_shutdown(int code, Datum arg);
static bool dump_store(void);
static void write_history_record(const AuditRecord *record, void *arg);
static void store_load(void);
static bool load_dump(FILE *file);
static uint64 read_event_id_floor(void);
static void write_event_id_floor(uint64 floor);

void
store_init(void)
{
	DefineCustomIntVariable("pgtls_audit.history_size",
							"Sets the number of connection attempts kept in the history.",
							"The oldest attempt is overwritten, and counted, when the history is full.",
							&history_size,
							1000,
							10, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.max_aggregates",
							"Sets the number of rows kept in the aggregates.",
							"A new row evicts, and counts, the least recently seen row of its set of 16.",
							&max_aggregates,
							1000,
							10, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.max_certificates",
							"Sets the number of client certificates kept in the inventory.",
							"A new certificate evicts, and counts, the least recently seen certificate of its set of 16.",
							&max_certificates,
							1000,
							10, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.max_dn_length",
							"Sets the longest certificate DN kept whole in shared memory, in bytes.",
							"Longer DNs are kept truncated and flagged; the log line always has them in full.",
							&max_dn_length,
							1024,
							128, 16384,
							PGC_POSTMASTER,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgtls_audit.save",
							 "Saves the history and aggregates across server shutdowns.",
							 NULL,
							 &save_store,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = store_request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = store_startup_shmem;
}

static void
compute_layout(StoreLayout *l)
{
	l->record_capacity = record_capacity(max_dn_length);
	l->session_slots = MaxBackends;
	l->history_offset = MAXALIGN(sizeof(StoreHeader));
	l->history_size = MAXALIGN(history_shmem_size(history_size,
												  l->record_capacity));
	l->sessions_offset = add_size(l->history_offset, l->history_size);
	l->sessions_size = MAXALIGN(sessions_shmem_size(l->session_slots,
													l->record_capacity));
	l->aggregates_offset = add_size(l->sessions_offset, l->sessions_size);
	l->aggregates_size = MAXALIGN(aggregates_shmem_size(max_aggregates));
	l->certificates_offset = add_size(l->aggregates_offset, l->aggregates_size);
	l->certificates_size = MAXALIGN(certificates_shmem_size(max_certificates,
															max_dn_length));
	l->total = add_size(l->certificates_offset, l->certificates_size);
}

/*
 * Ask for the store's shared memory, refusing settings that would need
 * more than STORE_MAX_SHMEM_MB with a message that says which part is big.
 */
static void
store_request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	compute_layout(&layout);
	if (layout.total > (Size) STORE_MAX_SHMEM_MB * 1024 * 1024)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pgtls_audit would need %zu MB of shared memory, more than its limit of %d MB",
						layout.total / (1024 * 1024), STORE_MAX_SHMEM_MB),
				 errdetail("The history takes %zu MB, the sessions of %d backends %zu MB, the aggregates %zu MB and the certificate inventory %zu MB.",
						   layout.history_size / (1024 * 1024),
						   layout.session_slots,
						   layout.sessions_size / (1024 * 1024),
						   layout.aggregates_size / (1024 * 1024),
						   layout.certificates_size / (1024 * 1024)),
				 errhint("Lower pgtls_audit.history_size, pgtls_audit.max_aggregates, pgtls_audit.max_certificates, pgtls_audit.max_dn_length or max_connections.")));
	RequestAddinShmemSpace(layout.total);
}

static void
init_parts(char *base, bool found)
{
	history = history_init(base + layout.history_offset, found, history_size,
						   layout.record_capacity);
	sessions = sessions_init(base + layout.sessions_offset, found,
							 layout.session_slots, layout.record_capacity);
	aggregates = aggregates_init(base + layout.aggregates_offset, found,
								 max_aggregates);
	certificates = certificates_init(base + layout.certificates_offset, found,
									 max_certificates, max_dn_length);
}

static void
store_startup_shmem(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* reset in case this is a restart within the postmaster */
	header = NULL;
	compute_layout(&layout);

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("pgtls_audit", layout.total, &found);
	if (!found)
	{
		StoreHeader *h = (StoreHeader *) base;

		pg_atomic_init_u64(&h->reset_event_id, 1);
		pg_atomic_init_u64(&h->stats_reset, (uint64) GetCurrentTimestamp());
		pg_atomic_init_u64(&h->evicted_before_start, 0);
		pg_atomic_init_u64(&h->certificates_evicted_before_start, 0);
	}
	init_parts(base, found);
	header = (StoreHeader *) base;
	LWLockRelease(AddinShmemInitLock);

	if (IsUnderPostmaster || found)
		return;

	ereport(LOG,
			(errmsg("pgtls_audit uses %zu kB of shared memory",
					layout.total / 1024),
			 errdetail("The history of %d events takes %zu kB, the sessions of %d backends %zu kB, %d aggregate rows %zu kB and %d client certificates %zu kB.",
					   history_size, layout.history_size / 1024,
					   layout.session_slots, layout.sessions_size / 1024,
					   aggregates_capacity(aggregates),
					   layout.aggregates_size / 1024,
					   settable_capacity(certificates),
					   layout.certificates_size / 1024)));

	on_shmem_exit(store_shmem_shutdown, (Datum) 0);
	store_load();
}

bool
store_available(void)
{
	return header != NULL;
}

/*
 * Remember one attempt: in the history, in the aggregates and, for a
 * session that goes on, in this backend's session slot.  See the locking
 * rule above: signals stay blocked while any store lock is held.
 */
void
store_attempt(const AuditAttempt *attempt)
{
	static AuditRecord *record = NULL;
	sigset_t	saved;

	if (header == NULL)
		return;
	if (record == NULL)
		record = MemoryContextAlloc(TopMemoryContext, layout.record_capacity);

	build_record(record, attempt, max_dn_length);
	history_prefault(history, record_size(record));

	sigprocmask(SIG_SETMASK, &BlockSig, &saved);
	history_append(history, record, false);
	aggregates_count(aggregates, record, &header->reset_event_id);
	certificates_count(certificates, record, &header->reset_event_id);
	sigprocmask(SIG_SETMASK, &saved, NULL);

	if (attempt->outcome == OUTCOME_ACCEPTED)
		sessions_publish(sessions, PGTLS_MY_PROC_INDEX, record);
}

/* The history since the last reset, oldest event first. */
void
store_scan_history(RecordVisitor visitor, void *arg)
{
	history_scan(history, pg_atomic_read_u64(&header->reset_event_id),
				 visitor, arg);
}

/*
 * Read the history one event at a time, for a scan that returns each row
 * before it reads the next, into a buffer from store_record_buffer().
 */
void
store_open_history(HistoryCursor *cursor)
{
	history_open(history, pg_atomic_read_u64(&header->reset_event_id),
				 cursor);
}

bool
store_next_history(HistoryCursor *cursor, AuditRecord *record)
{
	return history_next(history, cursor, record);
}

/* Room for the largest record, in the current memory context. */
AuditRecord *
store_record_buffer(void)
{
	return palloc(layout.record_capacity);
}

/* The number of events a history scan would read, at most. */
uint64
store_history_estimate(void)
{
	return history_span(history, pg_atomic_read_u64(&header->reset_event_id));
}

void
store_scan_sessions(RecordVisitor visitor, void *arg)
{
	sessions_scan(sessions, visitor, arg);
}

int
store_copy_aggregates(AggregateEntry **entries)
{
	return aggregates_copy(aggregates, &header->reset_event_id, entries);
}

/* The certificate inventory, as an array of CertificateRow of *row_size. */
int
store_copy_certificates(CertificateRow **rows, Size *row_size)
{
	*row_size = settable_row_size(certificates);
	return settable_copy(certificates, &header->reset_event_id,
						 (void **) rows);
}

void
store_get_status(StoreStatus *status)
{
	/* the reset point first: the next id read after it is never below it */
	uint64		reset = pg_atomic_read_u64(&header->reset_event_id);
	uint64		next;
	uint64		evicted;

	pg_read_barrier();
	next = history_next_event_id(history);
	status->stats_reset = (TimestampTz) pg_atomic_read_u64(&header->stats_reset);
	aggregates_totals(aggregates, &header->reset_event_id,
					  &status->aggregates, &evicted);
	status->aggregates_evicted = evicted +
		pg_atomic_read_u64(&header->evicted_before_start);
	settable_totals(certificates, &header->reset_event_id,
					&status->certificates, &evicted);
	status->certificates_evicted = evicted +
		pg_atomic_read_u64(&header->certificates_evicted_before_start);
	status->max_certificates = max_certificates;

	status->history_size = history_size;
	status->events_total = next - reset;
	status->events_retained = Min(history_retained(history, reset),
								  status->events_total);
	status->events_overwritten = status->events_total - status->events_retained;
	status->max_aggregates = max_aggregates;
	status->max_dn_length = max_dn_length;
}

/*
 * Forget the history and the aggregates; event ids keep increasing.  The
 * reset point is the next event id: events below it are hidden from the
 * history and no longer counted in the aggregates, whose sets clear
 * themselves when next used.
 */
void
store_reset(void)
{
	pg_atomic_write_u64(&header->stats_reset, (uint64) GetCurrentTimestamp());
	pg_atomic_write_u64(&header->evicted_before_start, 0);
	pg_atomic_write_u64(&header->certificates_evicted_before_start, 0);
	pg_write_barrier();
	pg_atomic_write_u64(&header->reset_event_id, history_next_event_id(history));
}

/*---- Persistence ----*/

typedef struct StoreFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		record_header_size; /* RECORD_HEADER_SIZE */
	uint32		aggregate_entry_size;
	uint64		next_event_id;
	uint64		reset_event_id;
	TimestampTz stats_reset;
	uint64		aggregates_evicted;
	uint64		history_count;
	uint64		aggregate_count;
	uint64		certificate_row_size;
	uint64		certificates_evicted;
	uint64		certificate_count;
} StoreFileHeader;

typedef struct DumpState
{
	FILE	   *file;
	uint64		count;
	bool		failed;
} DumpState;

typedef struct EventIdFile
{
	uint32		magic;
	uint32		unused;
	uint64		floor;
} EventIdFile;

/*
 * At a clean shutdown, in the postmaster: save the next event id and, with
 * pgtls_audit.save, the history and aggregates.  Not after a crash (code
 * != 0): the store may be torn, and the lease on disk covers the ids.
 */
static void
store_shmem_shutdown(int code, Datum arg)
{
	if (code != 0 || header == NULL)
		return;
	if (save_store && !dump_store())
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m",
						STORE_DUMP_FILE ".tmp")));
		unlink(STORE_DUMP_FILE ".tmp");
	}
	write_event_id_floor(history_next_event_id(history));
}

static bool
dump_store(void)
{
	StoreFileHeader fh;
	DumpState	state = {0};
	StoreStatus status;
	AggregateEntry *entries;
	CertificateRow *certificate_rows;
	Size		certificate_size;
	int			rows;
	int			certificate_count;

	state.file = AllocateFile(STORE_DUMP_FILE ".tmp", PG_BINARY_W);
	if (state.file == NULL)
		return false;

	store_get_status(&status);
	rows = store_copy_aggregates(&entries);
	certificate_count = store_copy_certificates(&certificate_rows,
												&certificate_size);
	memset(&fh, 0, sizeof(fh));
	fh.magic = STORE_FILE_MAGIC;
	fh.version = STORE_FILE_VERSION;
	fh.record_header_size = RECORD_HEADER_SIZE;
	fh.aggregate_entry_size = sizeof(AggregateEntry);
	fh.next_event_id = history_next_event_id(history);
	fh.reset_event_id = pg_atomic_read_u64(&header->reset_event_id);
	fh.stats_reset = (TimestampTz) pg_atomic_read_u64(&header->stats_reset);
	fh.aggregates_evicted = status.aggregates_evicted;
	fh.aggregate_count = rows;
	fh.certificate_row_size = certificate_size;
	fh.certificates_evicted = status.certificates_evicted;
	fh.certificate_count = certificate_count;

	/* the header again once the history's count is known */
	if (fwrite(&fh, sizeof(fh), 1, state.file) != 1)
		state.failed = true;
	store_scan_history(write_history_record, &state);
	fh.history_count = state.count;
	if (!state.failed &&
		(fseek(state.file, 0, SEEK_SET) != 0 ||
		 fwrite(&fh, sizeof(fh), 1, state.file) != 1 ||
		 fseek(state.file, 0, SEEK_END) != 0))
		state.failed = true;
	if (!state.failed && rows > 0 &&
		fwrite(entries, sizeof(AggregateEntry), rows, state.file) != (size_t) rows)
		state.failed = true;
	if (!state.failed && certificate_count > 0 &&
		fwrite(certificate_rows, certificate_size, certificate_count,
			   state.file) != (size_t) certificate_count)
		state.failed = true;

	if (FreeFile(state.file) != 0 || state.failed)
		return false;
	(void) durable_rename(STORE_DUMP_FILE ".tmp", STORE_DUMP_FILE, LOG);
	return true;
}

static void
write_history_record(const AuditRecord *record, void *arg)
{
	DumpState  *state = (DumpState *) arg;
	uint32		size = record_size(record);

	if (state->failed)
		return;
	if (fwrite(&size, sizeof(size), 1, state->file) != 1 ||
		fwrite(record, size, 1, state->file) != 1)
		state->failed = true;
	state->count++;
}

/*
 * At startup, in the postmaster: read what the last clean shutdown saved,
 * then take a new lease of event ids.  A file that is not ours, of another
 * format, cut short or with any field out of range is ignored with a LOG
 * line, and removed either way so that a crash restart starts empty.
 */
static void
store_load(void)
{
	uint64		floor = read_event_id_floor();
	FILE	   *file;

	file = AllocateFile(STORE_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m",
							STORE_DUMP_FILE)));
	}
	else
	{
		if (!load_dump(file))
		{
			ereport(LOG,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("ignoring invalid pgtls_audit file \"%s\"",
							STORE_DUMP_FILE)));
			/* start empty rather than half-loaded */
			init_parts((char *) header, false);
			pg_atomic_write_u64(&header->reset_event_id, 1);
			pg_atomic_write_u64(&header->evicted_before_start, 0);
		}
		FreeFile(file);
		unlink(STORE_DUMP_FILE);
	}

	if (history_next_event_id(history) < floor)
	{
		history_set_next_event_id(history, floor);
		pg_atomic_write_u64(&header->reset_event_id, floor);
	}
	write_event_id_floor(history_next_event_id(history) + EVENT_ID_LEASE);
}

static bool
load_dump(FILE *file)
{
	StoreFileHeader fh;
	AuditRecord *loaded;
	AuditRecord *record;
	uint64		last_event_id = 0;
	Size		max_size = RECORD_HEADER_SIZE + PG_UINT16_MAX;
	CertificateRow *certificate;

	if (fread(&fh, sizeof(fh), 1, file) != 1 ||
		fh.magic != STORE_FILE_MAGIC ||
		fh.version != STORE_FILE_VERSION ||
		fh.record_header_size != RECORD_HEADER_SIZE ||
		fh.aggregate_entry_size != sizeof(AggregateEntry) ||
		fh.next_event_id == 0 || fh.next_event_id > PG_INT64_MAX / 2 ||
		fh.reset_event_id == 0 || fh.reset_event_id > fh.next_event_id ||
		fh.history_count > fh.next_event_id - fh.reset_event_id ||
		fh.aggregate_count > (uint64) PG_INT32_MAX ||
		fh.certificate_count > (uint64) PG_INT32_MAX ||
		fh.certificate_row_size < certificate_row_size(0) ||
		fh.certificate_row_size > certificate_row_size(16384))
		return false;

	pg_atomic_write_u64(&header->reset_event_id, fh.reset_event_id);
	pg_atomic_write_u64(&header->stats_reset, (uint64) fh.stats_reset);
	pg_atomic_write_u64(&header->evicted_before_start, fh.aggregates_evicted);
	pg_atomic_write_u64(&header->certificates_evicted_before_start,
						fh.certificates_evicted);

	loaded = palloc(max_size);
	record = palloc(layout.record_capacity);
	for (uint64 i = 0; i < fh.history_count; i++)
	{
		uint32		size;

		if (fread(&size, sizeof(size), 1, file) != 1 ||
			size < RECORD_HEADER_SIZE || size > max_size ||
			fread(loaded, size, 1, file) != 1 ||
			!record_is_valid(loaded, size) ||
			loaded->event_id <= last_event_id ||
			loaded->event_id < fh.reset_event_id ||
			loaded->event_id >= fh.next_event_id)
			return false;
		last_event_id = loaded->event_id;
		/* a smaller history keeps the newest events: the ring drops the rest */
		repack_record(record, loaded, max_dn_length);
		history_append(history, record, true);
	}

	for (uint64 i = 0; i < fh.aggregate_count; i++)
	{
		AggregateEntry entry;

		if (fread(&entry, sizeof(entry), 1, file) != 1 ||
			!aggregates_merge(aggregates, &entry, &header->reset_event_id))
			return false;
	}

	/* rows of another max_dn_length are read and left out */
	certificate = palloc(fh.certificate_row_size);
	for (uint64 i = 0; i < fh.certificate_count; i++)
	{
		if (fread(certificate, fh.certificate_row_size, 1, file) != 1)
			return false;
		if (fh.certificate_row_size == settable_row_size(certificates) &&
			!certificates_merge(certificates, certificate,
								&header->reset_event_id))
			return false;
	}
	if (fgetc(file) != EOF)
		return false;

	history_set_next_event_id(history, fh.next_event_id);
	return true;
}

/* The lowest event id the next start may hand out; 0 if unknown. */
static uint64
read_event_id_floor(void)
{
	EventIdFile contents;
	FILE	   *file = AllocateFile(EVENT_ID_FILE, PG_BINARY_R);
	bool		valid;

	if (file == NULL)
		return 0;
	valid = fread(&contents, sizeof(contents), 1, file) == 1 &&
		contents.magic == EVENT_ID_MAGIC &&
		contents.floor <= PG_INT64_MAX / 2;
	FreeFile(file);
	if (!valid)
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pgtls_audit file \"%s\"",
						EVENT_ID_FILE)));
		return 0;
	}
	return contents.floor;
}

static void
write_event_id_floor(uint64 floor)
{
	EventIdFile contents = {EVENT_ID_MAGIC, 0, floor};
	FILE	   *file = AllocateFile(EVENT_ID_FILE ".tmp", PG_BINARY_W);
	bool		written;

	if (file == NULL)
		written = false;
	else
	{
		written = fwrite(&contents, sizeof(contents), 1, file) == 1;
		written = (FreeFile(file) == 0) && written;
	}
	if (!written)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m",
						EVENT_ID_FILE ".tmp")));
		return;
	}
	(void) durable_rename(EVENT_ID_FILE ".tmp", EVENT_ID_FILE, LOG);
}

/*-------------------------------------------------------------------------
 *
 * store.c
 *		What pgtls_audit remembers, in shared memory: the live sessions,
 *		a history of attempts and aggregates by role, database, transport,
 *		protocol, cipher and outcome.
 *
 * Locking.  Writers run on the connection path, some of them (handshake
 * refusals) before the backend has a PGPROC, where an LWLock that must wait
 * would PANIC.  So the store uses spinlocks only, each held for a memcpy or
 * a hash probe:
 *
 *	- every history slot and every session slot has its own spinlock; a
 *	  writer builds the record in local memory first and copies it in, a
 *	  reader copies it out.  History writers take distinct slots from an
 *	  atomic event counter, so concurrent connections never wait on each
 *	  other there;
 *	- the aggregate table has one spinlock, held for one lookup-or-insert;
 *	- header_mutex protects the reset point and the eviction counter.
 *
 * Nothing here raises an error on the connection path: a full aggregate
 * table evicts its least recently seen row and counts it; a full history
 * overwrites its oldest event and the overwritten events are counted.
 *
 * Persistence follows pg_stat_statements: at a clean shutdown the
 * postmaster writes history and aggregates to a temporary file renamed
 * durably into place; at startup the file is read, checked, and removed.
 * Nothing is written after a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pgtls_audit.h"

#define STORE_DUMP_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pgtls_audit.stat"
#define STORE_FILE_MAGIC	0x70677461	/* "pgta" */
#define STORE_FILE_VERSION	1

/* Maximum lengths of the variable strings other than DNs. */
#define SNI_MAX_LEN			255
#define PRINCIPAL_MAX_LEN	256
#define REASON_MAX_LEN		512

#define AGGREGATE_EMPTY		0
#define AGGREGATE_USED		1
#define AGGREGATE_DELETED	2

/* A history or session slot: a record under its own spinlock. */
typedef struct StoreSlot
{
	slock_t		mutex;
	bool		used;
	AuditRecord record;			/* variable size: see record_capacity */
} StoreSlot;

typedef struct StoreHeader
{
	pg_atomic_uint64 next_event_id; /* the id the next event gets */
	slock_t		header_mutex;
	uint64		reset_event_id; /* next_event_id at the last reset */
	TimestampTz stats_reset;
	slock_t		aggregate_mutex;
	int			aggregate_count;
	uint64		aggregates_evicted;
} StoreHeader;

/*---- GUC variables ----*/

static int	history_size = 1000;
static int	max_aggregates = 1000;
static int	max_dn_length = 1024;
static bool save_store = true;

/*---- Shared memory, and its geometry ----*/

static StoreHeader *header = NULL;
static char *history_slots = NULL;
static char *session_slots = NULL;
static AggregateEntry *aggregates = NULL;

static Size record_capacity;	/* bytes of one record, strings included */
static Size slot_stride;
static int	session_slot_count;
static int	aggregate_capacity; /* a power of 2, at least 2x max_aggregates */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* This backend's session slot, once it has one. */
static StoreSlot *my_session_slot = NULL;

static void compute_geometry(void);
static Size store_shmem_size(void);
static StoreSlot *history_slot(uint64 event_id);
static StoreSlot *session_slot(int index);
static void build_record(AuditRecord *record, const AuditAttempt *attempt);
static Size record_used_size(const AuditRecord *record);
static void copy_record(AuditRecord *target, const AuditRecord *source);
static void put_string(AuditRecord *record, RecordString which,
					   const char *value);
static Size clip_utf8(const char *source, Size max_length);
static void replace_invalid_utf8(char *s, Size length);
static void prefault_history(uint64 first, uint64 next);
static void write_slot(StoreSlot *slot, const AuditRecord *record);
static bool read_slot(StoreSlot *slot, AuditRecord *record);
static void make_aggregate_key(AggregateKey *key, const char *user_name,
							   const char *database_name,
							   const char *tls_version, const char *cipher,
							   uint8 transport, uint8 outcome);
static AggregateEntry *aggregate_entry(const AggregateKey *key, TimestampTz now);
static void count_aggregate(const AuditRecord *record);
static void clear_session_slot(int code, Datum arg);
static void store_shmem_shutdown(int code, Datum arg);
static void store_load(void);
static bool record_is_sane(const AuditRecord *record, Size size);
static bool load_dump(FILE *file);
static Size string_max_length(RecordString which);

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
							"The least recently seen row is evicted, and counted, when the aggregates are full.",
							&max_aggregates,
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
compute_geometry(void)
{
	Size		strings = 0;

	for (int i = 0; i < RS_COUNT; i++)
		strings += string_max_length(i) + 1;
	record_capacity = MAXALIGN(offsetof(AuditRecord, strings) + strings);
	slot_stride = MAXALIGN(offsetof(StoreSlot, record) + record_capacity);
	session_slot_count = MaxBackends;
	aggregate_capacity = 16;
	while (aggregate_capacity < 2 * max_aggregates)
		aggregate_capacity *= 2;
}

static Size
store_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(StoreHeader));

	size = add_size(size, mul_size(slot_stride, history_size));
	size = add_size(size, mul_size(slot_stride, session_slot_count));
	size = add_size(size, mul_size(sizeof(AggregateEntry), aggregate_capacity));
	return size;
}

void
store_request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	compute_geometry();
	RequestAddinShmemSpace(store_shmem_size());
}

void
store_startup_shmem(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* reset in case this is a restart within the postmaster */
	header = NULL;
	compute_geometry();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("pgtls_audit", store_shmem_size(), &found);
	header = (StoreHeader *) base;
	history_slots = base + MAXALIGN(sizeof(StoreHeader));
	session_slots = history_slots + slot_stride * history_size;
	aggregates = (AggregateEntry *) (session_slots + slot_stride * session_slot_count);

	if (!found)
	{
		memset(base, 0, store_shmem_size());
		pg_atomic_init_u64(&header->next_event_id, 1);
		header->reset_event_id = 1;
		header->stats_reset = GetCurrentTimestamp();
		SpinLockInit(&header->header_mutex);
		SpinLockInit(&header->aggregate_mutex);
		for (int i = 0; i < history_size; i++)
			SpinLockInit(&history_slot(i)->mutex);
		for (int i = 0; i < session_slot_count; i++)
			SpinLockInit(&session_slot(i)->mutex);
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
		on_shmem_exit(store_shmem_shutdown, (Datum) 0);

	if (!found)
		store_load();
}

bool
store_available(void)
{
	return header != NULL;
}

static StoreSlot *
history_slot(uint64 event_id)
{
	return (StoreSlot *) (history_slots + slot_stride * (event_id % history_size));
}

static StoreSlot *
session_slot(int index)
{
	return (StoreSlot *) (session_slots + slot_stride * index);
}

/*
 * Remember one attempt: in the history, in the aggregates and, for a
 * session that goes on, in this backend's session slot.
 */
void
store_attempt(const AuditAttempt *attempt)
{
	static AuditRecord *record = NULL;

	if (header == NULL)
		return;
	if (record == NULL)
		record = MemoryContextAlloc(TopMemoryContext, record_capacity);

	build_record(record, attempt);
	record->event_id = pg_atomic_fetch_add_u64(&header->next_event_id, 1);
	write_slot(history_slot(record->event_id), record);
	count_aggregate(record);

	if (attempt->outcome == OUTCOME_ACCEPTED && PGTLS_MY_PROC_INDEX >= 0 &&
		PGTLS_MY_PROC_INDEX < session_slot_count)
	{
		if (my_session_slot == NULL)
			before_shmem_exit(clear_session_slot, (Datum) 0);
		my_session_slot = session_slot(PGTLS_MY_PROC_INDEX);
		write_slot(my_session_slot, record);
	}
}

static void
clear_session_slot(int code, Datum arg)
{
	if (my_session_slot == NULL)
		return;
	SpinLockAcquire(&my_session_slot->mutex);
	my_session_slot->used = false;
	SpinLockRelease(&my_session_slot->mutex);
	my_session_slot = NULL;
}

static void
write_slot(StoreSlot *slot, const AuditRecord *record)
{
	SpinLockAcquire(&slot->mutex);
	memcpy(&slot->record, record, record_used_size(record));
	slot->used = true;
	SpinLockRelease(&slot->mutex);
}

/* Copy a slot's record out; false if the slot is unused. */
static bool
read_slot(StoreSlot *slot, AuditRecord *record)
{
	bool		used;

	SpinLockAcquire(&slot->mutex);
	used = slot->used;
	if (used)
		memcpy(record, &slot->record, record_used_size(&slot->record));
	SpinLockRelease(&slot->mutex);
	return used;
}

/*
 * A backend's first scan of a large history would take a page fault for
 * every slot (each is a few KiB); ask the kernel to map the pages of the
 * slots holding events first..next-1 in one call instead.  Only an
 * optimization: failure is ignored.
 */
static void
prefault_history(uint64 first, uint64 next)
{
#ifdef MADV_POPULATE_READ
	static uint64 done_first = 0;
	static uint64 done_next = 0;
	Size		page = sysconf(_SC_PAGESIZE);
	uintptr_t	start = (uintptr_t) history_slot(first);
	uintptr_t	end = (uintptr_t) history_slot(next - 1) + slot_stride;

	/* the range mapped already: a later scan of it needs nothing */
	if (next <= first || (first >= done_first && next <= done_next))
		return;
	done_first = first;
	done_next = next;
	if (next - first >= (uint64) history_size || end <= start)
	{
		/* the whole history: no later scan needs anything */
		start = (uintptr_t) history_slots;
		end = start + slot_stride * history_size;
		done_first = 0;
		done_next = PG_UINT64_MAX;
	}
	start -= start % page;
	(void) madvise((void *) start, end - start, MADV_POPULATE_READ);
#endif
}

/* The history, oldest event first. */
void
store_scan_history(RecordVisitor visitor, void *arg)
{
	AuditRecord *record = palloc(record_capacity);
	uint64		next = pg_atomic_read_u64(&header->next_event_id);
	uint64		first;

	SpinLockAcquire(&header->header_mutex);
	first = header->reset_event_id;
	SpinLockRelease(&header->header_mutex);
	if (next - first > (uint64) history_size)
		first = next - history_size;
	prefault_history(first, next);

	for (uint64 id = first; id < next; id++)
	{
		/* skip a slot being written, or already overwritten by a newer id */
		if (read_slot(history_slot(id), record) && record->event_id == id)
			visitor(record, arg);
	}
	pfree(record);
}

void
store_scan_sessions(RecordVisitor visitor, void *arg)
{
	AuditRecord *record = palloc(record_capacity);

	for (int i = 0; i < session_slot_count; i++)
	{
		if (read_slot(session_slot(i), record))
			visitor(record, arg);
	}
	pfree(record);
}

int
store_copy_aggregates(AggregateEntry **entries)
{
	AggregateEntry *copy = palloc(sizeof(AggregateEntry) * aggregate_capacity);
	int			count = 0;

	SpinLockAcquire(&header->aggregate_mutex);
	for (int i = 0; i < aggregate_capacity; i++)
	{
		if (aggregates[i].state == AGGREGATE_USED)
			copy[count++] = aggregates[i];
	}
	SpinLockRelease(&header->aggregate_mutex);
	*entries = copy;
	return count;
}

void
store_get_status(StoreStatus *status)
{
	uint64		next = pg_atomic_read_u64(&header->next_event_id);
	uint64		since_reset;

	SpinLockAcquire(&header->header_mutex);
	since_reset = next - header->reset_event_id;
	status->stats_reset = header->stats_reset;
	SpinLockRelease(&header->header_mutex);

	SpinLockAcquire(&header->aggregate_mutex);
	status->aggregates = header->aggregate_count;
	status->aggregates_evicted = header->aggregates_evicted;
	SpinLockRelease(&header->aggregate_mutex);

	status->history_size = history_size;
	status->events_total = since_reset;
	status->events_retained = Min(since_reset, (uint64) history_size);
	status->events_overwritten = since_reset - status->events_retained;
	status->max_aggregates = max_aggregates;
	status->max_dn_length = max_dn_length;
}

/* Forget the history and the aggregates; event ids keep increasing. */
void
store_reset(void)
{
	SpinLockAcquire(&header->header_mutex);
	header->reset_event_id = pg_atomic_read_u64(&header->next_event_id);
	header->stats_reset = GetCurrentTimestamp();
	SpinLockRelease(&header->header_mutex);

	SpinLockAcquire(&header->aggregate_mutex);
	memset(aggregates, 0, sizeof(AggregateEntry) * aggregate_capacity);
	header->aggregate_count = 0;
	header->aggregates_evicted = 0;
	SpinLockRelease(&header->aggregate_mutex);
}

static void
make_aggregate_key(AggregateKey *key, const char *user_name,
				   const char *database_name, const char *tls_version,
				   const char *cipher, uint8 transport, uint8 outcome)
{
	memset(key, 0, sizeof(AggregateKey));
	if (user_name)
		strlcpy(key->user_name, user_name, sizeof(key->user_name));
	if (database_name)
		strlcpy(key->database_name, database_name, sizeof(key->database_name));
	if (tls_version)
		strlcpy(key->tls_version, tls_version, sizeof(key->tls_version));
	if (cipher)
		strlcpy(key->cipher, cipher, sizeof(key->cipher));
	key->transport = transport;
	key->outcome = outcome;
}

/*
 * The aggregate row of "key", inserted (with count 0) if absent; the caller
 * holds aggregate_mutex.  Open addressing with linear probing in a table at
 * most half used.  When max_aggregates rows exist, the least recently seen
 * one is evicted: a scan, but only when a new key meets a full table, which
 * is rare since keys are few.
 */
static AggregateEntry *
aggregate_entry(const AggregateKey *key, TimestampTz now)
{
	uint32		hash = hash_bytes((const unsigned char *) key, sizeof(AggregateKey));
	uint32		mask = aggregate_capacity - 1;
	AggregateEntry *free_entry = NULL;
	AggregateEntry *entry;

	/*
	 * Evictions leave tombstones, so the probe is bounded by the table size
	 * rather than by an empty slot; at most half the slots are in use, so a
	 * free one is always found.
	 */
	for (uint32 n = 0, i = hash & mask; n < (uint32) aggregate_capacity;
		 n++, i = (i + 1) & mask)
	{
		entry = &aggregates[i];
		if (entry->state == AGGREGATE_USED)
		{
			if (entry->hash == hash &&
				memcmp(&entry->key, key, sizeof(AggregateKey)) == 0)
				return entry;
			continue;
		}
		if (free_entry == NULL)
			free_entry = entry;
		if (entry->state == AGGREGATE_EMPTY)
			break;
	}

	if (header->aggregate_count >= max_aggregates)
	{
		AggregateEntry *oldest = NULL;

		for (int i = 0; i < aggregate_capacity; i++)
		{
			if (aggregates[i].state == AGGREGATE_USED &&
				(oldest == NULL || aggregates[i].last_seen < oldest->last_seen))
				oldest = &aggregates[i];
		}
		oldest->state = AGGREGATE_DELETED;
		header->aggregate_count--;
		header->aggregates_evicted++;
	}

	entry = free_entry;
	entry->key = *key;
	entry->hash = hash;
	entry->state = AGGREGATE_USED;
	entry->count = 0;
	entry->first_seen = now;
	entry->last_seen = now;
	header->aggregate_count++;
	return entry;
}

static void
count_aggregate(const AuditRecord *record)
{
	AggregateKey key;
	AggregateEntry *entry;

	make_aggregate_key(&key, record_string(record, RS_USER_NAME),
					   record_string(record, RS_DATABASE_NAME),
					   record_string(record, RS_TLS_VERSION),
					   record_string(record, RS_CIPHER),
					   record->transport, record->outcome);

	SpinLockAcquire(&header->aggregate_mutex);
	entry = aggregate_entry(&key, record->time);
	entry->count++;
	entry->last_seen = record->time;
	SpinLockRelease(&header->aggregate_mutex);
}

/*---- Records ----*/

static Size
string_max_length(RecordString which)
{
	switch (which)
	{
		case RS_USER_NAME:
		case RS_DATABASE_NAME:
		case RS_APPLICATION_NAME:
			return NAMEDATALEN - 1;
		case RS_CLIENT_ADDR:
			return 47;			/* INET6_ADDRSTRLEN - 1 */
		case RS_AUTH_METHOD:
		case RS_TLS_VERSION:
		case RS_KEY_EXCHANGE_GROUP:
		case RS_CERT_KEY_ALGORITHM:
			return RECORD_SHORT_LEN - 1;
		case RS_CIPHER:
		case RS_CERT_SIGNATURE_ALGORITHM:
			return 63;
		case RS_CERT_SERIAL:
			return 63;			/* 20 octets are 49 decimal digits */
		case RS_CERT_FINGERPRINT:
			return 95;			/* 32 bytes as AB: */
		case RS_SNI:
			return SNI_MAX_LEN;
		case RS_CERT_SUBJECT:
		case RS_CERT_ISSUER:
			return max_dn_length;
		case RS_GSS_PRINCIPAL:
			return PRINCIPAL_MAX_LEN;
		case RS_REASON:
		case RS_COUNT:
			break;
	}
	return REASON_MAX_LEN;
}

static void
build_record(AuditRecord *r, const AuditAttempt *a)
{
	memset(r, 0, offsetof(AuditRecord, strings));
	r->time = a->time;
	r->cert_not_before = a->cert_not_before;
	r->cert_not_after = a->cert_not_after;
	r->pid = a->pid;
	r->violations = a->violations;
	r->client_port = a->client_port;
	r->auth_method_code = a->auth_method_code;
	r->hba_line = a->hba_line;
	r->tls_version_number = a->tls_version_number;
	r->cipher_id = a->cipher_id;
	r->cipher_bits = a->cipher_bits;
	r->cert_key_bits = a->cert_key_bits;
	r->transport = a->transport;
	r->outcome = a->outcome;
	r->stage = a->stage;
	r->replication = a->replication;
	r->judged = a->judged;
	r->ssl = a->ssl;
	r->forward_secrecy = a->forward_secrecy;
	r->cert_present = a->cert_present;
	r->cert_verified = a->cert_verified;
	r->gss_authenticated = a->gss_authenticated;
	r->gss_encrypted = a->gss_encrypted;

	put_string(r, RS_USER_NAME, a->user_name);
	put_string(r, RS_DATABASE_NAME, a->database_name);
	put_string(r, RS_APPLICATION_NAME, a->application_name);
	put_string(r, RS_CLIENT_ADDR, a->client_addr);
	put_string(r, RS_AUTH_METHOD, a->auth_method);
	put_string(r, RS_TLS_VERSION, a->tls_version);
	put_string(r, RS_CIPHER, a->cipher);
	put_string(r, RS_KEY_EXCHANGE_GROUP, a->key_exchange_group);
	put_string(r, RS_SNI, a->sni);
	put_string(r, RS_CERT_SUBJECT, a->cert_subject);
	put_string(r, RS_CERT_ISSUER, a->cert_issuer);
	put_string(r, RS_CERT_SERIAL, a->cert_serial);
	put_string(r, RS_CERT_FINGERPRINT, a->cert_fingerprint);
	put_string(r, RS_CERT_KEY_ALGORITHM, a->cert_key_algorithm);
	put_string(r, RS_CERT_SIGNATURE_ALGORITHM, a->cert_signature_algorithm);
	put_string(r, RS_GSS_PRINCIPAL, a->gss_principal);
	put_string(r, RS_REASON, a->reason);
}

/*
 * Append one string, clipped to its maximum at a character boundary; the
 * strings are appended in RecordString order, so they never overflow the
 * record.  Strings become text in the views, read as UTF-8: a byte that
 * is not valid UTF-8 (a hostile certificate or startup packet) becomes '?'
 * rather than an error there.
 */
static void
put_string(AuditRecord *record, RecordString which, const char *value)
{
	char	   *target = record->strings + record->strings_used;
	Size		length;

	if (value == NULL)
		return;
	length = clip_utf8(value, string_max_length(which));
	memcpy(target, value, length);
	target[length] = '\0';
	replace_invalid_utf8(target, length);
	record->string_present[which] = true;
	record->string_truncated[which] = (value[length] != '\0');
	record->string_offset[which] = record->strings_used;
	record->strings_used += length + 1;
}

const char *
record_string(const AuditRecord *record, RecordString which)
{
	if (!record->string_present[which])
		return NULL;
	return record->strings + record->string_offset[which];
}

static Size
record_used_size(const AuditRecord *record)
{
	return offsetof(AuditRecord, strings) + record->strings_used;
}

/* Copy a record of another geometry (a loaded one) into ours. */
static void
copy_record(AuditRecord *target, const AuditRecord *source)
{
	memcpy(target, source, offsetof(AuditRecord, strings));
	target->strings_used = 0;
	memset(target->string_present, 0, sizeof(target->string_present));
	for (int i = 0; i < RS_COUNT; i++)
	{
		put_string(target, i, record_string(source, i));
		target->string_truncated[i] |= source->string_truncated[i];
	}
}

static void
replace_invalid_utf8(char *s, Size length)
{
	Size		i = 0;

	while (i < length)
	{
		int			n;

		if (!IS_HIGHBIT_SET(s[i]))
		{
			i++;
			continue;
		}
		n = pg_utf_mblen((const unsigned char *) s + i);

		if (i + n > length || !pg_utf8_islegal((const unsigned char *) s + i, n))
		{
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

/* The length of source clipped to max_length bytes without splitting a
 * UTF-8 character. */
static Size
clip_utf8(const char *source, Size max_length)
{
	Size		length = strnlen(source, max_length + 1);

	if (length <= max_length)
		return length;
	length = max_length;
	while (length > 0 && (source[length] & 0xC0) == 0x80)
		length--;
	return length;
}

/* The record seen as an attempt, for judging it again. */
void
record_to_attempt(const AuditRecord *r, AuditAttempt *a)
{
	memset(a, 0, sizeof(AuditAttempt));
	a->transport = r->transport;
	a->ssl = r->ssl;
	a->gss_encrypted = r->gss_encrypted;
	a->tls_version_number = r->tls_version_number;
	a->cipher_id = r->cipher_id;
	a->cipher_bits = r->cipher_bits;
	a->forward_secrecy = r->forward_secrecy;
	a->cert_present = r->cert_present;
	a->cert_verified = r->cert_verified;
	a->auth_method_code = r->auth_method_code;
	a->tls_version = record_string(r, RS_TLS_VERSION);
	a->cipher = record_string(r, RS_CIPHER);
	a->auth_method = record_string(r, RS_AUTH_METHOD);
}

/*---- Persistence ----*/

typedef struct StoreFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		record_header_size; /* offsetof(AuditRecord, strings) */
	uint32		aggregate_entry_size;
	uint64		next_event_id;
	uint64		reset_event_id;
	TimestampTz stats_reset;
	uint64		aggregates_evicted;
	uint64		history_count;
	uint64		aggregate_count;
} StoreFileHeader;

/*
 * At a clean shutdown, in the postmaster: write history (oldest first) and
 * aggregates.  Not after a crash (code != 0): the store may be torn.
 */
static void
store_shmem_shutdown(int code, Datum arg)
{
	StoreFileHeader fh;
	FILE	   *file;
	AuditRecord *record;
	uint64		next;
	uint64		first;

	if (code != 0 || header == NULL || !save_store)
		return;

	next = pg_atomic_read_u64(&header->next_event_id);
	first = Max(header->reset_event_id,
				next > (uint64) history_size ? next - history_size : 1);

	file = AllocateFile(STORE_DUMP_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;

	memset(&fh, 0, sizeof(fh));
	fh.magic = STORE_FILE_MAGIC;
	fh.version = STORE_FILE_VERSION;
	fh.record_header_size = offsetof(AuditRecord, strings);
	fh.aggregate_entry_size = sizeof(AggregateEntry);
	fh.next_event_id = next;
	fh.reset_event_id = header->reset_event_id;
	fh.stats_reset = header->stats_reset;
	fh.aggregates_evicted = header->aggregates_evicted;
	fh.aggregate_count = header->aggregate_count;
	record = palloc(record_capacity);
	for (uint64 id = first; id < next; id++)
	{
		if (read_slot(history_slot(id), record) && record->event_id == id)
			fh.history_count++;
	}
	if (fwrite(&fh, sizeof(fh), 1, file) != 1)
		goto error;

	for (uint64 id = first; id < next; id++)
	{
		uint32		size;

		if (!read_slot(history_slot(id), record) || record->event_id != id)
			continue;
		size = record_used_size(record);
		if (fwrite(&size, sizeof(size), 1, file) != 1 ||
			fwrite(record, size, 1, file) != 1)
			goto error;
	}
	for (int i = 0; i < aggregate_capacity; i++)
	{
		if (aggregates[i].state == AGGREGATE_USED &&
			fwrite(&aggregates[i], sizeof(AggregateEntry), 1, file) != 1)
			goto error;
	}

	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(STORE_DUMP_FILE ".tmp", STORE_DUMP_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m",
					STORE_DUMP_FILE ".tmp")));
	if (file)
		FreeFile(file);
	unlink(STORE_DUMP_FILE ".tmp");
}

/*
 * At startup, in the postmaster: read what the last clean shutdown saved.
 * A file that is not ours, of another format, or cut short is ignored with
 * a LOG line, and removed either way so that a crash restart starts empty.
 */
static void
store_load(void)
{
	FILE	   *file;

	file = AllocateFile(STORE_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m",
							STORE_DUMP_FILE)));
		return;
	}

	if (!load_dump(file))
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pgtls_audit file \"%s\"",
						STORE_DUMP_FILE)));
		/* start empty rather than half-loaded */
		memset(aggregates, 0, sizeof(AggregateEntry) * aggregate_capacity);
		header->aggregate_count = 0;
		header->aggregates_evicted = 0;
		for (int i = 0; i < history_size; i++)
			history_slot(i)->used = false;
		pg_atomic_write_u64(&header->next_event_id, 1);
		header->reset_event_id = 1;
	}
	FreeFile(file);
	unlink(STORE_DUMP_FILE);
}

/* A loaded record's strings lie inside it and are NUL-terminated. */
static bool
record_is_sane(const AuditRecord *record, Size size)
{
	if (offsetof(AuditRecord, strings) + record->strings_used != size)
		return false;
	for (int i = 0; i < RS_COUNT; i++)
	{
		uint16		offset = record->string_offset[i];

		if (record->string_present[i] &&
			(offset >= record->strings_used ||
			 memchr(record->strings + offset, '\0',
					record->strings_used - offset) == NULL))
			return false;
	}
	return true;
}

static bool
load_dump(FILE *file)
{
	StoreFileHeader fh;
	AuditRecord *loaded;
	AuditRecord *record;
	uint64		skip;

	if (fread(&fh, sizeof(fh), 1, file) != 1 ||
		fh.magic != STORE_FILE_MAGIC ||
		fh.version != STORE_FILE_VERSION ||
		fh.record_header_size != offsetof(AuditRecord, strings) ||
		fh.aggregate_entry_size != sizeof(AggregateEntry) ||
		fh.history_count > fh.next_event_id ||
		fh.reset_event_id > fh.next_event_id)
		return false;

	/* a smaller history keeps the newest events */
	skip = fh.history_count > (uint64) history_size ?
		fh.history_count - history_size : 0;
	loaded = palloc(offsetof(AuditRecord, strings) + PG_UINT16_MAX);
	record = palloc(record_capacity);
	for (uint64 i = 0; i < fh.history_count; i++)
	{
		uint32		size;

		if (fread(&size, sizeof(size), 1, file) != 1 ||
			size < offsetof(AuditRecord, strings) ||
			size > offsetof(AuditRecord, strings) + PG_UINT16_MAX ||
			fread(loaded, size, 1, file) != 1 ||
			!record_is_sane(loaded, size) ||
			loaded->event_id == 0 || loaded->event_id >= fh.next_event_id)
			return false;
		if (i < skip)
			continue;
		copy_record(record, loaded);
		write_slot(history_slot(record->event_id), record);
	}

	for (uint64 i = 0; i < fh.aggregate_count; i++)
	{
		AggregateEntry entry;
		AggregateEntry *target;
		AggregateKey key;

		if (fread(&entry, sizeof(entry), 1, file) != 1 ||
			entry.state != AGGREGATE_USED)
			return false;

		/* rebuild the key so that its padding hashes as ours does */
		entry.key.user_name[NAMEDATALEN - 1] = '\0';
		entry.key.database_name[NAMEDATALEN - 1] = '\0';
		entry.key.tls_version[RECORD_SHORT_LEN - 1] = '\0';
		entry.key.cipher[sizeof(entry.key.cipher) - 1] = '\0';
		make_aggregate_key(&key, entry.key.user_name, entry.key.database_name,
						   entry.key.tls_version, entry.key.cipher,
						   entry.key.transport, entry.key.outcome);
		target = aggregate_entry(&key, entry.first_seen);
		target->count += entry.count;
		target->first_seen = Min(target->first_seen, entry.first_seen);
		target->last_seen = Max(target->last_seen, entry.last_seen);
	}
	if (fgetc(file) != EOF)
		return false;

	pg_atomic_write_u64(&header->next_event_id, fh.next_event_id);
	header->reset_event_id = fh.reset_event_id;
	header->stats_reset = fh.stats_reset;
	header->aggregates_evicted = fh.aggregates_evicted;
	return true;
}

/*-------------------------------------------------------------------------
 *
 * logline.c
 *		One connection attempt as one line of the server log.
 *
 * The line is either "key=value" pairs or one JSON object, with the same
 * keys in the same order; keys whose value is unknown are left out.
 *
 * Many values are chosen by the client (user name, application_name, SNI,
 * certificate DNs), so escaping is a security property: no byte below 0x20,
 * no 0x7F, no C1 control or Unicode line separator, no unescaped quote or
 * backslash and no invalid UTF-8 ever reaches the log, no invisible format
 * character (bidirectional controls and the like) can make a line display
 * other than it reads, and one attempt is always one physical line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/timestamp.h"

#include "pgtls_audit.h"

int			pgtls_audit_log_format = LOG_FORMAT_TEXT;

/* A line under construction. */
typedef struct LineWriter
{
	StringInfo	buf;
	bool		json;
	bool		first;
} LineWriter;

static void begin_value(LineWriter *w, const char *key);
static void put_string(LineWriter *w, const char *key, const char *value);
static void put_raw(LineWriter *w, const char *key, const char *value);
static void put_int(LineWriter *w, const char *key, int value);
static void put_bool(LineWriter *w, const char *key, bool value);
static void put_timestamp(LineWriter *w, const char *key, TimestampTz value);
static void put_violations(LineWriter *w, uint32 violations);
static bool is_bare_word(const char *value);
static void append_escaped_char(StringInfo buf, pg_wchar c, bool json);
static bool is_format_character(pg_wchar c);

void
format_attempt(StringInfo buf, const AuditAttempt *a, int format)
{
	LineWriter	w = {buf, format == LOG_FORMAT_JSON, true};

	appendStringInfoString(buf, "pgtls_audit: ");
	if (w.json)
		appendStringInfoChar(buf, '{');

	put_raw(&w, "outcome", outcome_name(a->outcome));
	put_raw(&w, "stage", stage_name(a->stage));
	if (a->judged)
		put_violations(&w, a->violations);
	put_timestamp(&w, "time", a->time);
	put_int(&w, "pid", a->pid);
	put_string(&w, "user", a->user_name);
	put_string(&w, "database", a->database_name);
	put_string(&w, "application_name", a->application_name);
	put_bool(&w, "replication", a->replication);
	put_raw(&w, "transport", transport_name(a->transport));
	put_string(&w, "client_addr", a->client_addr);
	if (a->client_port >= 0)
		put_int(&w, "client_port", a->client_port);
	put_string(&w, "auth_method", a->auth_method);
	if (a->hba_line > 0)
		put_int(&w, "hba_line", a->hba_line);

	put_bool(&w, "ssl", a->ssl);
	if (a->ssl)
	{
		put_string(&w, "tls_version", a->tls_version);
		put_string(&w, "cipher", a->cipher);
		put_int(&w, "cipher_bits", a->cipher_bits);
		put_string(&w, "key_exchange_group", a->key_exchange_group);
		put_bool(&w, "forward_secrecy", a->forward_secrecy);
		put_string(&w, "sni", a->sni);
		put_raw(&w, "tls_negotiation", a->tls_negotiation);
		put_string(&w, "alpn", a->alpn);
		put_bool(&w, "client_cert", a->cert_present);
	}
	if (a->cert_present)
	{
		put_bool(&w, "cert_verified", a->cert_verified);
		put_string(&w, "cert_subject", a->cert_subject);
		put_string(&w, "cert_issuer", a->cert_issuer);
		put_string(&w, "cert_serial", a->cert_serial);
		put_string(&w, "cert_fingerprint", a->cert_fingerprint);
		put_timestamp(&w, "cert_not_before", a->cert_not_before);
		put_timestamp(&w, "cert_not_after", a->cert_not_after);
		if (a->cert_expiry_warned)
			put_bool(&w, "cert_expiry_warning", true);
		put_string(&w, "cert_key_algorithm", a->cert_key_algorithm);
		if (a->cert_key_bits > 0)
			put_int(&w, "cert_key_bits", a->cert_key_bits);
		put_string(&w, "cert_signature_algorithm", a->cert_signature_algorithm);
	}

	put_bool(&w, "gss_authenticated", a->gss_authenticated);
	put_bool(&w, "gss_encrypted", a->gss_encrypted);
	put_string(&w, "gss_principal", a->gss_principal);
	put_string(&w, "reason", a->reason);

	if (w.json)
		appendStringInfoChar(buf, '}');
}

static void
begin_value(LineWriter *w, const char *key)
{
	if (!w->first)
		appendStringInfoChar(w->buf, w->json ? ',' : ' ');
	w->first = false;
	if (w->json)
		appendStringInfo(w->buf, "\"%s\":", key);
	else
		appendStringInfo(w->buf, "%s=", key);
}

/* A value that may hold anything: quoted and escaped unless a bare word. */
static void
put_string(LineWriter *w, const char *key, const char *value)
{
	if (value == NULL)
		return;
	begin_value(w, key);
	if (!w->json && is_bare_word(value))
	{
		appendStringInfoString(w->buf, value);
		return;
	}
	appendStringInfoChar(w->buf, '"');
	append_escaped(w->buf, value, w->json);
	appendStringInfoChar(w->buf, '"');
}

/* A value of our own vocabulary that never needs escaping. */
static void
put_raw(LineWriter *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (w->json)
		appendStringInfo(w->buf, "\"%s\"", value);
	else
		appendStringInfoString(w->buf, value);
}

static void
put_int(LineWriter *w, const char *key, int value)
{
	begin_value(w, key);
	appendStringInfo(w->buf, "%d", value);
}

static void
put_bool(LineWriter *w, const char *key, bool value)
{
	begin_value(w, key);
	appendStringInfoString(w->buf, value ? "true" : "false");
}

/* ISO 8601 in UTC, whatever the server's TimeZone, for log pipelines. */
static void
put_timestamp(LineWriter *w, const char *key, TimestampTz value)
{
	pg_time_t	seconds;
	int			microseconds;
	struct tm  *tm;
	char		text[64];

	if (TIMESTAMP_NOT_FINITE(value))
		return;
	seconds = timestamptz_to_time_t(value);
	microseconds = (int) (value - time_t_to_timestamptz(seconds));
	if (microseconds < 0)
	{
		seconds--;
		microseconds += USECS_PER_SEC;
	}
	tm = gmtime(&seconds);
	if (tm == NULL)
		return;
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
			 tm->tm_hour, tm->tm_min, tm->tm_sec, microseconds);
	put_raw(w, key, text);
}

static void
put_violations(LineWriter *w, uint32 violations)
{
	bool		first = true;

	begin_value(w, "violations");
	if (w->json)
		appendStringInfoChar(w->buf, '[');
	else if (violations == 0)
		appendStringInfoString(w->buf, "\"\"");
	for (int i = 0; i < VIOLATION_COUNT; i++)
	{
		if ((violations & (1 << i)) == 0)
			continue;
		if (!first)
			appendStringInfoChar(w->buf, ',');
		first = false;
		if (w->json)
			appendStringInfo(w->buf, "\"%s\"", AuditViolationNames[i]);
		else
			appendStringInfoString(w->buf, AuditViolationNames[i]);
	}
	if (w->json)
		appendStringInfoChar(w->buf, ']');
}

/* True if "value" can stand unquoted after "key=". */
static bool
is_bare_word(const char *value)
{
	if (*value == '\0')
		return false;
	for (const char *p = value; *p; p++)
	{
		if (!(isascii((unsigned char) *p) && isalnum((unsigned char) *p)) &&
			strchr("._:/@+-", *p) == NULL)
			return false;
	}
	return true;
}

/*
 * Append "value" escaped for the inside of a double-quoted string: JSON's
 * rules when "json", else C-like ones (\" \\ \n \r \t \xHH \uHHHH
 * \UHHHHHHHH).  A byte that is not valid UTF-8 is visible and never passed
 * through: in text the four characters \xHH; in JSON, which has no escape
 * for a byte, U+FFFD followed by the byte's two hex digits, and a U+FFFD of
 * the value is doubled, so that neither can be mistaken for the other nor
 * for a literal "\x".
 */
void
append_escaped(StringInfo buf, const char *value, bool json)
{
	const unsigned char *p = (const unsigned char *) value;

	while (*p)
	{
		if (*p < 0x80)
		{
			append_escaped_char(buf, *p, json);
			p++;
			continue;
		}
		else
		{
			int			length = pg_utf_mblen(p);

			if (strnlen((const char *) p, length) == (size_t) length &&
				pg_utf8_islegal(p, length))
			{
				pg_wchar	c = utf8_to_unicode(p);

				/*
				 * C1 controls and the Unicode line breaks end lines too;
				 * invisible format characters can make a line display other
				 * than it reads
				 */
				if (c < 0xA0 || c == 0x2028 || c == 0x2029 ||
					is_format_character(c))
					append_escaped_char(buf, c, json);
				else if (c == 0xFFFD && json)
					appendStringInfoString(buf, "\\ufffd\\ufffd");
				else
					appendBinaryStringInfo(buf, (const char *) p, length);
				p += length;
			}
			else if (json)
			{
				/*
				 * JSON has no escape for a byte: U+FFFD and the byte's two
				 * hex digits, which a literal "\\x" can never decode to
				 */
				appendStringInfo(buf, "\\ufffd%02x", *p);
				p++;
			}
			else
			{
				appendStringInfo(buf, "\\x%02x", *p);
				p++;
			}
		}
	}
}

static void
append_escaped_char(StringInfo buf, pg_wchar c, bool json)
{
	switch (c)
	{
		case '"':
			appendStringInfoString(buf, "\\\"");
			return;
		case '\\':
			appendStringInfoString(buf, "\\\\");
			return;
		case '\n':
			appendStringInfoString(buf, "\\n");
			return;
		case '\r':
			appendStringInfoString(buf, "\\r");
			return;
		case '\t':
			appendStringInfoString(buf, "\\t");
			return;
	}
	if (c >= 0x20 && c < 0x7F)
		appendStringInfoChar(buf, (char) c);
	else if (c < 0x80 && !json)
		appendStringInfo(buf, "\\x%02x", c);
	else if (c <= 0xFFFF)
		appendStringInfo(buf, "\\u%04x", c);
	else if (json)
	{
		/* beyond the BMP, JSON spells a character as a surrogate pair */
		c -= 0x10000;
		appendStringInfo(buf, "\\u%04x\\u%04x",
						 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
	}
	else
		appendStringInfo(buf, "\\U%08x", c);
}

/*
 * Whether c is a Unicode format character (general category Cf, Unicode
 * 15.1): invisible, and some of them (the bidirectional controls U+202A to
 * U+202E and U+2066 to U+2069) reorder what a terminal shows, so that a
 * user name could make the rest of a line display as something else.
 */
static bool
is_format_character(pg_wchar c)
{
	static const pg_wchar ranges[][2] = {
		{0x00AD, 0x00AD}, {0x0600, 0x0605}, {0x061C, 0x061C},
		{0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x0890, 0x0891},
		{0x08E2, 0x08E2}, {0x180E, 0x180E}, {0x200B, 0x200F},
		{0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x206F},
		{0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD},
		{0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
		{0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}
	};

	if (c < 0x00AD)
		return false;
	for (size_t i = 0; i < lengthof(ranges); i++)
	{
		if (c < ranges[i][0])
			return false;
		if (c <= ranges[i][1])
			return true;
	}
	return false;
}

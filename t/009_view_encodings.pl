
# Copyright (c) pgtls_audit contributors

# A view answers whatever clients sent, in a database of any encoding.  A
# failed login as a user name with a character LATIN1 lacks used to make
# pgtls_audit.history fail for everyone in a LATIN1 database, and summary
# returned the raw UTF-8 bytes labelled LATIN1.  Now every string of every
# view is converted, and what the encoding lacks is escaped (\uHHHH) as the
# log line escapes it; SQL_ASCII takes the UTF-8 bytes as they are.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('encodings', $pki);
PgtlsAuditTest::create_roles($node, 'alice');
foreach my $encoding ('LATIN1', 'SQL_ASCII')
{
	(my $db = lc $encoding) =~ s/_//;
	$node->safe_psql('postgres',
		"CREATE DATABASE $db ENCODING '$encoding' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	$node->safe_psql($db, 'CREATE EXTENSION pgtls_audit');
}
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

# "zoë" is in LATIN1, "李" and "🔐" are not.  UTF-8 bytes: no "use utf8".
my $user = 'zoë李🔐';
my $result = PgtlsAuditTest::client_attempt($node, $pki,
	user => "'$user'", password => 'wrong');
is($result->{lines}[0]{user}, $user, 'the log line has the name exactly');

sub query
{
	my ($db, $sql) = @_;
	local $ENV{PGCLIENTENCODING} = 'UTF8';
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql,
		extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	return $ret == 0 ? $stdout : "ERROR: $stderr";
}

# LATIN1: converted where LATIN1 can, escaped where it cannot; psql's
# client encoding is UTF8 here.
is(query('latin1', "SHOW client_encoding"), 'UTF8', 'the client reads UTF-8');
is(query('latin1', 'SELECT count(*) > 0 FROM pgtls_audit.history'),
	't', 'LATIN1: history answers');
is( query('latin1',
		"SELECT user_name FROM pgtls_audit.history WHERE outcome = 'auth_failed'"),
	'zoë\\u674e\\U0001f510',
	'LATIN1: history converts ë and escapes what LATIN1 lacks');
is( query('latin1',
		"SELECT reason IS NULL FROM pgtls_audit.history WHERE outcome = 'auth_failed'"),
	't', 'LATIN1: no reason for a hook-judged failure');
is( query('latin1',
		"SELECT user_name FROM pgtls_audit.summary WHERE outcome = 'auth_failed'"),
	'zoë\\u674e\\U0001f510', 'LATIN1: summary alike, not raw UTF-8 bytes');
is( query('latin1',
		"SELECT count(*) FROM pgtls_audit.connections WHERE pid = pg_backend_pid()"),
	'1', 'LATIN1: connections answers');
like(query('latin1', 'SELECT subject FROM pgtls_audit.server_certificate'),
	qr/^CN=localhost$/, 'LATIN1: server_certificate answers');

# The same rows in a UTF8 database: exactly the name.
is( query('postgres',
		"SELECT user_name FROM pgtls_audit.history WHERE outcome = 'auth_failed'"),
	$user, 'UTF8: history has the name exactly');
is( query('postgres',
		"SELECT user_name FROM pgtls_audit.summary WHERE outcome = 'auth_failed'"),
	$user, 'UTF8: summary has the name exactly');

# SQL_ASCII: the UTF-8 bytes, uninterpreted.
my $hex = unpack('H*', $user);
is( query('sqlascii',
		"SELECT encode(convert_to(user_name, 'SQL_ASCII'), 'hex') FROM pgtls_audit.history WHERE outcome = 'auth_failed'"),
	$hex, 'SQL_ASCII: history has the UTF-8 bytes');
is( query('sqlascii',
		"SELECT encode(convert_to(user_name, 'SQL_ASCII'), 'hex') FROM pgtls_audit.summary WHERE outcome = 'auth_failed'"),
	$hex, 'SQL_ASCII: summary has the UTF-8 bytes');

unlike(slurp_file($node->logfile), qr/WARNING|PANIC|server process .* terminated/,
	'no warning, no crash');
$node->stop;
done_testing();

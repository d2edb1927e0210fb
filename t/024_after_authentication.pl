
# Copyright (c) pgtls_audit contributors

# Refusals after authentication: PostgreSQL refuses a connection after the
# authentication hook returned (a NOLOGIN role with a valid password, a
# database that does not exist, a role at its connection limit, CONNECT
# revoked, datallowconn = false, reserved connection slots, a role that
# does not exist under trust).  Each attempt is recorded once, with its
# true outcome: refused, at stage authorization, with the server's reason,
# in the log line, the history and the summary.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node(
	'after', $pki,
	conf => "max_connections = 6\nsuperuser_reserved_connections = 3\n",
	hba => PgtlsAuditTest::hba_lines('hostssl all ghost 127.0.0.1/32 trust'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'dave', 'erin', 'frank');
$node->safe_psql(
	'postgres', q{
ALTER ROLE dave NOLOGIN;
ALTER ROLE erin CONNECTION LIMIT 0;
CREATE DATABASE closed;
REVOKE CONNECT ON DATABASE closed FROM PUBLIC;
CREATE DATABASE frozen;
ALTER DATABASE frozen ALLOW_CONNECTIONS false;
});

# One attempt: it fails, and is recorded once, refused at stage
# authorization with the server's reason, in every place.
sub refused_after_authentication
{
	my ($name, $reason, %opts) = @_;
	my $dbname = delete $opts{dbname} // 'postgres';
	$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
	my $offset = -s $node->logfile;
	my $connstr = PgtlsAuditTest::tls_connstr($node, $pki, %opts);
	$connstr =~ s/dbname=postgres/dbname=$dbname/;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1',
		connstr => $connstr);
	isnt($ret, 0, "$name: the connection fails");
	like($stderr, $reason, "$name: the client is told why");

	my @lines = grep { ($_->{user} // '') eq $opts{user} }
	  PgtlsAuditTest::wait_for_audit($node, $offset, 1);
	is(scalar(@lines), 1, "$name: one log line");
	is( join(' ', map { $_ // '-' } @{ $lines[0] }{qw(outcome stage)}),
		'refused authorization', "$name: logged as refused at authorization");
	like($lines[0]{reason} // '', $reason, "$name: with the server's reason");

	is( $node->safe_psql(
			'postgres',
			qq{SELECT string_agg(outcome || ':' || stage, ' '),
			          bool_and(reason ~ '$lines[0]{reason}')
			     FROM pgtls_audit.history WHERE user_name = '$opts{user}'}),
		'refused:authorization|t',
		"$name: one history row, refused at authorization");
	is( $node->safe_psql(
			'postgres',
			qq{SELECT string_agg(outcome || ':' || count, ' ')
			     FROM pgtls_audit.summary WHERE user_name = '$opts{user}'}),
		'refused:1', "$name: counted once, as refused");
	return;
}

refused_after_authentication(
	'NOLOGIN role',
	qr/role "dave" is not permitted to log in/,
	user => 'dave', password => 'dave-secret');
refused_after_authentication(
	'connection limit',
	qr/too many connections for role "erin"/,
	user => 'erin', password => 'erin-secret');
refused_after_authentication(
	'database that does not exist',
	qr/database "nosuchdb" does not exist/,
	user => 'frank', password => 'frank-secret', dbname => 'nosuchdb');
refused_after_authentication(
	'CONNECT revoked',
	qr/permission denied for database "closed"/,
	user => 'frank', password => 'frank-secret', dbname => 'closed');
refused_after_authentication(
	'datallowconn = false',
	qr/database "frozen" is not currently accepting connections/,
	user => 'frank', password => 'frank-secret', dbname => 'frozen');
refused_after_authentication(
	'a role that does not exist, under trust',
	qr/role "ghost" does not exist/,
	user => 'ghost');

# Reserved connection slots: with three sessions open, the three slots
# left are for superusers.
my @sessions = map {
	PgtlsAuditTest::background_session($node,
		PgtlsAuditTest::tls_connstr($node, $pki, user => 'frank',
			password => 'frank-secret'))
} 1 .. 3;
$_->query('SELECT 1') foreach @sessions;
refused_after_authentication(
	'reserved connection slots',
	qr/remaining connection slots are reserved/,
	user => 'frank', password => 'frank-secret');
$_->quit foreach @sessions;

# A refusal the server does not report (log_min_messages = panic) is still
# recorded as refused, without a reason, when the start-up transaction
# aborts.
$node->append_conf('postgresql.conf', "log_min_messages = panic\n");
$node->reload;
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my ($ret) = $node->psql('postgres', 'SELECT 1',
	connstr => PgtlsAuditTest::tls_connstr($node, $pki, user => 'frank',
		password => 'frank-secret') =~ s/dbname=postgres/dbname=nosuchdb/r);
isnt($ret, 0, 'log_min_messages = panic: the connection fails');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(outcome || ':' || stage || ':' || coalesce(reason, '-'), ' ')
		    FROM pgtls_audit.history WHERE user_name = 'frank'}),
	'refused:authorization:-',
	'log_min_messages = panic: recorded as refused, without a reason');
$node->append_conf('postgresql.conf', "log_min_messages = warning\n");
$node->reload;

# And an accepted attempt is still accepted, once.
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
$node->safe_psql('postgres', 'SELECT 1',
	connstr => PgtlsAuditTest::tls_connstr($node, $pki, user => 'frank',
		password => 'frank-secret'));
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(outcome || ':' || stage, ' ') FROM pgtls_audit.history
		   WHERE user_name = 'frank'}),
	'accepted:authentication', 'an accepted attempt is recorded once');

$node->stop;
done_testing();


# Copyright (c) pgtls_audit contributors

# The attempts README says pgtls_audit cannot see, tested as unseen, and
# what is still seen next to them:
# - log_min_messages = fatal: PostgreSQL does not hand its LOG-level
#   messages to emit_log_hook, so a failed TLS handshake (a COMMERROR) and a
#   client that hangs up after the handshake (its "connection received")
#   are unseen; FATAL refusals and everything the hook judges are still
#   recorded, but the audit line (at most LOG) is not written;
# - log_min_messages = panic: FATAL refusals (pg_hba.conf) are unseen too;
# - a refusal after the hook (a database that does not exist) is recorded
#   once, as refused.
# The other blind spots (a silent TCP connection, the startup packet
# timeout, log_connections = off) are in t/007_unfinished.pl.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node(
	'unseen', $pki,
	conf => "log_connections = on\n",
	hba => PgtlsAuditTest::hba_lines('hostssl all carol 127.0.0.1/32 reject'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice', 'carol');

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }

my $weak_conf = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	MinProtocol => 'TLSv1', CipherString => 'DEFAULT:@SECLEVEL=0');

# The attempts of the test: each returns a distinct application_name where
# the attempt carries one.
my %attempts = (
	'handshake failure' => sub {
		local $ENV{OPENSSL_CONF} = $weak_conf;
		$node->connect_fails(
			connstr(user => 'alice', password => 'alice-secret',
				max_protocol => 'TLSv1.1',
				extra => 'ssl_min_protocol_version=TLSv1'),
			'handshake failure',
			expected_stderr => qr/SSL error|unsupported protocol|alert/);
	},
	'wrong host name' => sub {
		$node->connect_fails(
			connstr(user => 'alice', password => 'alice-secret',
				sslmode => 'verify-full', extra => 'host=wronghost.example'),
			'wrong host name',
			expected_stderr => qr/does not match host name/);
	},
	'pg_hba.conf reject' => sub {
		$node->connect_fails(
			connstr(user => 'carol', password => 'carol-secret'),
			'pg_hba.conf reject',
			expected_stderr => qr/pg_hba.conf rejects connection/);
	},
	'wrong password' => sub {
		$node->connect_fails(
			connstr(user => 'alice', password => 'wrong'),
			'wrong password',
			expected_stderr => qr/password authentication failed/);
	});

# What attempt $name left: "outcome/stage" of its history rows, and the
# number of audit lines written.  Wait for what is expected to be seen; what
# is expected to stay unseen gets a second more, once the rest is there.
sub what_is_seen
{
	my ($name, $rows_expected, $lines_expected) = @_;
	my $last = $node->safe_psql('postgres',
		'SELECT coalesce(max(event_id), 0) FROM pgtls_audit.history');
	my $offset = -s $node->logfile;
	$attempts{$name}->();
	my $seen = sub {
		my $rows = $node->safe_psql(
			'postgres', qq{
SELECT coalesce(string_agg(outcome || '/' || stage, ',' ORDER BY event_id), 'none')
  FROM pgtls_audit.history WHERE event_id > $last AND transport <> 'unix'});
		my $lines = scalar(grep { $_->{transport} ne 'unix' }
			  PgtlsAuditTest::audit_lines($node, $offset));
		return ($rows, $lines);
	};
	my $deadline = time() + 10;
	my ($rows, $lines) = $seen->();
	while (($rows ne $rows_expected || $lines < $lines_expected)
		&& time() < $deadline)
	{
		usleep(100_000);
		($rows, $lines) = $seen->();
	}
	if ($rows eq 'none' || $lines_expected == 0)
	{
		sleep(1);
		($rows, $lines) = $seen->();
	}
	return ($rows, $lines);
}

sub set_log_min_messages
{
	my ($level) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET log_min_messages = '$level'; SELECT pg_reload_conf()");
	$node->poll_query_until('postgres',
		"SELECT setting = '$level' FROM pg_settings WHERE name = 'log_min_messages'")
	  or die "log_min_messages was not reloaded";
	return;
}

# For reference: all four are seen with the default log_min_messages.
my %expected = (
	'handshake failure'  => 'refused/handshake',
	'wrong host name'    => 'abandoned/handshake',
	'pg_hba.conf reject' => 'refused/authentication',
	'wrong password'     => 'auth_failed/authentication');
foreach my $name (sort keys %attempts)
{
	my ($rows, $lines) = what_is_seen($name, $expected{$name}, 1);
	is($rows,  $expected{$name}, "warning: $name: recorded");
	is($lines, 1,                "warning: $name: one line");
}

set_log_min_messages('fatal');
%expected = (
	'handshake failure'  => 'none',
	'wrong host name'    => 'none',
	'pg_hba.conf reject' => 'refused/authentication',
	'wrong password'     => 'auth_failed/authentication');
foreach my $name (sort keys %attempts)
{
	my ($rows, $lines) = what_is_seen($name, $expected{$name}, 0);
	is($rows,  $expected{$name}, "fatal: $name: $expected{$name}");
	is($lines, 0,                "fatal: $name: no audit line");
}

set_log_min_messages('panic');
%expected = (
	'handshake failure'  => 'none',
	'wrong host name'    => 'none',
	'pg_hba.conf reject' => 'none',
	'wrong password'     => 'auth_failed/authentication');
foreach my $name (sort keys %attempts)
{
	my ($rows, $lines) = what_is_seen($name, $expected{$name}, 0);
	is($rows,  $expected{$name}, "panic: $name: $expected{$name}");
	is($lines, 0,                "panic: $name: no audit line");
}
set_log_min_messages('warning');

# A refusal after authentication (a database that does not exist) is
# recorded once, as refused at stage authorization (every such case is in
# t/024_after_authentication.pl).
my $last = $node->safe_psql('postgres',
	'SELECT coalesce(max(event_id), 0) FROM pgtls_audit.history');
$node->connect_fails(
	connstr(user => 'alice', password => 'alice-secret')
	  =~ s/dbname=postgres/dbname=nosuchdb/r,
	'a database that does not exist',
	expected_stderr => qr/database "nosuchdb" does not exist/);
my $rows;
my $deadline = time() + 10;
do
{
	usleep(100_000);
	$rows = $node->safe_psql(
		'postgres', qq{
SELECT string_agg(outcome || '/' || stage || '/' || database_name, ',')
  FROM pgtls_audit.history WHERE event_id > $last AND transport <> 'unix'});
} while ($rows eq '' && time() < $deadline);
sleep(1);
$rows = $node->safe_psql(
	'postgres', qq{
SELECT string_agg(outcome || '/' || stage || '/' || database_name, ',')
  FROM pgtls_audit.history WHERE event_id > $last AND transport <> 'unix'});
like($rows,
	qr{^refused/authorization/nosuchdb$},
	'a refusal after authentication: recorded once');

$node->stop;
done_testing();

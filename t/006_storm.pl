
# Copyright (c) pgtls_audit contributors

# Load and faults: a storm of concurrent TLS connections is counted exactly,
# with no torn row and no failed connection; a backend SIGKILLed during a
# storm leaves the postmaster's crash restart with a working store.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $clients = 32;
my $per_client = 64;
# pgbench makes one connection of its own before its clients start
my $total = $clients * $per_client + 1;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('storm', $pki,
	conf => "pgtls_audit.history_size = 10000\n"
	  . "max_connections = 100\nrestart_after_crash = on\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node);
my $cert = PgtlsAuditTest::make_client_cert($pki, 'certuser',
	'/O=pgtls_audit test/OU=storm/CN=certuser');
my $connstr = PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser',
	cert => $cert);
my $script = $node->basedir . '/select1.sql';
PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n");

sub pgbench_command
{
	my ($clients, $transactions) = @_;
	return [
		'pgbench', '-n', '-C', '-c', $clients, '-j', 2, '-t', $transactions,
		'-f', $script, $connstr
	];
}

# The store agrees with itself: one row per counted event, no torn row.
sub check_store
{
	my ($name, $expected) = @_;
	is( $node->safe_psql(
			'postgres', q{
SELECT count(*), count(DISTINCT event_id), count(DISTINCT pid) > 0,
       count(DISTINCT (cert_subject, cert_fingerprint, cert_serial, cipher,
                       tls_version, key_exchange_group, client_addr, auth_method,
                       outcome, database_name, sni))
  FROM pgtls_audit.history WHERE user_name = 'certuser'}),
		"$expected|$expected|t|1",
		"$name: every connection in history once, no torn row");
	is( $node->safe_psql(
			'postgres', q{
SELECT string_agg(transport || ':' || tls_version || ':' || outcome || ':' || count, ' ')
  FROM pgtls_audit.summary WHERE user_name = 'certuser'}),
		"ipv4:TLSv1.3:accepted:$expected",
		"$name: summary counts every connection");
	is( $node->safe_psql(
			'postgres', q{
SELECT events_overwritten, aggregates_evicted,
       events_total = events_retained
  FROM pgtls_audit.status}),
		'0|0|t', "$name: nothing lost");
	return;
}

# The storm.
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my $offset = -s $node->logfile;
my ($stdout, $stderr);
my $ok = IPC::Run::run(pgbench_command($clients, $per_client),
	'>', \$stdout, '2>', \$stderr);
ok($ok, "pgbench: $clients clients, $total TLS connections");
my $transactions = $clients * $per_client;
like($stdout, qr/number of transactions actually processed: $transactions\/$transactions/,
	'pgbench: no connection failed');
is($stderr =~ /error|FATAL/i ? $stderr : '', '', 'pgbench: no error');
check_store('storm', $total);
is( scalar(grep { $_->{user} eq 'certuser' }
		  PgtlsAuditTest::wait_for_audit($node, $offset, $total)),
	$total, 'storm: one log line per connection');

# A backend SIGKILLed during a storm.
my $victim_session = PgtlsAuditTest::background_session($node, $connstr);
my $victim = $victim_session->query('SELECT pg_backend_pid()');
my $storm = IPC::Run::start(pgbench_command(8, 200),
	'>', \$stdout, '2>', \$stderr);
$node->poll_query_until('postgres',
	"SELECT events_total > $total + 100 FROM pgtls_audit.status")
  or die 'the second storm did not start';
kill 'KILL', $victim;
$storm->finish;    # its clients die with the crash restart
$victim_session->quit;
$node->poll_query_until('postgres', 'SELECT true');
# "server process (PID n)" before 18, "client backend (PID n)" from 18 on
ok($node->log_contains(qr/\(PID $victim\) was terminated by signal 9/),
	'the backend was killed during the storm');

# Clients reconnect, and the restarted store counts them exactly.
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
$ok = IPC::Run::run(pgbench_command(8, 25), '>', \$stdout, '2>', \$stderr);
ok($ok, 'pgbench after the crash restart');
like($stdout, qr/number of transactions actually processed: 200\/200/,
	'after the crash: no connection failed');
check_store('after the crash', 201);

$node->stop;
done_testing();

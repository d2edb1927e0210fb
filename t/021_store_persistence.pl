
# Copyright (c) pgtls_audit contributors

# Event ids never go backwards: across a clean restart, a crash restart, a
# postmaster killed outright, pgtls_audit.save = off and an ignored dump
# file.  A dump file is data from disk: a record with any field out of
# range makes the whole file ignored (with a LOG line), never a crash.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('persist', $pki,
	conf => "pgtls_audit.history_size = 20\nrestart_after_crash = on\n");
my $dump = $node->data_dir . '/pg_stat/pgtls_audit.stat';
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

sub max_event_id
{
	return $node->safe_psql('postgres',
		'SELECT coalesce(max(event_id), 0) FROM pgtls_audit.history');
}

# The id of a new attempt (this very psql) must exceed every id before.
sub ids_increase
{
	my ($name, $before) = @_;
	my $first = $node->safe_psql('postgres',
		'SELECT min(event_id) FROM pgtls_audit.history WHERE pid = pg_backend_pid()');
	cmp_ok($first, '>', $before, "$name: event ids go on increasing");
	return;
}

$node->safe_psql('postgres', 'SELECT 1') foreach 1 .. 3;
my $before = max_event_id();
cmp_ok($before, '>=', 3, 'attempts recorded');

$node->restart;
is($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM pgtls_audit.history WHERE event_id <= $before"),
	't', 'clean restart: the history is kept');
ids_increase('clean restart', $before);

# A backend killed: the postmaster reinitializes shared memory.
$before = max_event_id();
my $session = PgtlsAuditTest::background_session($node, $node->connstr('postgres'));
my $pid = $session->query('SELECT pg_backend_pid()');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
eval { $session->quit };
# A query that the postmaster lets in before it notices the death would
# answer the poll below: wait for the crash restart to begin.
$node->wait_for_log(qr/all server processes terminated; reinitializing/,
	$log_offset);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'the server did not come back after the crash restart';
ids_increase('crash restart', $before);

# The postmaster itself killed: no dump is written.
$before = max_event_id();
my $postmaster = $node->{_pid};
$node->kill9;
# its children leave once they notice; only then may a new one start
usleep(100_000) while kill 0, $postmaster;
foreach my $try (1 .. 100)
{
	last if $node->start(fail_ok => 1);
	usleep(100_000);
}
ids_increase('postmaster killed', $before);

# pgtls_audit.save = off: nothing is saved, ids still go on.
$before = max_event_id();
$node->append_conf('postgresql.conf', "pgtls_audit.save = off\n");
$node->reload;
$node->restart;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgtls_audit.history WHERE event_id <= $before"),
	'0', 'save = off: the history is not kept');
ids_increase('save = off', $before);
$node->append_conf('postgresql.conf', "pgtls_audit.save = on\n");
$node->restart;

# A dump file that is not ours is ignored; ids still go on.
$before = max_event_id();
$node->stop;
PostgreSQL::Test::Utils::append_to_file($dump, 'garbage');
my $offset = -s $node->logfile;
$node->start;
ok($node->log_contains('ignoring invalid pgtls_audit file', $offset),
	'a garbage dump file is ignored with a LOG line');
ids_increase('ignored dump file', $before);

# A saved record with one field out of range.  The file header is 16
# bytes of uint32 then 9 uint64; each record is a uint32 size and the
# record, whose fixed fields lie at these offsets.
my $fields_offset = -s $node->logfile;
my %fields = (
	violations          => [ 36, 'V', 1 << 10 ],
	auth_method_code    => [ 44, 'l', 99 ],
	rule_line           => [ 52, 'l', -1 ],
	transport           => [ 84, 'C', 7 ],
	outcome             => [ 85, 'C', 9 ],
	stage               => [ 86, 'C', 5 ],
	ssl                 => [ 89, 'C', 2 ],
	cert_expiry_warning => [ 95, 'C', 2 ],
	client_port         => [ 40, 'l', 70000 ],
	string_offset       => [ 134, 'v', 60000 ],
	strings_used        => [ 172, 'v', 60000 ],
	event_id            => [ 0, 'Q', 0 ]);
foreach my $field (sort keys %fields)
{
	my ($at, $format, $value) = @{ $fields{$field} };
	$node->safe_psql('postgres', 'SELECT 1');
	$node->stop;
	my $bytes = PostgreSQL::Test::Utils::slurp_file($dump);
	my ($record_header_size) = unpack('x8 V', $bytes);
	my ($history_count) = unpack('x48 Q', $bytes);
	is($record_header_size, 180, "$field: the record layout is the one tested")
	  if $field eq 'event_id';
	cmp_ok($history_count, '>', 0, "$field: the dump holds records");
	substr($bytes, 88 + 4 + $at, length(pack($format, 0))) = pack($format, $value);
	open my $fh, '>', $dump or die "could not write $dump: $!";
	binmode $fh;
	print $fh $bytes;
	close $fh;

	$offset = -s $node->logfile;
	$node->start;
	ok($node->log_contains('ignoring invalid pgtls_audit file', $offset),
		"$field out of range: the dump file is ignored");
	is( $node->safe_psql(
			'postgres',
			'SELECT count(*) FILTER (WHERE pid <> pg_backend_pid()), '
			  . 'count(violations) >= 0, count(current_violations) >= 0, '
			  . '(SELECT count(*) FROM pgtls_audit.summary) >= 0 '
			  . 'FROM pgtls_audit.history'),
		'0|t|t|t',
		"$field out of range: the views answer, with nothing loaded");
}
unlike(
	PostgreSQL::Test::Utils::slurp_file($node->logfile, $fields_offset),
	qr/terminated by signal|PANIC/,
	'no backend crashed on a loaded record');

# A typical TLS attempt with a client certificate packs into less than the
# 1 kB of ring each event has: a full history holds history_size of them.
PgtlsAuditTest::create_roles($node);
my $cert = PgtlsAuditTest::make_client_cert($pki, 'certuser',
	'/C=US/O=pgtls_audit test/OU=Density/CN=certuser');
my $tls = PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser',
	cert => $cert);
$node->safe_psql('postgres', 'SELECT 1', connstr => $tls) foreach 1 .. 25;
is( $node->safe_psql(
		'postgres',
		q{SELECT s.events_retained, count(*), count(*) FILTER (WHERE h.cert_subject IS NOT NULL)
		    FROM pgtls_audit.status s, pgtls_audit.history h
		   WHERE h.pid <> pg_backend_pid() GROUP BY 1}),
	'20|19|19',
	'a full history of TLS attempts with certificates holds history_size events');

$node->stop;

# The shared memory in use is stated at start; settings that would need
# more than the limit stop the start with a message naming the parts.
ok( $node->log_contains(
		qr/pgtls_audit uses \d+ kB of shared memory\n.*DETAIL:  The history of 20 events takes \d+ kB/),
	'the size of the store is logged at start');
$node->append_conf('postgresql.conf',
	"pgtls_audit.history_size = 1000000\npgtls_audit.max_dn_length = 16384\n"
	  . "pgtls_audit.max_aggregates = 100000\nmax_connections = 1000\n");
$offset = -s $node->logfile;
ok(!$node->start(fail_ok => 1), 'a store over the limit stops the start');
ok( $node->log_contains(
		qr/FATAL:  pgtls_audit would need 1\d\d\d MB of shared memory, more than its limit of 1024 MB\n.*DETAIL:  The history takes \d+ MB, the sessions of \d+ backends \d+ MB, the aggregates \d+ MB and the certificate inventory \d+ MB\.\n.*HINT:  Lower pgtls_audit\.history_size/,
		$offset),
	'with a message that names the parts');

done_testing();


# Copyright (c) pgtls_audit contributors

# The client certificate inventory, over real TLS connections: one row per
# certificate, with the facts openssl reads in it, deduplicated across
# reconnects and roles, exact under concurrent connections, visible to the
# roles that used it, kept across a clean restart, cleared by reset(), and
# bounded with evictions counted.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('inventory', $pki,
	conf => "pgtls_audit.max_certificates = 10\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice', 'bob');

my $rsa = PgtlsAuditTest::make_client_cert($pki, 'certuser',
	'/O=pgtls_audit test/OU=Inventory/CN=certuser');
my $ec = PgtlsAuditTest::make_client_cert($pki, 'alice_ec',
	'/O=pgtls_audit test/CN=alice', key => 'ec', days => 400);

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }
my %certuser = (user => 'certuser', cert => $rsa);
my %alice = (user => 'alice', password => 'alice-secret');

sub query
{
	my ($sql, %opts) = @_;
	return $node->safe_psql('postgres', $sql,
		%opts ? (connstr => connstr(%opts)) : ());
}

# One certificate, three connections of certuser and one of alice.
query('SELECT 1', %certuser) foreach 1 .. 3;
query('SELECT 1', %alice, cert => $rsa);
query('SELECT 1', %alice, cert => $ec);

my @row = split /\|/, query(
	qq{SELECT subject, issuer, serial, not_after, days_left, key_algorithm,
	          key_bits, signature_algorithm, verified, attempts, accepted,
	          array_to_string(roles, ','), last_client_addr,
	          subject_truncated, first_seen <= last_seen
	     FROM pgtls_audit.client_certificates
	    WHERE fingerprint = '$rsa->{fingerprint}'});
is($row[0], $rsa->{subject}, 'subject as openssl reads it');
is($row[1], $rsa->{issuer},  'issuer as openssl reads it');
is($row[2], $rsa->{serial},  'serial as openssl reads it');
is( query("SELECT '$row[3]'::timestamptz = '$rsa->{not_after}'::timestamptz"),
	't', 'not_after as openssl reads it');
ok($row[4] == 29 || $row[4] == 30, "days_left $row[4]");
is( join(' ', @row[ 5 .. 14 ]),
	'RSA 2048 sha256WithRSAEncryption t 4 4 certuser,alice 127.0.0.1 f t',
	'key, signature, verified, counts, roles, address');
is( query(
		qq{SELECT host(last_client_addr), count(*) OVER ()
		     FROM pgtls_audit.client_certificates
		    WHERE fingerprint = '$rsa->{fingerprint}'}),
	'127.0.0.1|1', 'one row for the certificate, across reconnects and roles');
is( query(
		qq{SELECT key_algorithm || ' ' || key_bits || ' ' || days_left
		     FROM pgtls_audit.client_certificates
		    WHERE fingerprint = '$ec->{fingerprint}'}),
	'EC 256 ' . query("SELECT floor(extract(epoch FROM '$ec->{not_after}'::timestamptz - now()) / 86400)"),
	'an EC certificate valid for 400 days');

# Visibility: a role sees the certificates of roles whose privileges it has.
is(query('SELECT count(*) FROM pgtls_audit.client_certificates',
		user => 'bob', password => 'bob-secret'),
	'0', 'bob, who used none, sees none');
is( query(
		'SELECT count(*) FROM pgtls_audit.client_certificates',
		user => 'alice', password => 'alice-secret'),
	'2', 'alice sees the two she used');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO bob');
is(query('SELECT count(*) FROM pgtls_audit.client_certificates',
		user => 'bob', password => 'bob-secret'),
	'2', 'pg_read_all_stats sees all');

# Exact under concurrent connections.
query('SELECT pgtls_audit.reset()');
my $script = $node->basedir . '/select1.sql';
PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n");
my ($out, $err) = ('', '');
IPC::Run::run(
	[ 'pgbench', '-n', '-C', '-c', 8, '-j', 2, '-t', 25, '-f', $script,
	  connstr(%certuser) ],
	'>', \$out, '2>', \$err) or die "pgbench failed: $err";
is( query(
		qq{SELECT attempts, accepted FROM pgtls_audit.client_certificates
		    WHERE fingerprint = '$rsa->{fingerprint}'}),
	'201|201', '8 clients x 25 connections (and pgbench\'s own) counted exactly');

# Kept across a clean restart.
$node->restart;
is( query(
		qq{SELECT attempts, array_to_string(roles, ',')
		     FROM pgtls_audit.client_certificates
		    WHERE fingerprint = '$rsa->{fingerprint}'}),
	'201|certuser', 'the inventory survives a clean restart');

# reset() clears it; a full inventory evicts and counts.
query('SELECT pgtls_audit.reset()');
is(query('SELECT count(*) FROM pgtls_audit.client_certificates'),
	'0', 'reset() clears the inventory');
foreach my $n (1 .. 12)
{
	my $cert = PgtlsAuditTest::make_client_cert($pki, "many$n",
		"/O=pgtls_audit test/CN=certuser/serialNumber=$n");
	query('SELECT 1', user => 'certuser', cert => $cert);
}
is( query(
		q{SELECT (SELECT count(*) FROM pgtls_audit.client_certificates),
		         certificates, certificates_evicted, max_certificates
		    FROM pgtls_audit.status}),
	'10|10|2|10', '12 certificates in an inventory of 10: 2 evicted, counted');

# Expiry warnings: the client is told, the log line says so; never a
# refusal.
$node->append_conf('postgresql.conf',
	"pgtls_audit.cert_expiry_warning_days = 30\n");
$node->reload;
foreach my $case ([ 1, 'expires in 1 day' ], [ 29, 'expires in 29 days' ],
	[ 400, undef ])
{
	my ($days, $warning) = @$case;
	my $cert = PgtlsAuditTest::make_client_cert($pki, "expiring$days",
		"/O=pgtls_audit test/OU=expiring in $days/CN=certuser",
		days => $days);
	my $offset = -s $node->logfile;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1',
		connstr => connstr(user => 'certuser', cert => $cert));
	is($ret, 0, "$days days: the connection succeeds");
	my ($line) = grep { ($_->{cert_fingerprint} // '') eq $cert->{fingerprint} }
	  PgtlsAuditTest::wait_for_audit($node, $offset, 1);
	if ($warning)
	{
		like(
			$stderr,
			qr/WARNING:  client certificate "\Q$cert->{subject}\E" $warning\n.*DETAIL:  It is valid until .*\n.*HINT:  Renew the certificate before it expires\./s,
			"$days days: the client is warned");
		is($line->{cert_expiry_warning}, 'true',
			"$days days: the log line says so");
	}
	else
	{
		unlike($stderr, qr/WARNING/, "$days days: no warning");
		ok(!exists $line->{cert_expiry_warning},
			"$days days: the log line says nothing");
	}
}
$node->append_conf('postgresql.conf',
	"pgtls_audit.cert_expiry_warning_days = 0\n");
$node->reload;
my (undef, undef, $quiet) = $node->psql('postgres', 'SELECT 1',
	connstr => connstr(user => 'certuser', cert => $rsa));
unlike($quiet, qr/WARNING/, 'cert_expiry_warning_days = 0: no warning');

$node->stop;
done_testing();

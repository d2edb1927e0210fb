
# Copyright (c) pgtls_audit contributors

# A client on an IPv6 link-local address: the server sees "fe80::1%lo",
# with a zone id inet rejects.  One failed login from there used to make
# every read of pgtls_audit.history fail.  The zone id is dropped, as
# pg_stat_activity.client_addr drops it.
#
# The test runs in a network namespace of its own (unshare, as the
# unprivileged test user), whose loopback gets fe80::1: real link-local
# connections, and nothing outside the namespace is touched.

use strict;
use warnings;

use File::Basename qw(dirname);
use Test::More;

# Move into a new user and network namespace, keeping our own uid (the
# server refuses to run as root) and the capabilities that set up the
# namespace's loopback.  This happens before PostgreSQL::Test::Utils takes
# over STDOUT, so that the test's output still reaches prove.
BEGIN
{
	if (!$ENV{PGTLS_AUDIT_IN_NETNS})
	{
		my $probe = system('unshare --user --net --map-user=' . $>
			  . ' --keep-caps true >/dev/null 2>&1');
		plan skip_all =>
		  'unprivileged user and network namespaces are not available'
		  if $probe != 0;
		$ENV{PGTLS_AUDIT_IN_NETNS} = 1;
		exec('unshare', '--user', '--net', "--map-user=$>",
			'--map-group=' . (split ' ', $))[0], '--keep-caps', '--',
			$^X, '-I', dirname($0), $0)
		  or die "could not run unshare: $!";
	}
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

use PgtlsAuditTest;

system('ip link set lo up') == 0 or die 'could not bring up lo';
system('ip -6 addr add fe80::1/64 dev lo nodad') == 0
  or die 'could not add fe80::1 to lo';

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node(
	'link_local', $pki,
	conf => "listen_addresses = '127.0.0.1,::1,fe80::1%lo'\n",
	hba => PgtlsAuditTest::hba_lines(
		'hostssl all all fe80::/10 scram-sha-256',
		'hostnossl all all fe80::/10 reject'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice');

my $connstr = PgtlsAuditTest::tls_connstr($node, $pki, user => 'alice')
  =~ s/hostaddr=\S+/hostaddr=fe80::1%lo/r;

# A failed login (SCRAM) and a pg_hba.conf refusal from the link-local
# address, then a session.
my $offset = -s $node->logfile;
$node->connect_fails("$connstr password=wrong", 'link-local: wrong password');
$node->connect_fails("$connstr password=alice-secret sslmode=disable",
	'link-local: plaintext refused',
	expected_stderr => qr/pg_hba.conf rejects connection for host "fe80::1%lo"/);
my $row = $node->safe_psql('postgres',
	q{SELECT client_addr, host(client_addr)
	    FROM pg_stat_activity WHERE pid = pg_backend_pid()},
	connstr => "$connstr password=alice-secret");
is($row, 'fe80::1|fe80::1', 'pg_stat_activity drops the zone id');

is( $node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE transport = 'ipv6') FROM pgtls_audit.history}),
	3, 'history answers, with the 3 link-local attempts');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(outcome || ':' || host(client_addr) || ':' || transport, ','
                  ORDER BY event_id)
  FROM pgtls_audit.history WHERE client_addr IS NOT NULL}),
	'auth_failed:fe80::1:ipv6,refused:fe80::1:ipv6,accepted:fe80::1:ipv6',
	'the link-local attempts, their address without zone id');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pgtls_audit.connections WHERE client_addr = 'fe80::1'}),
	'0', 'connections answers (the session has ended)');

my @lines = grep { $_->{transport} eq 'ipv6' }
  PgtlsAuditTest::wait_for_audit($node, $offset, 3);
is(join(',', map { $_->{client_addr} } @lines), 'fe80::1,fe80::1,fe80::1',
	'the log line has the address as the view has it');

$node->stop;
done_testing();

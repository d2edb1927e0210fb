
# Copyright (c) pgtls_audit contributors

# Attempts PostgreSQL refuses before the authentication hook runs: a TLS
# handshake failure, pg_hba.conf refusals (no entry, an explicit reject,
# sslmode=prefer's two attempts) and a missing client certificate.  Each is
# one history row, one summary count and one log line, never two.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node(
	'refusals', $pki,
	hba => join('',
		"local all all trust\n",
		"hostssl all +cert_users 127.0.0.1/32 cert clientcert=verify-full\n",
		"hostssl all carol 127.0.0.1/32 reject\n",
		"hostssl all all 127.0.0.1/32 scram-sha-256\n"));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice', 'carol');

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }

# The history rows and audit lines of what $attempt (a sub) does.
sub attempts_of
{
	my ($attempt) = @_;
	my $last = $node->safe_psql('postgres',
		'SELECT coalesce(max(event_id), 0) FROM pgtls_audit.history');
	my $offset = -s $node->logfile;
	$attempt->();
	# every attempt writes its line when its backend exits: wait for a marker
	# written after it, then for the lines
	my @rows = split /\n/, $node->safe_psql(
		'postgres', qq{
SELECT concat_ws('|', outcome, stage, transport, client_addr, client_port IS NOT NULL,
                 coalesce(user_name, '-'), coalesce(database_name, '-'), ssl,
                 coalesce(tls_version, '-'), coalesce(cipher, '-'),
                 coalesce(sni, '-'), coalesce(reason, '-'), pid)
  FROM pgtls_audit.history
 WHERE event_id > $last AND transport <> 'unix'
 ORDER BY event_id});
	my @lines;
	foreach my $row (@rows)
	{
		my $pid = (split /\|/, $row)[-1];
		push @lines,
		  PgtlsAuditTest::audit_line_for_pid($node, $offset, $pid);
	}
	return ([ map { [ split /\|/ ] } @rows ], \@lines);
}

# 1. A TLS handshake failure: the client offers at most TLSv1.1.
my $weak_conf = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	MinProtocol => 'TLSv1', CipherString => 'DEFAULT:@SECLEVEL=0');
my ($rows, $lines) = attempts_of(
	sub {
		local $ENV{OPENSSL_CONF} = $weak_conf;
		$node->connect_fails(
			connstr(user => 'alice', password => 'alice-secret',
				max_protocol => 'TLSv1.1',
				extra => 'ssl_min_protocol_version=TLSv1'),
			'TLSv1.1 client fails the handshake',
			expected_stderr => qr/SSL error|unsupported protocol|alert/);
	});
is(scalar(@$rows), 1, 'handshake failure: one history row');
my @r = @{ $rows->[0] };
is_deeply([ @r[ 0 .. 8 ] ],
	[ 'refused', 'handshake', 'ipv4', '127.0.0.1', 't', '-', '-', 'f', '-' ],
	'handshake failure: refused at the handshake, address known, no TLS facts');
like($r[11], qr/^could not accept SSL connection: .*unsupported protocol/,
	'handshake failure: the server\'s reason');
is($lines->[0]{outcome}, 'refused',   'handshake failure: log line outcome');
is($lines->[0]{stage},   'handshake', 'handshake failure: log line stage');
is($lines->[0]{client_addr}, '127.0.0.1', 'handshake failure: log line address');
is($lines->[0]{reason}, $r[11], 'handshake failure: log line reason');
ok(!exists $lines->[0]{user}, 'handshake failure: no user in the log line');

# 2. Plaintext against hostssl-only rules: no pg_hba.conf entry.
($rows, $lines) = attempts_of(
	sub {
		$node->connect_fails(
			connstr(user => 'alice', password => 'alice-secret',
				sslmode => 'disable'),
			'plaintext refused by pg_hba.conf',
			expected_stderr => qr/no pg_hba.conf entry/);
	});
is(scalar(@$rows), 1, 'no hba entry: one history row');
@r = @{ $rows->[0] };
is_deeply([ @r[ 0 .. 8 ] ],
	[ 'refused', 'authentication', 'ipv4', '127.0.0.1', 't', 'alice', 'postgres', 'f', '-' ],
	'no hba entry: refused at authentication with user and database');
like($r[11], qr/^no pg_hba.conf entry for host "127.0.0.1", user "alice", database "postgres", no encryption$/,
	'no hba entry: the server\'s reason');
is($lines->[0]{violations}, 'no_encryption', 'no hba entry: judged as well');

# 3. sslmode=prefer and an hba reject line: the TLS attempt and the
# plaintext retry are both there.
($rows, $lines) = attempts_of(
	sub {
		$node->connect_fails(
			connstr(user => 'carol', password => 'carol-secret',
				sslmode => 'prefer'),
			'carol refused twice');
	});
is(scalar(@$rows), 2, 'sslmode=prefer: two attempts');
is(join(',', map { "$_->[0]/$_->[1]/$_->[7]" } @$rows),
	'refused/authentication/t,refused/authentication/f',
	'sslmode=prefer: the TLS attempt, then the plaintext retry');
is($rows->[0][8], 'TLSv1.3', 'sslmode=prefer: TLS facts of the first attempt');
like($rows->[0][11], qr/^pg_hba.conf rejects connection for host "127.0.0.1", user "carol", database "postgres", SSL encryption$/,
	'sslmode=prefer: reject line reason');
like($rows->[1][11], qr/^no pg_hba.conf entry .* no encryption$/,
	'sslmode=prefer: retry reason');

# 4. clientcert=verify-full without a certificate: full TLS facts.
($rows, $lines) = attempts_of(
	sub {
		$node->connect_fails(connstr(user => 'certuser'),
			'cert method without a certificate',
			expected_stderr => qr/connection requires a valid client certificate/);
	});
is(scalar(@$rows), 1, 'no certificate: one history row');
@r = @{ $rows->[0] };
is_deeply([ @r[ 0 .. 10 ] ],
	[ 'refused', 'authentication', 'ipv4', '127.0.0.1', 't', 'certuser', 'postgres',
	  't', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', 'localhost' ],
	'no certificate: refused with full TLS facts');
is($r[11], 'connection requires a valid client certificate',
	'no certificate: the server\'s reason');
is($lines->[0]{tls_version}, 'TLSv1.3', 'no certificate: log line TLS facts');
is($lines->[0]{client_cert}, 'false',   'no certificate: log line certificate');

# 5. Attempts the hook judged are not counted again when PostgreSQL's FATAL
# follows.
($rows, $lines) = attempts_of(
	sub {
		$node->connect_fails(connstr(user => 'alice', password => 'wrong'),
			'wrong password');
		$node->connect_ok(connstr(user => 'alice', password => 'alice-secret'),
			'right password');
	});
is(join(',', map { $_->[0] } @$rows), 'auth_failed,accepted',
	'hook-judged attempts: one row each');

# Everything above in summary, once.
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(row, ' ' ORDER BY row)
  FROM (SELECT concat_ws(':', coalesce(user_name, '-'), transport,
                         coalesce(tls_version, '-'), outcome, count) AS row
          FROM pgtls_audit.summary WHERE transport <> 'unix') s}),
	'-:ipv4:-:refused:1 alice:ipv4:-:refused:1 alice:ipv4:TLSv1.3:accepted:1 '
	  . 'alice:ipv4:TLSv1.3:auth_failed:1 carol:ipv4:-:refused:1 '
	  . 'carol:ipv4:TLSv1.3:refused:1 certuser:ipv4:TLSv1.3:refused:1',
	'summary: every attempt counted once');

# Exactly one audit line for every TCP attempt of the whole test.
my %per_pid;
$per_pid{ $_->{pid} }++
  foreach grep { $_->{transport} ne 'unix' }
  PgtlsAuditTest::audit_lines($node, 0);
is(scalar(grep { $_ != 1 } values %per_pid), 0, 'one log line per attempt');
is(scalar(keys %per_pid), 7, 'seven TCP attempts logged');

$node->stop;
done_testing();

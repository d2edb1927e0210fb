
# Copyright (c) pgtls_audit contributors

# Attempts that end before the authentication hook has its say, recorded
# exactly once with their true outcome:
# - a client that completes the TLS handshake, rejects the server's
#   certificate (libpq's verify-full with a host name the certificate does
#   not name, verify-ca with another CA) and hangs up: abandoned at the
#   handshake, with its TLS facts, when PostgreSQL's log_connections is on;
# - a client that resets the connection, or sends a bad TLS record, in the
#   middle of the SASL exchange: one record, abandoned, with the server's
#   reason (it used to be recorded twice, refused then abandoned);
# and what stays unseen, as README says: the same hang-up with
# log_connections off, a TCP connection closed without a word, a client
# that never sends its startup packet.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Socket::SSL;
use Socket qw(SOL_SOCKET SO_LINGER);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $other_ca = PgtlsAuditTest::make_pki(PostgreSQL::Test::Utils::tempdir());
my $node = PgtlsAuditTest::tls_node('unfinished', $pki,
	conf => "log_connections = on\nauthentication_timeout = '2s'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice');

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }

sub last_event
{
	return $node->safe_psql('postgres',
		'SELECT coalesce(max(event_id), 0) FROM pgtls_audit.history');
}

# The TCP history rows after event $last, as hashes.
sub rows_after
{
	my ($last) = @_;
	my @columns = qw(pid outcome stage ssl tls_version cipher cipher_bits
	  key_exchange_group forward_secrecy sni client_cert user_name
	  application_name reason);
	my $sql = 'SELECT concat_ws(\'|\', '
	  . join(', ', map { "coalesce($_\::text, '-')" } @columns)
	  . ") FROM pgtls_audit.history WHERE event_id > $last"
	  . " AND transport <> 'unix' ORDER BY event_id";
	my @rows;
	foreach my $row (split /\n/, $node->safe_psql('postgres', $sql))
	{
		my %r;
		@r{@columns} = split /\|/, $row, -1;
		push @rows, \%r;
	}
	return @rows;
}

# Wait until backend $pid has exited, so that everything it writes is
# written.
sub wait_for_exit
{
	my ($pid) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	usleep(50_000) while kill(0, $pid) && time() < $deadline;
	ok(!kill(0, $pid), "backend $pid has exited");
	return;
}

# The pid of the backend that logged "connection received" for the client
# port $port after $offset.
sub backend_of_client_port
{
	my ($offset, $port) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile, $offset);
		return $1
		  if $log =~
		  /\[(\d+)\] [^\n]*connection received: host=127\.0\.0\.1 port=$port\n/;
		usleep(50_000);
	}
	die "no connection received line for client port $port";
}

# The audit lines after $offset that $filter accepts, once there is one;
# none if there is none within ten seconds (a missing line fails a test
# instead of ending the file).
sub wait_for_lines
{
	my ($offset, $filter) = @_;
	my $deadline = time() + 10;
	while (1)
	{
		my @lines = grep { $filter->($_) } PgtlsAuditTest::audit_lines($node, $offset);
		return @lines if @lines || time() > $deadline;
		usleep(50_000);
	}
}

# The audit lines of backend $pid after $offset.
sub lines_of_pid
{
	my ($offset, $pid) = @_;
	return grep { $_->{pid} eq $pid } PgtlsAuditTest::audit_lines($node, $offset);
}

my $session_facts = PgtlsAuditTest::session_facts($node,
	connstr(user => 'alice', password => 'alice-secret'));

# 1. verify-full against a certificate that does not name the host: the
# handshake completes, libpq checks the name and hangs up.
my $last = last_event();
my $offset = -s $node->logfile;
$node->connect_fails(
	connstr(
		user => 'alice', password => 'alice-secret',
		sslmode => 'verify-full', extra => 'host=wronghost.example'),
	'verify-full: wrong host name fails on the client',
	expected_stderr => qr/does not match host name "wronghost.example"/);
my ($line) = wait_for_lines($offset, sub { $_[0]{transport} ne 'unix' });
ok($line, 'wrong host name: logged');
$line //= { pid => 0 };
wait_for_exit($line->{pid}) if $line->{pid};
my @rows = rows_after($last);
is(scalar(@rows), 1, 'wrong host name: one history row');
my $r = $rows[0];
is($r->{outcome}, 'abandoned', 'wrong host name: abandoned');
is($r->{stage},   'handshake', 'wrong host name: at the handshake');
is($r->{pid}, $line->{pid}, 'wrong host name: the row is the line\'s');
is_deeply(
	[ @$r{qw(ssl tls_version cipher cipher_bits forward_secrecy sni client_cert user_name)} ],
	[ 'true', $session_facts->{version}, $session_facts->{cipher},
	  $session_facts->{bits}, 'true', 'wronghost.example', 'false', '-' ],
	'wrong host name: full TLS facts, as pg_stat_ssl has them, no user');
isnt($r->{key_exchange_group}, '-', 'wrong host name: key exchange group');
is(scalar(lines_of_pid($offset, $line->{pid})), 1, 'wrong host name: one line');
is($line->{outcome}, 'abandoned', 'wrong host name: line outcome');
is($line->{stage},   'handshake', 'wrong host name: line stage');
is($line->{tls_version}, $session_facts->{version}, 'wrong host name: line TLS version');
is($line->{sni}, 'wronghost.example', 'wrong host name: line SNI');
ok(!exists $line->{user}, 'wrong host name: no user in the line');

# 2. verify-ca with another CA: the client refuses the certificate during
# the handshake and says so with an alert.  One record.
$last = last_event();
$offset = -s $node->logfile;
$node->connect_fails(
	PgtlsAuditTest::tls_connstr($node, $other_ca,
		user => 'alice', password => 'alice-secret', sslmode => 'verify-ca'),
	'verify-ca: another CA fails on the client',
	expected_stderr => qr/certificate verify failed/);
($line) = wait_for_lines($offset, sub { $_[0]{transport} ne 'unix' });
ok($line, 'another CA: logged');
$line //= { pid => 0 };
wait_for_exit($line->{pid}) if $line->{pid};
@rows = rows_after($last);
is(scalar(@rows), 1, 'another CA: one history row');
is(scalar(lines_of_pid($offset, $line->{pid})), 1, 'another CA: one line');
$r = $rows[0];
is($r->{outcome}, 'abandoned', 'another CA: abandoned');
is($r->{stage},   'handshake', 'another CA: at the handshake');
is_deeply(
	[ @$r{qw(ssl tls_version cipher cipher_bits sni)} ],
	[ 'true', $session_facts->{version}, $session_facts->{cipher},
	  $session_facts->{bits}, 'localhost' ],
	'another CA: the TLS facts the server had chosen');
like($r->{reason}, qr/alert unknown ca/, 'another CA: the client\'s alert');
is($line->{outcome}, 'abandoned', 'another CA: line outcome');
is($line->{tls_version}, $session_facts->{version}, 'another CA: line TLS version');

# A raw client: the startup packet of protocol 3.0.
sub startup_packet
{
	my (%params) = @_;
	my $body = pack('N', 196608)
	  . join('', map { "$_\0$params{$_}\0" } sort keys %params) . "\0";
	return pack('N', 4 + length($body)) . $body;
}

sub raw_connect
{
	my $socket = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $node->port,
		Proto    => 'tcp') or die "could not connect: $!";
	return $socket;
}

# Read until the server asks for SASL (AuthenticationSASL, code 10).
sub read_sasl_request
{
	my ($socket) = @_;
	my $data = '';
	while (length($data) < 9 || substr($data, 0, 1) ne 'R')
	{
		my $n = sysread($socket, $data, 1024, length($data));
		die "the server closed the connection: $data" unless $n;
	}
	my $code = unpack('N', substr($data, 5, 4));
	die "not AuthenticationSASL: $code" unless $code == 10;
	return;
}

sub one_attempt_ok
{
	my ($name, $last, $offset, $app, $outcome, $reason, $ssl) = @_;
	my @lines = wait_for_lines($offset,
		sub { ($_[0]{application_name} // '') eq $app });
	ok(@lines, "$name: logged");
	return unless @lines;
	wait_for_exit($lines[0]{pid});
	@lines = grep { ($_->{application_name} // '') eq $app }
	  PgtlsAuditTest::audit_lines($node, $offset);
	my @rows = grep { $_->{application_name} eq $app } rows_after($last);
	is(scalar(@rows),  1, "$name: one history row");
	is(scalar(@lines), 1, "$name: one log line");
	is(join(',', map { "$_->{outcome}/$_->{stage}" } @rows),
		"$outcome/authentication", "$name: $outcome during authentication");
	like($rows[0]{reason}, $reason, "$name: the server's reason");
	is($rows[0]{ssl}, $ssl, "$name: ssl=$ssl");
	is($rows[0]{tls_version}, $ssl eq 'true' ? $session_facts->{version} : '-',
		"$name: TLS version");
	is($lines[0]{outcome}, $outcome, "$name: line outcome");
	is($lines[0]{reason}, $rows[0]{reason}, "$name: line reason");
	is( $node->safe_psql('postgres',
			"SELECT sum(count) FROM pgtls_audit.summary WHERE user_name = 'alice' "
			  . "AND transport = 'ipv4' AND outcome IN ('refused', 'abandoned') "
			  . "AND cipher IS NOT DISTINCT FROM "
			  . ($rows[0]{cipher} eq '-' ? 'NULL' : "'$rows[0]{cipher}'")),
		1, "$name: counted once in summary");
	return;
}

# 3. A reset in the middle of the SASL exchange (plaintext, SCRAM).
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
$last = last_event();
$offset = -s $node->logfile;
my $socket = raw_connect();
syswrite($socket, startup_packet(
	user => 'alice', database => 'postgres', application_name => 'sasl_reset'));
read_sasl_request($socket);
setsockopt($socket, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
close($socket);
one_attempt_ok('reset during SASL', $last, $offset, 'sasl_reset', 'abandoned',
	qr/^could not receive data from client: Connection reset by peer$/, 'false');

# 4. A bad TLS record in the middle of the SASL exchange.
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
$last = last_event();
$offset = -s $node->logfile;
$socket = raw_connect();
syswrite($socket, pack('NN', 8, 80877103));    # SSLRequest
sysread($socket, my $answer, 1);
is($answer, 'S', 'the server accepts TLS');
IO::Socket::SSL->start_SSL($socket, SSL_verify_mode => SSL_VERIFY_NONE)
  or die "TLS handshake failed: $SSL_ERROR";
syswrite($socket, startup_packet(
	user => 'alice', database => 'postgres', application_name => 'bad_record'));
read_sasl_request($socket);
# an application-data record that cannot decrypt, on the raw socket
open(my $raw, '>&=', fileno($socket)) or die "could not reopen the socket: $!";
syswrite($raw, "\x17\x03\x03\x00\x40" . ("\x5a" x 64));
my $rest;
1 while sysread($raw, $rest, 1024);
close($raw);
one_attempt_ok('bad TLS record during SASL', $last, $offset, 'bad_record',
	'abandoned', qr/^SSL error: /, 'true');

# What stays unseen (README, "Attempts that stay invisible").

# A TCP connection closed without a word (health checks, port scanners).
$last = last_event();
$offset = -s $node->logfile;
$socket = raw_connect();
my $pid = backend_of_client_port($offset, $socket->sockport);
close($socket);
wait_for_exit($pid);
is(scalar(rows_after($last)), 0, 'silent TCP connection: no history row');
is(scalar(lines_of_pid($offset, $pid)), 0, 'silent TCP connection: no line');

# A client that never sends its startup packet: authentication_timeout
# ends the backend from a signal handler, even after a TLS handshake.
$last = last_event();
$offset = -s $node->logfile;
$socket = raw_connect();
$pid = backend_of_client_port($offset, $socket->sockport);
syswrite($socket, pack('NN', 8, 80877103));
sysread($socket, $answer, 1);
IO::Socket::SSL->start_SSL($socket, SSL_verify_mode => SSL_VERIFY_NONE)
  or die "TLS handshake failed: $SSL_ERROR";
wait_for_exit($pid);
close($socket);
is(scalar(rows_after($last)), 0, 'startup packet timeout: no history row');
is(scalar(lines_of_pid($offset, $pid)), 0, 'startup packet timeout: no line');

# With log_connections off, PostgreSQL says nothing of a client that hangs
# up after the handshake: the verify-full failure is not seen.
$node->safe_psql('postgres',
	'ALTER SYSTEM SET log_connections = off; SELECT pg_reload_conf()');
$node->poll_query_until('postgres',
	"SELECT setting = 'off' FROM pg_settings WHERE name = 'log_connections'")
  or die 'log_connections was not reloaded';
$last = last_event();
$offset = -s $node->logfile;
$node->connect_fails(
	connstr(
		user => 'alice', password => 'alice-secret',
		sslmode => 'verify-full', extra => 'host=wronghost.example'),
	'verify-full: wrong host name, log_connections off',
	expected_stderr => qr/does not match host name/);
# the backend exits as soon as the client has gone; give it ample time
sleep(1);
$node->safe_psql('postgres', 'SELECT 1');
is(scalar(rows_after($last)), 0, 'log_connections off: the hang-up is unseen');
is(scalar(grep { $_->{transport} ne 'unix' } PgtlsAuditTest::audit_lines($node, $offset)),
	0, 'log_connections off: no line');

unlike(slurp_file($node->logfile), qr/WARNING|PANIC|server process .* terminated/,
	'no warning, no crash');
$node->stop;
done_testing();

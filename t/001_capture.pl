
# Copyright (c) pgtls_audit contributors

# Capture and log line: every connection attempt that reaches authentication
# writes one escaped line with the facts of its real TLS session, checked
# against pg_stat_ssl and against openssl's own reading of the certificates.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('capture', $pki);

PgtlsAuditTest::create_roles($node, 'alice');

my %certs = (
	plain => PgtlsAuditTest::make_client_cert($pki, 'certuser',
		'/O=pgtls_audit test/CN=certuser'),
	utf8 => PgtlsAuditTest::make_client_cert($pki, 'utf8',
		'/C=DE/O=Café Müller GmbH/OU=Σύστημα/CN=José 東京 Ñandú', key => 'ec'),
	long => PgtlsAuditTest::make_client_cert($pki, 'long',
		'/C=US/ST=Some Rather Long State Name/L=A City With A Long Name'
		  . '/O=An Organization Whose Name Is Deliberately Long Ltd'
		  . '/OU=Department of Redundancy Department'
		  . '/OU=Subdivision Of The Department Of Long Names'
		  . '/CN=long-distinguished-name-client.example.com'),
	hostile => PgtlsAuditTest::make_client_cert($pki, 'hostile',
		"/O=q\"uote\\,comma\\+plus/CN=evil\nLOG:  forged line\033[31m\\\\back\x7f"),
);

cmp_ok(length($certs{long}{subject}), '>', 200, 'long DN is over 200 bytes');

# Connect, then return the audit line of that session and pg_stat_ssl's view
# of it.
sub audited_session
{
	my ($name, %opts) = @_;
	my $offset = -s $node->logfile;
	my $facts = PgtlsAuditTest::session_facts($node,
		PgtlsAuditTest::tls_connstr($node, $pki, %opts));
	my $line = PgtlsAuditTest::audit_line_for_pid($node, $offset, $facts->{pid});
	return ($line, $facts);
}

# Check the TLS facts of a line against pg_stat_ssl's.
sub check_tls
{
	my ($name, $line, $facts) = @_;
	is($line->{ssl},         'true',           "$name: ssl");
	is($line->{tls_version}, $facts->{version}, "$name: version as pg_stat_ssl");
	is($line->{cipher},      $facts->{cipher},  "$name: cipher as pg_stat_ssl");
	is($line->{cipher_bits}, $facts->{bits},    "$name: bits as pg_stat_ssl");
	is($line->{sni}, 'localhost', "$name: SNI host name");
	is($line->{forward_secrecy}, 'true', "$name: forward secrecy");
	is($line->{key_exchange_group}, PgtlsAuditTest::default_group($node),
		"$name: key exchange group (the server's default)");
	is($line->{transport},   'ipv4',      "$name: transport");
	is($line->{client_addr}, '127.0.0.1', "$name: client address");
	like($line->{client_port}, qr/^\d+$/, "$name: client port");
	like($line->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
		"$name: time");
	return;
}

# Check the certificate facts of a line against openssl's reading.
sub check_cert
{
	my ($name, $line, $cert, $facts) = @_;
	is($line->{client_cert},   'true',              "$name: client certificate");
	is($line->{cert_verified}, 'true',              "$name: verified");
	is($line->{cert_subject},  $cert->{subject},     "$name: full subject DN");
	is($line->{cert_issuer},   $cert->{issuer},      "$name: issuer DN");
	is($line->{cert_serial},   $cert->{serial},      "$name: serial");
	is($line->{cert_serial},   $facts->{client_serial}, "$name: serial as pg_stat_ssl");
	is($line->{cert_fingerprint}, $cert->{fingerprint}, "$name: SHA-256 fingerprint");
	is($line->{cert_not_before},  $cert->{not_before},  "$name: notBefore");
	is($line->{cert_not_after},   $cert->{not_after},   "$name: notAfter");
	return;
}

# TLSv1.3 with a client certificate, hba "cert".
my ($line, $facts) = audited_session('tls13', user => 'certuser',
	cert => $certs{plain});
is($line->{outcome}, 'accepted', 'TLSv1.3 cert: accepted');
is($line->{tls_version}, 'TLSv1.3', 'TLSv1.3 cert: TLSv1.3');
check_tls('TLSv1.3 cert', $line, $facts);
check_cert('TLSv1.3 cert', $line, $certs{plain}, $facts);
is($line->{user},     'certuser', 'TLSv1.3 cert: user');
is($line->{database}, 'postgres', 'TLSv1.3 cert: database');
is($line->{auth_method}, 'cert', 'TLSv1.3 cert: auth method');
like($line->{hba_line}, qr/^\d+$/, 'TLSv1.3 cert: hba line');
is($line->{cert_key_algorithm}, 'RSA', 'TLSv1.3 cert: key algorithm');
is($line->{cert_key_bits},      '2048', 'TLSv1.3 cert: key bits');
is($line->{cert_signature_algorithm}, 'sha256WithRSAEncryption',
	'TLSv1.3 cert: signature algorithm');
is($line->{replication}, 'false', 'TLSv1.3 cert: not replication');
is($line->{violations}, '', 'TLSv1.3 cert: no violation');

# TLSv1.2 with SCRAM, no certificate.
($line, $facts) = audited_session('tls12', user => 'alice',
	password => 'alice-secret', max_protocol => 'TLSv1.2');
is($line->{outcome},     'accepted',       'TLSv1.2 scram: accepted');
is($line->{tls_version}, 'TLSv1.2',        'TLSv1.2 scram: TLSv1.2');
is($line->{cipher}, 'ECDHE-RSA-AES256-GCM-SHA384', 'TLSv1.2 scram: cipher');
check_tls('TLSv1.2 scram', $line, $facts);
is($line->{auth_method}, 'scram-sha-256', 'TLSv1.2 scram: auth method');
is($line->{client_cert}, 'false',         'TLSv1.2 scram: no certificate');
ok(!exists $line->{cert_subject}, 'TLSv1.2 scram: no certificate facts');

# Certificates whose DN pg_stat_ssl cannot show whole, over SCRAM.
foreach my $kind (qw(utf8 long hostile))
{
	my $offset = -s $node->logfile;
	($line, $facts) = audited_session($kind, user => 'alice',
		password => 'alice-secret', cert => $certs{$kind});
	is($line->{outcome}, 'accepted', "$kind DN: accepted");
	check_tls("$kind DN", $line, $facts);
	check_cert("$kind DN", $line, $certs{$kind}, $facts);

	my @raw = grep { /pgtls_audit:/ }
	  split /\n/, slurp_file($node->logfile, $offset);
	is(scalar(@raw), 1, "$kind DN: exactly one line");
	unlike($line->{_line}, qr/[\x00-\x1f\x7f]/, "$kind DN: no control byte");
}
is($node->safe_psql('postgres', q{SELECT 1}), '1', 'server alive');
like($certs{utf8}{subject}, qr/José 東京 Ñandú/, 'UTF-8 subject is UTF-8');
is(PgtlsAuditTest::audit_lines($node, 0) > 0, 1, 'lines are there');

# The EC key of the UTF-8 certificate.
($line) = audited_session('ec', user => 'alice', password => 'alice-secret',
	cert => $certs{utf8});
is($line->{cert_key_algorithm}, 'EC', 'EC certificate: key algorithm');
is($line->{cert_key_bits},      '256', 'EC certificate: key bits');

# Plaintext TCP.
my $offset = -s $node->logfile;
$node->connect_ok(
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'alice',
		password => 'alice-secret', sslmode => 'disable'),
	'plaintext TCP connects');
($line) = PgtlsAuditTest::wait_for_audit($node, $offset, 1);
is($line->{ssl},        'false',         'plaintext: no TLS');
is($line->{transport},  'ipv4',          'plaintext: IPv4');
is($line->{violations}, 'no_encryption', 'plaintext: audited as a violation');
is($line->{outcome},    'accepted',      'plaintext: accepted in audit mode');
ok(!exists $line->{tls_version}, 'plaintext: no TLS facts');
is($line->{gss_encrypted}, 'false', 'plaintext: no GSSAPI encryption');

# IPv6 loopback.
($line, $facts) = audited_session('ipv6', user => 'alice',
	password => 'alice-secret', ipv6 => 1);
is($line->{transport},   'ipv6', 'IPv6: transport');
is($line->{client_addr}, '::1',  'IPv6: client address');

# Unix socket.
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'SELECT 1');
($line) = PgtlsAuditTest::wait_for_audit($node, $offset, 1);
is($line->{transport}, 'unix', 'unix socket: transport');
ok(!exists $line->{client_addr}, 'unix socket: no client address');
is($line->{auth_method}, 'trust', 'unix socket: auth method');
is($line->{violations},  '',      'unix socket: not judged by TLS rules');

# A failed password: logged, and nothing more told to the client.
$offset = -s $node->logfile;
$node->connect_fails(
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'alice',
		password => 'wrong'),
	'wrong password fails',
	expected_stderr => qr/password authentication failed for user "alice"/);
($line) = PgtlsAuditTest::wait_for_audit($node, $offset, 1);
is($line->{outcome}, 'auth_failed', 'wrong password: auth_failed');
is($line->{user},    'alice',       'wrong password: user');
is($line->{ssl},     'true',        'wrong password: over TLS');

# Hostile application_name: one line, escaped.
$offset = -s $node->logfile;
($line) = audited_session('appname', user => 'alice',
	password => 'alice-secret',
	application_name => "'bad\napp\033\"x\\\\y'");
is($line->{application_name},
	PgtlsAuditTest::cleaned_ascii($node, "bad\napp\033\"x\\y"),
	'hostile application_name: the value PostgreSQL kept');
is(scalar(grep { /pgtls_audit:/ } split /\n/, slurp_file($node->logfile, $offset)),
	1, 'hostile application_name: one line');

# JSON format carries the same keys.
my ($text_line) = audited_session('text', user => 'certuser',
	cert => $certs{plain});
$node->append_conf('postgresql.conf', "pgtls_audit.log_format = 'json'");
$node->reload;
my ($json_line) = audited_session('json', user => 'certuser',
	cert => $certs{plain});
like($json_line->{_line}, qr/pgtls_audit: \{"outcome":"accepted",/,
	'JSON: an object');
is_deeply([ sort grep { !/^_/ } keys %$json_line ],
	[ sort grep { !/^_/ } keys %$text_line ], 'JSON: same keys as text');
is($json_line->{cert_subject}, $certs{plain}{subject}, 'JSON: subject');
is($json_line->{cipher_bits}, $text_line->{cipher_bits}, 'JSON: bits');

($line) = audited_session('json hostile', user => 'alice',
	password => 'alice-secret', cert => $certs{hostile});
is($line->{cert_subject}, $certs{hostile}{subject}, 'JSON: hostile subject');
unlike($line->{_line}, qr/[\x00-\x1f\x7f]/, 'JSON: no control byte');

# log_connections = off writes nothing.
$node->append_conf('postgresql.conf', 'pgtls_audit.log_connections = off');
$node->reload;
$offset = -s $node->logfile;
$node->connect_ok(
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser',
		cert => $certs{plain}),
	'connects with log_connections off');
$node->safe_psql('postgres', q{DO $$BEGIN RAISE LOG 'marker after connection'; END$$});
$node->wait_for_log(qr/marker after connection/, $offset);
is(scalar(PgtlsAuditTest::audit_lines($node, $offset)), 0,
	'log_connections off: no line');

$node->stop;
done_testing();


# Copyright (c) pgtls_audit contributors

# Hostile inputs through real connections: certificates with control
# characters, quotes, backslashes, commas and plus signs in the CN, a 4 KB
# subject, 100 RDNs, a 20-octet serial, UTF-8 in several scripts; user names
# and application_name with control characters.  Each attempt yields exactly
# one escaped log line and exact view values, and no warning.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('hostile', $pki,
	conf => "pgtls_audit.max_dn_length = 8192\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice');

my %certs = (
	'control characters' => [ "/O=q\"uote\\,comma\\+plus/CN=a\nb\rc\td\033[31me\x7ff\\\\g" ],
	'4 KB subject' => [
		'/CN=big'
		  . join('', map { sprintf('/OU=%s%032d', 'a' x 32, $_) } 1 .. 64)
	],
	'100 RDNs' =>
	  [ '/CN=many' . join('', map { sprintf('/OU=unit%03d', $_) } 1 .. 100) ],
	'20-octet serial' => [ '/CN=serial', serial => '0x7F0102030405060708090A0B0C0D0E0F10111213' ],
	'UTF-8 scripts' => [ '/C=GR/O=Ελληνικά Σύστημα/OU=Русский отдел/OU=مكتب عربي/CN=李小龙 🔐 Ñandú' ],
	'RDN-like CN' => [ '/CN=admin\\,O=Trusted\\+OU=root' ],
);

sub hex_of { return unpack('H*', $_[0]); }

foreach my $name (sort keys %certs)
{
	my ($subject, %opts) = @{ $certs{$name} };
	(my $file = $name) =~ s/\W+/_/g;
	my $cert = PgtlsAuditTest::make_client_cert($pki, $file, $subject, %opts);
	my $offset = -s $node->logfile;
	my $connstr = PgtlsAuditTest::tls_connstr($node, $pki,
		user => 'alice', password => 'alice-secret', cert => $cert);
	my $row = $node->safe_psql(
		'postgres', q{
SELECT h.pid, encode(convert_to(h.cert_subject, 'UTF8'), 'hex'),
       encode(convert_to(h.cert_issuer, 'UTF8'), 'hex'), h.cert_subject_truncated,
       h.cert_serial = s.client_serial, h.cert_serial, h.cert_fingerprint
  FROM pgtls_audit.history h JOIN pg_stat_ssl s USING (pid)
 WHERE pid = pg_backend_pid()},
		connstr => $connstr);
	my ($pid, $subject_hex, $issuer_hex, $truncated, $serial_same, $serial,
		$fingerprint) = split /\|/, $row;
	is($subject_hex, hex_of($cert->{subject}), "$name: exact subject in history");
	is($issuer_hex,  hex_of($cert->{issuer}),  "$name: exact issuer in history");
	is($truncated,   'f', "$name: not truncated");
	is($serial_same, 't', "$name: serial as pg_stat_ssl");
	is($serial, $cert->{serial}, "$name: serial as openssl");
	is($fingerprint, $cert->{fingerprint}, "$name: fingerprint");

	my $line = PgtlsAuditTest::audit_line_for_pid($node, $offset, $pid);
	is(hex_of($line->{cert_subject}), hex_of($cert->{subject}),
		"$name: exact subject in the log line");
	unlike($line->{_line}, qr/[\x00-\x1f\x7f]/, "$name: no control byte in the line");
	is(scalar(grep { /pgtls_audit:/ } split /\n/, slurp_file($node->logfile, $offset)),
		1, "$name: exactly one line");
}
is( $node->safe_psql('postgres',
		q{SELECT max(octet_length(cert_subject)) > 4096 FROM pgtls_audit.history}),
	't', 'the 4 KB subject is kept whole');

# User names and application_name with control characters.
my $evil = "evil\nuser\033[0m\"q\\x";
$node->safe_psql('postgres',
	qq{DO \$\$BEGIN EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', }
	  . qq{convert_from('\\x@{[ hex_of($evil) ]}', 'UTF8'), 'evil-secret'); END\$\$});
(my $quoted_user = $evil) =~ s/(['\\])/\\$1/g;
my $offset = -s $node->logfile;
my $row = $node->safe_psql(
	'postgres',
	q{SELECT pid, encode(convert_to(user_name, 'UTF8'), 'hex'), application_name
	    FROM pgtls_audit.history WHERE pid = pg_backend_pid()},
	connstr => PgtlsAuditTest::tls_connstr($node, $pki,
		user => "'$quoted_user'", password => 'evil-secret',
		application_name => "'app\nname\033x'"));
my ($pid, $user_hex, $app) = split /\|/, $row;
is($user_hex, hex_of($evil), 'hostile user name: exact in history');
is($app, PgtlsAuditTest::cleaned_ascii($node, "app\nname\033x"),
	'hostile application_name: as PostgreSQL cleaned it');
my $line = PgtlsAuditTest::audit_line_for_pid($node, $offset, $pid);
is($line->{user}, $evil, 'hostile user name: exact in the log line once unescaped');
unlike($line->{_line}, qr/[\x00-\x1f\x7f]/, 'hostile user name: no control byte');

# A failed login under a hostile name that is no role.
$offset = -s $node->logfile;
$node->connect_fails(
	PgtlsAuditTest::tls_connstr($node, $pki,
		user => "'ghost\n\033[2J'", password => 'x'),
	'hostile unknown user fails');
my @lines = PgtlsAuditTest::wait_for_audit($node, $offset, 1);
is($lines[0]{user}, "ghost\n\033[2J", 'unknown hostile user: escaped, exact');
unlike($lines[0]{_line}, qr/[\x00-\x1f\x7f]/, 'unknown hostile user: no control byte');

unlike(slurp_file($node->logfile), qr/WARNING|PANIC|server process .* terminated/,
	'no warning, no crash');
$node->stop;
done_testing();


# Copyright (c) pgtls_audit contributors

# The strength of client certificates in the policy, over real TLS
# connections with certificates made here: RSA of 1024, 2048 and 4096 bits,
# EC P-256 and P-384, Ed25519, Ed448 and a certificate signed with SHA-1,
# judged in audit mode (listed in the log line and the history) and in
# enforce mode (refused with the documented message, while strong
# certificates still connect); the settings changed at reload, 0 disabling
# a minimum, an invalid digest list refused, a rule overriding a minimum
# for one role, live sessions judged again by policy_violations, and the
# history's cert_expiry_warning.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();

# Security level 0 on both sides, so that the handshake lets the weak
# certificates through to the policy: the server's verification of a
# 1024-bit key or a SHA-1 signature, the client's loading of its own.
my $node = PgtlsAuditTest::tls_node(
	'strength', $pki,
	conf => qq{
ssl_ciphers = 'DEFAULT:\@SECLEVEL=0'
log_error_verbosity = verbose
});
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice');
my $weak_client = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	CipherString => 'DEFAULT:@SECLEVEL=0');

# Every certificate names certuser, who authenticates by certificate.
my %cert;
foreach my $spec (
	[ rsa1024 => key => 'rsa:1024' ],
	[ rsa2048 => key => 'rsa:2048' ],
	[ rsa4096 => key => 'rsa:4096' ],
	[ p256    => key => 'ec', curve => 'prime256v1' ],
	[ p384    => key => 'ec', curve => 'secp384r1' ],
	[ ed25519 => key => 'ed25519' ],
	[ ed448   => key => 'ed448' ],
	[ sha1    => key => 'rsa:2048', digest => 'sha1' ])
{
	my ($name, %opts) = @$spec;
	$cert{$name} = PgtlsAuditTest::make_client_cert($pki, $name,
		"/O=pgtls_audit test/OU=$name/CN=certuser", %opts);
}

sub client
{
	my ($name, %opts) = @_;
	return (
		user         => 'certuser',
		cert         => $cert{$name},
		openssl_conf => $weak_client,
		%opts);
}

sub attempt
{
	return PgtlsAuditTest::client_attempt($node, $pki, client(@_));
}

# The history's row of the attempt logged as $line.
sub history_of
{
	my ($line, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM pgtls_audit.history WHERE pid = $line->{pid}");
}

#
# Audit mode, the defaults: what each certificate is, and what it violates,
# in the log line and in the history.
#
my @audit = (
	[ rsa1024 => 'RSA 1024 sha256WithRSAEncryption', 'cert_key' ],
	[ rsa2048 => 'RSA 2048 sha256WithRSAEncryption', '' ],
	[ rsa4096 => 'RSA 4096 sha256WithRSAEncryption', '' ],
	[ p256    => 'EC 256 sha256WithRSAEncryption', '' ],
	[ p384    => 'EC 384 sha256WithRSAEncryption', '' ],
	[ ed25519 => 'ED25519 256 sha256WithRSAEncryption', '' ],
	[ ed448   => 'ED448 456 sha256WithRSAEncryption', '' ],
	[ sha1    => 'RSA 2048 sha1WithRSAEncryption', 'cert_signature' ]);
foreach my $case (@audit)
{
	my ($name, $facts, $violations) = @$case;
	my $result = attempt($name);
	my ($line) = @{ $result->{lines} };
	is($result->{ret}, 0, "$name: audit mode lets the session in")
	  or diag($result->{stderr});
	is( join(' ',
			$line->{cert_key_algorithm}, $line->{cert_key_bits},
			$line->{cert_signature_algorithm}),
		$facts,
		"$name: key and signature as logged");
	is($line->{outcome},    'accepted',  "$name: outcome=accepted");
	is($line->{violations}, $violations, "$name: log line violations=$violations");
	is( history_of(
			$line,
			"array_to_string(violations, ','), array_to_string(current_violations, ',')"
		),
		"$violations|$violations",
		"$name: history violations and current_violations");
}

# README's query: which roles still use a weak certificate.
my @weak = map { [ (split /\|/)[ 0, 2, 3, 4, 5, 6 ] ] } split /\n/,
  $node->safe_psql(
	'postgres', q{
SELECT user_name, cert_subject, cert_key_algorithm, cert_key_bits,
       cert_signature_algorithm, current_violations,
       count(*) AS attempts, max(time) AS last_seen
  FROM pgtls_audit.history
 WHERE current_violations && ARRAY['cert_key', 'cert_signature']
 GROUP BY 1, 2, 3, 4, 5, 6
 ORDER BY user_name, last_seen DESC});
is_deeply(
	\@weak,
	[
		[qw(certuser RSA 2048 sha1WithRSAEncryption {cert_signature} 1)],
		[qw(certuser RSA 1024 sha256WithRSAEncryption {cert_key} 1)]
	],
	'README: the roles still using a weak certificate, most recent first');

#
# Enforce mode: each new violation refuses with its message; strong
# certificates still connect.
#
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'RSA 1024',
	client     => { client('rsa1024') },
	violations => 'cert_key',
	message =>
	  'connection rejected: client certificate key RSA has 1024 bits, below the allowed minimum of 2048',
	compliant => { client('rsa2048') });
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'SHA-1 signature',
	client     => { client('sha1') },
	violations => 'cert_signature',
	message =>
	  'connection rejected: client certificate signature digest "sha1" is not allowed',
	compliant => { client('p256') });
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'Ed25519 below P-384',
	policy     => { min_cert_ec_bits => '384' },
	client     => { client('ed25519') },
	violations => 'cert_key',
	message =>
	  'connection rejected: client certificate key ED25519 has a security strength of 128 bits, below the allowed minimum of 192',
	compliant => { client('p384') });
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'EC P-256 below P-384',
	client     => { client('p256') },
	violations => 'cert_key',
	message =>
	  'connection rejected: client certificate key EC has 256 bits, below the allowed minimum of 384',
	compliant => { client('rsa4096') });
PgtlsAuditTest::set_policy($node, min_cert_ec_bits => undef);
foreach my $name (qw(rsa2048 rsa4096 p256 p384 ed25519))
{
	my $result = attempt($name);
	is($result->{ret}, 0, "$name: enforce mode lets the session in")
	  or diag($result->{stderr});
	is($result->{lines}[0]{violations}, '', "$name: enforce: no violation");
}

#
# The settings at reload: a higher minimum, 0 disabling it, another digest
# list, and an invalid list refused.
#
PgtlsAuditTest::set_policy($node, mode => 'audit', min_cert_rsa_bits => '4096');
is(attempt('rsa2048')->{lines}[0]{violations},
	'cert_key', 'min_cert_rsa_bits = 4096 at reload: 2048 bits violate');
is(attempt('rsa4096')->{lines}[0]{violations},
	'', 'min_cert_rsa_bits = 4096: 4096 bits do not');
PgtlsAuditTest::set_policy($node, min_cert_ec_bits => '384');
is(attempt('ed448')->{lines}[0]{violations},
	'', 'min_cert_ec_bits = 384: Ed448 (224 bits of security) passes');
PgtlsAuditTest::set_policy($node, min_cert_ec_bits => '521');
my $ed448 = attempt('ed448');
is($ed448->{lines}[0]{violations},
	'cert_key', 'min_cert_ec_bits = 521: Ed448 violates');
is($ed448->{lines}[0]{cert_key_algorithm}, 'ED448', 'as an ED448 key');
is(attempt('p384')->{lines}[0]{violations},
	'cert_key', 'min_cert_ec_bits = 521: so does P-384');
PgtlsAuditTest::set_policy($node,
	min_cert_rsa_bits => '0',
	min_cert_ec_bits  => '0');
is(attempt('rsa1024')->{lines}[0]{violations},
	'', 'min_cert_rsa_bits = 0: any RSA key is allowed');
is(attempt('p256')->{lines}[0]{violations},
	'', 'min_cert_ec_bits = 0: any curve is allowed');
PgtlsAuditTest::set_policy($node,
	min_cert_rsa_bits                   => undef,
	min_cert_ec_bits                    => undef,
	forbidden_cert_signature_algorithms => 'sha256');
is(attempt('sha1')->{lines}[0]{violations},
	'', 'sha1 allowed once the list no longer names it');
is(attempt('p256')->{lines}[0]{violations},
	'cert_signature', 'sha256 forbidden: a SHA-256 signature violates');
is(attempt('ed25519')->{lines}[0]{violations},
	'cert_signature', 'the CA\'s digest is judged, not the subject key');
PgtlsAuditTest::set_policy($node, forbidden_cert_signature_algorithms => '');
is(attempt('sha1')->{lines}[0]{violations},
	'', 'an empty list forbids no digest');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"ALTER SYSTEM SET pgtls_audit.forbidden_cert_signature_algorithms = 'md5, sha-1'"
);
isnt($ret, 0, 'an unrecognized digest name is refused');
like(
	$stderr,
	qr/invalid value for parameter "pgtls_audit.forbidden_cert_signature_algorithms": "md5, sha-1"\nDETAIL:  Unrecognized signature digest algorithm: "sha-1"\.\nHINT:  The accepted names are: md2, .*sha1, .*sha256, .*\./,
	'the error names the unrecognized digest and the accepted names');
PgtlsAuditTest::set_policy($node, forbidden_cert_signature_algorithms => undef);
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf',
	"pgtls_audit.forbidden_cert_signature_algorithms = 'sha1, nosuch'\n");
$node->reload;
ok( $node->wait_for_log(
		qr/invalid value for parameter "pgtls_audit.forbidden_cert_signature_algorithms": "sha1, nosuch"/,
		$offset),
	'an unrecognized digest name in postgresql.conf is reported at reload');
is( $node->safe_psql(
		'postgres', 'SHOW pgtls_audit.forbidden_cert_signature_algorithms'),
	'md5, sha1',
	'and the value in force stays');
is(attempt('sha1')->{lines}[0]{violations},
	'cert_signature', 'and judges as before');
$node->append_conf('postgresql.conf',
	"pgtls_audit.forbidden_cert_signature_algorithms = 'md5, sha1'\n");
$node->reload;

#
# A rule raises the RSA minimum for one role: alice (who logs in with a
# password and presents a certificate) violates it, certuser with the same
# certificate does not.
#
my $rules = $node->data_dir . '/strength_rules.conf';
PostgreSQL::Test::Utils::append_to_file($rules,
	"all  alice  all  min_cert_rsa_bits=4096\n");
PgtlsAuditTest::set_policy($node, rules_file => 'strength_rules.conf');
my ($line) = @{
	attempt(
		'rsa2048',
		user     => 'alice',
		password => 'alice-secret')->{lines} };
is($line->{violations}, 'cert_key', 'the rule judges alice\'s 2048-bit key');
is($line->{rule_line},  '1',        'by its line');
is(attempt('rsa2048')->{lines}[0]{violations},
	'', 'the GUCs judge certuser\'s, the same certificate');
is( $node->safe_psql(
		'postgres',
		q{SELECT rule_line, min_cert_rsa_bits, min_cert_ec_bits,
		         forbidden_cert_signature_algorithms
		    FROM pgtls_audit.rule_for('alice', 'postgres', '127.0.0.1')}),
	'1|4096|256|md5, sha1',
	'rule_for: the rule\'s minimum, the GUCs for the rest');
PgtlsAuditTest::set_policy($node, rules_file => undef);

#
# A live session judged again: policy_violations reads the strength from
# the store, not from pg_stat_ssl.
#
my $session = PgtlsAuditTest::background_session($node,
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser',
		cert => $cert{rsa2048}));
my $pid = $session->query('SELECT pg_backend_pid()');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pgtls_audit.policy_violations WHERE pid = $pid"),
	'0',
	'policy_violations: a 2048-bit key complies with the defaults');
PgtlsAuditTest::set_policy($node, min_cert_rsa_bits => '3072');
is( $node->safe_psql(
		'postgres',
		"SELECT violations, violations_at_connect FROM pgtls_audit.policy_violations WHERE pid = $pid"
	),
	'{cert_key}|{}',
	'policy_violations: the same session violates a minimum of 3072');
PgtlsAuditTest::set_policy($node,
	min_cert_rsa_bits                   => undef,
	forbidden_cert_signature_algorithms => 'sha256');
is( $node->safe_psql(
		'postgres',
		"SELECT violations FROM pgtls_audit.policy_violations WHERE pid = $pid"
	),
	'{cert_signature}',
	'policy_violations: and a forbidden SHA-256 signature');
$session->quit;
PgtlsAuditTest::set_policy($node, forbidden_cert_signature_algorithms => undef);

#
# cert_expiry_warning in the history: true for a certificate expiring
# within the warning period, false for one that does not, NULL without a
# certificate; connections shows it for the live session.
#
PgtlsAuditTest::set_policy($node, cert_expiry_warning_days => '30');
my $expiring = PgtlsAuditTest::make_client_cert($pki, 'expiring',
	'/O=pgtls_audit test/OU=expiring/CN=certuser', days => 20);
my $lasting = PgtlsAuditTest::make_client_cert($pki, 'lasting',
	'/O=pgtls_audit test/OU=lasting/CN=certuser', days => 400);
$cert{expiring} = $expiring;
$cert{lasting}  = $lasting;
($line) = @{ attempt('expiring')->{lines} };
is($line->{cert_expiry_warning}, 'true', 'expiring: the log line warns');
is(history_of($line, 'cert_expiry_warning'),
	't', 'expiring: history.cert_expiry_warning is true');
($line) = @{ attempt('lasting')->{lines} };
is(history_of($line, 'cert_expiry_warning'),
	'f', 'lasting: history.cert_expiry_warning is false');
($line) = @{
	PgtlsAuditTest::client_attempt(
		$node, $pki,
		user     => 'alice',
		password => 'alice-secret')->{lines} };
is(history_of($line, 'cert_expiry_warning IS NULL'),
	't', 'no certificate: history.cert_expiry_warning is NULL');
# README's query: the certificates expiring in the next 30 days, and who
# uses them.
my %expiring_soon = map { (split /\|/)[ 0, 3 ] } split /\n/,
  $node->safe_psql(
	'postgres', q{
SELECT subject, not_after, days_left, roles, last_seen, last_client_addr
  FROM pgtls_audit.client_certificates
 WHERE days_left < 30
 ORDER BY not_after});
is($expiring_soon{ $expiring->{subject} },
	'{certuser}', 'README: the certificate expiring in 20 days, with its role');
ok(!exists $expiring_soon{ $lasting->{subject} },
	'README: not the one valid for 400 days');
$session = PgtlsAuditTest::background_session($node,
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser',
		cert => $expiring));
$pid = $session->query('SELECT pg_backend_pid()');
is( $node->safe_psql(
		'postgres',
		"SELECT cert_expiry_warning FROM pgtls_audit.connections WHERE pid = $pid"
	),
	't',
	'connections: the live session was warned');
$session->quit;

$node->stop;
done_testing();

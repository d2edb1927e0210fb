
# Copyright (c) pgtls_audit contributors

# Policy: every knob judged on real, deliberately weak TLS sessions.  In
# audit mode a violation is logged and the session let in; in enforce mode
# it is refused with the documented message and SQLSTATE 28000; a compliant
# session gets in either way.  Then the ways round the policy that must not
# work: a plaintext retry (sslmode=prefer), replication connections, IPv6,
# SET and per-role settings, a broken reload; and a client whose password
# is wrong learns nothing from the policy.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();

# The server accepts TLSv1 and every cipher, so that the clients below can
# negotiate weak sessions and the policy alone decides.
my $node = PgtlsAuditTest::tls_node(
	'policy', $pki,
	conf => qq{
ssl_min_protocol_version = 'TLSv1'
ssl_ciphers = 'DEFAULT:\@SECLEVEL=0'
log_error_verbosity = verbose
wal_level = replica
max_wal_senders = 4
},
	hba => PgtlsAuditTest::hba_lines(
		map { (
			"host all md5user $_ md5",
			"host all pwuser $_ password",
			"host all trustuser $_ trust",
			"host replication repuser $_ scram-sha-256") }
		  ('127.0.0.1/32', '::1/128')));

$node->safe_psql(
	'postgres', q{
CREATE ROLE cert_users;
CREATE ROLE certuser LOGIN IN ROLE cert_users;
CREATE ROLE alice LOGIN PASSWORD 'alice-secret';
CREATE ROLE pwuser LOGIN PASSWORD 'pw-secret';
CREATE ROLE trustuser LOGIN;
CREATE ROLE repuser LOGIN REPLICATION PASSWORD 'rep-secret';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5-secret';
});
like($node->safe_psql('postgres',
		q{SELECT rolpassword FROM pg_authid WHERE rolname = 'md5user'}),
	qr/^md5/, 'md5user has a real MD5 password');

my $alice_cert = PgtlsAuditTest::make_client_cert($pki, 'alice', '/CN=alice');
my $certuser_cert =
  PgtlsAuditTest::make_client_cert($pki, 'certuser', '/CN=certuser');

# The clients.  The weak ones get an OpenSSL configuration of their own.
my $old_tls_conf = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	MinProtocol  => 'TLSv1',
	CipherString => 'DEFAULT:@SECLEVEL=0');
my %alice = (user => 'alice', password => 'alice-secret');
my %client = (
	# TLSv1.3, TLS_AES_256_GCM_SHA384, SCRAM: compliant with everything
	tls13 => {%alice},
	# TLSv1.2 with ECDHE and AES-GCM
	tls12 => { %alice, max_protocol => 'TLSv1.2' },
	# TLSv1.2, AES128-SHA: RSA key transport, 128 bits, CBC with SHA-1
	rsa_kx => {
		%alice,
		max_protocol => 'TLSv1.2',
		openssl_conf => PgtlsAuditTest::openssl_client_conf(
			$pki->{dir}, CipherString => 'AES128-SHA:@SECLEVEL=0')
	},
	tls11 => {
		%alice,
		min_protocol => 'TLSv1',
		max_protocol => 'TLSv1.1',
		openssl_conf => $old_tls_conf
	},
	tls10 => {
		%alice,
		min_protocol => 'TLSv1',
		max_protocol => 'TLSv1',
		openssl_conf => $old_tls_conf
	},
	# TLSv1.3 with a 128-bit suite
	tls13_aes128 => {
		%alice,
		openssl_conf => PgtlsAuditTest::openssl_client_conf(
			$pki->{dir}, Ciphersuites => 'TLS_AES_128_GCM_SHA256')
	},
	plaintext => { %alice, sslmode => 'disable' },
	alice_cert => { %alice, cert => $alice_cert },
	certuser => { user => 'certuser', cert => $certuser_cert },
	md5 => { user => 'md5user', password => 'md5-secret' },
	password => { user => 'pwuser', password => 'pw-secret' },
	trust => { user => 'trustuser' },
);

# Every knob at its weakest: a knob under test is the only one that can
# refuse anything.
my %lenient = (
	require_ssl             => 'off',
	min_protocol_version    => 'TLSv1',
	min_cipher_bits         => '0',
	ciphers                 => '',
	require_forward_secrecy => 'off',
	require_client_cert     => 'off',
	forbidden_auth_methods  => '');
my %defaults = map { $_ => undef } ('mode', keys %lenient);

# Check that the weak clients really are what the tests below take them
# for, under the default policy, whose mode is audit.
PgtlsAuditTest::set_policy($node, %defaults);
my %facts;
foreach my $name (sort keys %client)
{
	my $result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{$name} });
	is($result->{ret}, 0, "$name: connects in audit mode")
	  or diag($result->{stderr});
	$facts{$name} = $result->{lines}[0];
}
is($facts{rsa_kx}{tls_version}, 'TLSv1.2',    'rsa_kx: TLSv1.2');
is($facts{rsa_kx}{cipher},      'AES128-SHA', 'rsa_kx: AES128-SHA');
is($facts{rsa_kx}{cipher_bits}, '128',        'rsa_kx: 128 bits');
is($facts{rsa_kx}{forward_secrecy}, 'false', 'rsa_kx: no forward secrecy');
is($facts{tls11}{tls_version}, 'TLSv1.1', 'tls11: TLSv1.1');
is($facts{tls10}{tls_version}, 'TLSv1',   'tls10: TLSv1');
is($facts{tls11}{forward_secrecy}, 'true', 'tls11: forward secrecy');
is($facts{tls12}{tls_version}, 'TLSv1.2', 'tls12: TLSv1.2');
like($facts{tls12}{cipher}, qr/^ECDHE-RSA-AES\d+-GCM-SHA\d+$/,
	'tls12: ECDHE with AES-GCM');
is($facts{tls13}{tls_version}, 'TLSv1.3', 'tls13: TLSv1.3');
is($facts{tls13}{cipher_bits}, '256',     'tls13: 256 bits');
is($facts{tls13_aes128}{cipher}, 'TLS_AES_128_GCM_SHA256',
	'tls13_aes128: a 128-bit TLSv1.3 suite');
is($facts{plaintext}{ssl},      'false',    'plaintext: no TLS');
is($facts{md5}{auth_method},    'md5',      'md5: hba method md5');
is($facts{password}{auth_method}, 'password', 'password: hba method password');
is($facts{trust}{auth_method},  'trust',    'trust: hba method trust');
is($facts{certuser}{auth_method}, 'cert',   'certuser: hba method cert');

###
### The defaults, in audit mode (the default mode) and then enforced.
###

# What the default policy finds wrong with each client, and the primary
# message of the refusal, which names the first violation.
my %default_verdicts = (
	tls13        => [''],
	tls12        => [''],
	alice_cert   => [''],
	certuser     => [''],
	tls13_aes128 => [''],
	rsa_kx       => [
		'cipher,forward_secrecy',
		'connection rejected: TLS cipher AES128-SHA is not allowed'
	],
	tls11 => [
		'protocol,cipher',
		'connection rejected: TLS protocol version TLSv1.1 is below the allowed minimum TLSv1.2'
	],
	tls10 => [
		'protocol,cipher',
		'connection rejected: TLS protocol version TLSv1 is below the allowed minimum TLSv1.2'
	],
	plaintext =>
	  [ 'no_encryption', 'connection rejected: encryption is required' ],
	md5 => [
		'auth_method',
		'connection rejected: authentication method "md5" is not allowed'
	],
	password => [
		'auth_method',
		'connection rejected: authentication method "password" is not allowed'
	],
	trust => [
		'auth_method',
		'connection rejected: authentication method "trust" is not allowed'
	],);

is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(name || '=' || setting, ' ' ORDER BY name)
  FROM pg_settings
 WHERE name LIKE 'pgtls\_audit.%' AND context = 'sighup'
   AND name NOT LIKE 'pgtls\_audit.log\_%' AND name <> 'pgtls_audit.save'
   AND name <> 'pgtls_audit.cert_expiry_warning_days'}),
	'pgtls_audit.ciphers=ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL '
	  . 'pgtls_audit.forbidden_auth_methods=trust, password, md5, ident '
	  . 'pgtls_audit.forbidden_cert_signature_algorithms=md5, sha1 '
	  . 'pgtls_audit.min_cert_ec_bits=256 '
	  . 'pgtls_audit.min_cert_rsa_bits=2048 '
	  . 'pgtls_audit.min_cipher_bits=128 '
	  . 'pgtls_audit.min_protocol_version=TLSv1.2 '
	  . 'pgtls_audit.mode=audit '
	  . 'pgtls_audit.require_client_cert=off '
	  . 'pgtls_audit.require_forward_secrecy=on '
	  . 'pgtls_audit.require_ssl=on '
	  . 'pgtls_audit.rules_file=',
	'the default policy');

foreach my $name (sort keys %default_verdicts)
{
	is($facts{$name}{violations}, $default_verdicts{$name}[0],
		"default policy, audit: $name: violations");
	is($facts{$name}{outcome}, 'accepted',
		"default policy, audit: $name: accepted");
}

PgtlsAuditTest::set_policy($node, mode => 'enforce');
foreach my $name (sort keys %default_verdicts)
{
	my ($violations, $message) = @{ $default_verdicts{$name} };
	my $result =
	  PgtlsAuditTest::client_attempt($node, $pki, %{ $client{$name} });
	if ($message)
	{
		PgtlsAuditTest::rejection_ok($result, $result->{lines}[0], $message,
			$violations, "default policy, enforce: $name");
	}
	else
	{
		is($result->{ret}, 0, "default policy, enforce: $name gets in")
		  or diag($result->{stderr});
		is($result->{lines}[0]{outcome}, 'accepted',
			"default policy, enforce: $name: accepted");
	}
}

# Unix-domain sockets are not judged: local trust keeps working.
is($node->safe_psql('postgres', 'SELECT 1'), '1',
	'default policy, enforce: unix socket with trust');

###
### Each knob alone, on top of an otherwise lenient policy.
###

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'require_ssl',
	policy     => { %lenient, require_ssl => 'on' },
	client     => $client{plaintext},
	violations => 'no_encryption',
	message    => 'connection rejected: encryption is required',
	compliant  => $client{tls12});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'min_protocol_version TLSv1.2, TLSv1.1 client',
	policy     => { %lenient, min_protocol_version => 'TLSv1.2' },
	client     => $client{tls11},
	violations => 'protocol',
	message =>
	  'connection rejected: TLS protocol version TLSv1.1 is below the allowed minimum TLSv1.2',
	compliant => $client{tls12});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'min_protocol_version TLSv1.1, TLSv1 client',
	policy     => { %lenient, min_protocol_version => 'TLSv1.1' },
	client     => $client{tls10},
	violations => 'protocol',
	message =>
	  'connection rejected: TLS protocol version TLSv1 is below the allowed minimum TLSv1.1',
	compliant => $client{tls11});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'min_protocol_version TLSv1.3, TLSv1.2 client',
	policy     => { %lenient, min_protocol_version => 'TLSv1.3' },
	client     => $client{tls12},
	violations => 'protocol',
	message =>
	  'connection rejected: TLS protocol version TLSv1.2 is below the allowed minimum TLSv1.3',
	compliant => $client{tls13});

# The cipher string is evaluated by OpenSSL: "ECDHE+AESGCM" names no cipher
# literally, yet allows ECDHE-RSA-AES256-GCM-SHA384.
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'ciphers ECDHE+AESGCM',
	policy     => { %lenient, ciphers => 'ECDHE+AESGCM' },
	client     => $client{rsa_kx},
	violations => 'cipher',
	message    => 'connection rejected: TLS cipher AES128-SHA is not allowed',
	compliant  => $client{tls12});

# It is an allow-list: allowing only AES128-SHA refuses the strong cipher.
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'ciphers AES128-SHA',
	policy     => { %lenient, ciphers => 'AES128-SHA' },
	client     => $client{tls12},
	violations => 'cipher',
	message    => "connection rejected: TLS cipher $facts{tls12}{cipher} is not allowed",
	compliant  => $client{rsa_kx});

# TLSv1.3 suites are outside pgtls_audit.ciphers.
my $result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{tls13} });
is($result->{ret}, 0, 'ciphers AES128-SHA: TLSv1.3 is not judged by ciphers');
is($result->{lines}[0]{violations}, '', 'ciphers AES128-SHA: TLSv1.3: no violation');

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'min_cipher_bits 256, TLSv1.2',
	policy     => { %lenient, min_cipher_bits => '256' },
	client     => $client{rsa_kx},
	violations => 'cipher_bits',
	message =>
	  'connection rejected: TLS cipher AES128-SHA has 128 bits, below the allowed minimum of 256',
	compliant => $client{tls12});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'min_cipher_bits 256, TLSv1.3',
	policy     => { %lenient, min_cipher_bits => '256' },
	client     => $client{tls13_aes128},
	violations => 'cipher_bits',
	message =>
	  'connection rejected: TLS cipher TLS_AES_128_GCM_SHA256 has 128 bits, below the allowed minimum of 256',
	compliant => $client{tls13});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'require_forward_secrecy',
	policy     => { %lenient, require_forward_secrecy => 'on' },
	client     => $client{rsa_kx},
	violations => 'forward_secrecy',
	message =>
	  'connection rejected: TLS cipher AES128-SHA does not provide forward secrecy',
	compliant => $client{tls12});

PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'require_client_cert',
	policy     => { %lenient, require_client_cert => 'on' },
	client     => $client{tls13},
	violations => 'no_client_cert',
	message =>
	  'connection rejected: a verified client certificate is required',
	compliant => $client{alice_cert});

$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{certuser} });
is($result->{ret}, 0, 'require_client_cert: cert authentication gets in');
is($result->{lines}[0]{violations}, '', 'require_client_cert: cert: no violation');

# Without TLS there is no certificate, even when plaintext is allowed.
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name       => 'require_client_cert, plaintext',
	policy     => { %lenient, require_client_cert => 'on' },
	client     => $client{plaintext},
	violations => 'no_client_cert',
	message =>
	  'connection rejected: a verified client certificate is required');

foreach my $method (qw(md5 password trust))
{
	PgtlsAuditTest::audit_allows_enforce_refuses(
		$node, $pki,
		name       => "forbidden_auth_methods $method",
		policy     => { %lenient, forbidden_auth_methods => $method },
		client     => $client{$method},
		violations => 'auth_method',
		message =>
		  "connection rejected: authentication method \"$method\" is not allowed",
		compliant => $client{tls13});
}

# Several violations: the message names the first, the detail all of them.
PgtlsAuditTest::audit_allows_enforce_refuses(
	$node, $pki,
	name   => 'several violations',
	policy => {
		%lenient,
		min_protocol_version    => 'TLSv1.3',
		min_cipher_bits         => '256',
		require_forward_secrecy => 'on',
		require_client_cert     => 'on',
		forbidden_auth_methods  => 'password'
	},
	client =>
	  { %{ $client{rsa_kx} }, user => 'pwuser', password => 'pw-secret' },
	violations =>
	  'protocol,cipher_bits,forward_secrecy,no_client_cert,auth_method',
	message =>
	  'connection rejected: TLS protocol version TLSv1.2 is below the allowed minimum TLSv1.3'
);

# mode = off judges nothing: no violations key at all.
PgtlsAuditTest::set_policy($node, %defaults, mode => 'off');
foreach my $name (qw(rsa_kx plaintext md5))
{
	$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{$name} });
	is($result->{ret}, 0, "mode off: $name gets in") or diag($result->{stderr});
	is($result->{lines}[0]{outcome}, 'accepted', "mode off: $name: accepted");
	ok(!exists $result->{lines}[0]{violations},
		"mode off: $name: not judged");
}

###
### Ways round the policy that must not work.  The default policy, enforced.
###

PgtlsAuditTest::set_policy($node, %defaults, mode => 'enforce');

# sslmode=prefer: libpq retries without TLS after the FATAL; the retry is
# judged too and refused because plaintext violates require_ssl.
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} },
	sslmode => 'prefer', attempts => 2);
is(scalar(@{ $result->{lines} }), 2, 'sslmode=prefer: two attempts');
PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
	'connection rejected: TLS cipher AES128-SHA is not allowed',
	'cipher,forward_secrecy', 'sslmode=prefer: TLS attempt');
is($result->{lines}[0]{ssl}, 'true', 'sslmode=prefer: first attempt over TLS');
PgtlsAuditTest::rejection_ok($result, $result->{lines}[1],
	'connection rejected: encryption is required',
	'no_encryption', 'sslmode=prefer: plaintext retry');
is($result->{lines}[1]{ssl}, 'false', 'sslmode=prefer: retry without TLS');

# With plaintext allowed, a client certificate is still required of it.
PgtlsAuditTest::set_policy($node, require_ssl => 'off',
	require_client_cert => 'on');
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{tls13} },
	sslmode => 'prefer', attempts => 2);
PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
	'connection rejected: a verified client certificate is required',
	'no_client_cert', 'require_ssl off, prefer, no certificate: TLS attempt');
PgtlsAuditTest::rejection_ok($result, $result->{lines}[1],
	'connection rejected: a verified client certificate is required',
	'no_client_cert', 'require_ssl off, prefer, no certificate: plaintext retry');

# Documented: with require_ssl off, a client refused for weak TLS gets in
# on its plaintext retry, which is what require_ssl = on prevents.
PgtlsAuditTest::set_policy($node, require_client_cert => undef);
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} },
	sslmode => 'prefer', attempts => 2);
is($result->{ret}, 0, 'require_ssl off, prefer: the plaintext retry gets in');
is($result->{lines}[0]{outcome}, 'rejected',
	'require_ssl off, prefer: weak TLS refused');
is($result->{lines}[1]{outcome}, 'accepted',
	'require_ssl off, prefer: plaintext accepted');
PgtlsAuditTest::set_policy($node, require_ssl => undef);

# Replication connections, physical and logical, are judged like others.
my %rejected_line_of;
my $replication_hba_line = $node->safe_psql('postgres',
	q{SELECT line_number FROM pg_hba_file_rules
	   WHERE database = '{replication}' AND address = '127.0.0.1'});
foreach my $replication (qw(true database))
{
	my ($audit_line, $rejected_line) =
	  PgtlsAuditTest::audit_allows_enforce_refuses(
		$node, $pki,
		name   => "replication=$replication",
		client => {
			%{ $client{rsa_kx} },
			user     => 'repuser',
			password => 'rep-secret',
			extra    => "replication=$replication",
			sql      => 'IDENTIFY_SYSTEM'
		},
		violations => 'cipher,forward_secrecy',
		message => 'connection rejected: TLS cipher AES128-SHA is not allowed');
	$rejected_line_of{$replication} = $rejected_line;
	is($audit_line->{replication}, 'true',
		"replication=$replication: a walsender");
	is($rejected_line->{replication}, 'true',
		"replication=$replication: a walsender refused");
}
is($rejected_line_of{true}{hba_line}, $replication_hba_line,
	'replication=true: matched the "replication" hba line');

# IPv6 is judged like IPv4.
foreach my $name (qw(rsa_kx plaintext))
{
	my ($audit_line, $rejected_line) =
	  PgtlsAuditTest::audit_allows_enforce_refuses(
		$node, $pki,
		name       => "IPv6 $name",
		client     => { %{ $client{$name} }, ipv6 => 1 },
		violations => $default_verdicts{$name}[0],
		message    => $default_verdicts{$name}[1],
		compliant  => { %{ $client{tls13} }, ipv6 => 1 });
	is($rejected_line->{transport}, 'ipv6', "IPv6 $name: over IPv6");
}

# No session can weaken the policy with SET, and no per-role or
# per-database setting applies to it.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres',
	join("\n",
		map { ("SET pgtls_audit.$_ = DEFAULT;",
				"SELECT set_config('pgtls_audit.$_', '', false);") }
		  ('mode', sort keys %lenient)),
	connstr => PgtlsAuditTest::tls_connstr($node, $pki, %alice),
	extra_params  => ['-w'],
	on_error_stop => 0);
my @refused = $stderr =~ /ERROR:  parameter "pgtls_audit\.\w+" cannot be changed now/g;
is(scalar(@refused), 2 * (1 + keys %lenient),
	'SET and set_config of every policy setting refused to a user');

($ret, $stdout, $stderr) = $node->psql('postgres',
	q{ALTER ROLE alice SET pgtls_audit.mode = 'off'});
like($stderr, qr/parameter "pgtls_audit\.mode" cannot be changed now/,
	'ALTER ROLE ... SET pgtls_audit.mode refused');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{ALTER DATABASE postgres SET pgtls_audit.require_ssl = off});
like($stderr, qr/parameter "pgtls_audit\.require_ssl" cannot be changed now/,
	'ALTER DATABASE ... SET pgtls_audit.require_ssl refused');

# Even a per-role setting forced into the catalog, or one in the startup
# packet, comes too late: authentication is over when they apply.
$node->safe_psql(
	'postgres', q{
SET allow_system_table_mods = on;
INSERT INTO pg_db_role_setting
	VALUES (0, 'alice'::regrole, '{pgtls_audit.mode=off,pgtls_audit.require_ssl=off}');
});
foreach my $name (qw(rsa_kx plaintext))
{
	$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{$name} });
	PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
		$default_verdicts{$name}[1], $default_verdicts{$name}[0],
		"forced per-role setting: $name");
}
$node->safe_psql('postgres',
	q{SET allow_system_table_mods = on; DELETE FROM pg_db_role_setting WHERE setrole = 'alice'::regrole});

$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} },
	extra => "options='-c pgtls_audit.mode=off'");
PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
	$default_verdicts{rsa_kx}[1], $default_verdicts{rsa_kx}[0],
	'options=-c pgtls_audit.mode=off');

# The policy does not depend on the log line being written.
PgtlsAuditTest::set_policy($node, log_connections => 'off');
$node->connect_fails(
	PgtlsAuditTest::tls_connstr($node, $pki, %{ $client{plaintext} }),
	'log_connections off: still enforced',
	expected_stderr => qr/FATAL:  connection rejected: encryption is required/);
PgtlsAuditTest::set_policy($node, log_connections => undef);

###
### A client whose authentication failed learns nothing from the policy.
###

foreach my $user (qw(alice nobody))
{
	$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} },
		user => $user, password => 'wrong');
	isnt($result->{ret}, 0, "wrong password ($user), weak TLS: refused");
	like(
		$result->{stderr},
		qr/ failed: FATAL:  password authentication failed for user "$user"\z/,
		"wrong password ($user), weak TLS: only PostgreSQL's own message");
	is($result->{lines}[0]{outcome}, 'auth_failed',
		"wrong password ($user): outcome=auth_failed");
	unlike($result->{log}, qr/connection rejected/,
		"wrong password ($user): no policy rejection");
}

###
### Reloading.
###

# A policy changed in postgresql.conf applies to the next connection.
PgtlsAuditTest::set_policy($node, %lenient, ciphers => undef, mode => 'enforce');
$node->append_conf('postgresql.conf', "pgtls_audit.ciphers = 'ECDHE+AESGCM'");
$node->reload;
$node->poll_query_until('postgres', 'SHOW pgtls_audit.ciphers', 'ECDHE+AESGCM')
  or die 'pgtls_audit.ciphers was not reloaded';
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} });
PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
	'connection rejected: TLS cipher AES128-SHA is not allowed',
	'cipher', 'reloaded postgresql.conf');

# An invalid value is refused at reload, and the old policy stays in force.
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pgtls_audit.ciphers = 'NOPE'");
$node->reload;
$node->wait_for_log(
	qr/invalid value for parameter "pgtls_audit\.ciphers": "NOPE"\n.*DETAIL:  OpenSSL selects no cipher for the cipher string "NOPE"\./,
	$offset);
$node->wait_for_log(qr/contains errors; unaffected changes were applied/,
	$offset);
is($node->safe_psql('postgres', 'SHOW pgtls_audit.ciphers'),
	'ECDHE+AESGCM', 'invalid reload: old cipher list kept');
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{rsa_kx} });
PgtlsAuditTest::rejection_ok($result, $result->{lines}[0],
	'connection rejected: TLS cipher AES128-SHA is not allowed',
	'cipher', 'invalid reload: old policy still enforced');
$result = PgtlsAuditTest::client_attempt($node, $pki, %{ $client{tls12} });
is($result->{ret}, 0, 'invalid reload: compliant client still gets in');

$node->stop;
done_testing();

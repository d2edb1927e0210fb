# Copyright (c) pgtls_audit contributors

# Which rule judges which attempt, on real TLS connections: the database,
# user and address forms of pg_hba.conf (names, quoted names, comma lists,
# sameuser, samerole, replication, +role granted and revoked, IPv4 and IPv6
# CIDR, address and mask, samehost, samenet, local), a per-rule mode in
# both directions, cert_issuer and cert_subject (exact and regular
# expression, matching and not), and every setting overridden per rule.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();

# The server accepts every cipher so that the rules alone decide.
my $node = PgtlsAuditTest::tls_node(
	'rules_match', $pki,
	conf => qq{
ssl_ciphers = 'DEFAULT:\@SECLEVEL=0'
log_error_verbosity = verbose
},
	hba => PgtlsAuditTest::hba_lines(
		map { ("host replication repuser $_ scram-sha-256") }
		  ('127.0.0.1/32', '::1/128')));

my @users = qw(alice bob carol dave u_ssl u_proto u_bits u_ciphers u_fs
  u_cert u_auth u_rsa u_ec u_sig);
PgtlsAuditTest::create_roles($node, @users);
$node->safe_psql(
	'postgres', q{
CREATE ROLE grp;
GRANT grp TO alice;
CREATE ROLE repuser LOGIN REPLICATION PASSWORD 'repuser-secret';
CREATE DATABASE db1;
CREATE DATABASE "Quoted DB";
CREATE DATABASE alice;
CREATE DATABASE grp;
CREATE DATABASE "all";
});

my %client = map { ($_ => { user => $_, password => "$_-secret" }) } @users,
  'repuser';

my $rules_count = 0;

# Install a new rules file and wait until new sessions see it.
sub use_rules
{
	my ($text, %policy) = @_;
	my $name = sprintf('rules_%d.conf', ++$rules_count);
	open my $fh, '>', $node->data_dir . "/$name" or die "$name: $!";
	print $fh $text;
	close $fh;
	PgtlsAuditTest::set_policy($node, %policy, rules_file => $name);
	return;
}

# The audit line of one TCP attempt.
sub attempt
{
	my (%opts) = @_;
	my $result = PgtlsAuditTest::client_attempt($node, $pki, %opts);
	my $line = $result->{lines}[0];
	$line->{_stderr} = $result->{stderr};
	$line->{_ret}    = $result->{ret};
	return $line;
}

sub rule_line_is
{
	my ($opts, $expected, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(attempt(%$opts)->{rule_line}, $expected, $name);
	return;
}

# The audit line of one attempt over the Unix-domain socket.
my $local_count = 0;

sub local_rule_line
{
	my ($user) = @_;
	my $tag    = sprintf('pgtls_audit_local_%d', ++$local_count);
	my $offset = -s $node->logfile;
	$node->psql('postgres', 'SELECT 1',
		connstr => sprintf('host=%s port=%d dbname=postgres user=%s application_name=%s',
			$node->host, $node->port, $user, $tag));
	my @lines;
	foreach (1 .. 100)
	{
		@lines = grep { ($_->{application_name} // '') eq $tag }
		  PgtlsAuditTest::audit_lines($node, $offset);
		last if @lines;
		select(undef, undef, undef, 0.1);
	}
	is($lines[0]{transport}, 'unix', 'a Unix-domain socket attempt');
	return $lines[0]{rule_line};
}

#
# Databases.
#
use_rules(<<'EOF');
db1,"Quoted DB"  all  all
sameuser         all  all
samerole         all  all
replication      all  all
"all"            all  all
all              all  all
EOF
rule_line_is({ %{ $client{alice} }, extra => 'dbname=db1' }, 1, 'database: a name in a list');
rule_line_is({ %{ $client{alice} }, extra => q{dbname='Quoted DB'} }, 1, 'database: a quoted name with a space');
rule_line_is({ %{ $client{alice} }, extra => 'dbname=alice' }, 2, 'database: sameuser');
rule_line_is({ %{ $client{alice} }, extra => 'dbname=grp' }, 3, 'database: samerole, a member');
rule_line_is({ %{ $client{bob} }, extra => 'dbname=grp' }, 6, 'database: samerole, not a member');
rule_line_is({ %{ $client{bob} }, extra => 'dbname=all' }, 5, 'database: "all" quoted is a name');
rule_line_is({ %{ $client{bob} } }, 6, 'database: "all" quoted is not the keyword');
rule_line_is(
	{ %{ $client{repuser} }, extra => 'replication=true', sql => 'IDENTIFY_SYSTEM' },
	4, 'database: replication matches a physical replication connection');
rule_line_is(
	{ %{ $client{repuser} }, extra => 'replication=database', sql => 'IDENTIFY_SYSTEM' },
	6, 'database: replication does not match a logical replication connection');

#
# Users, with role membership granted and revoked between attempts.
#
use_rules(<<'EOF');
all  "+grp"     all
all  bob,carol  all
all  +grp       all
all  all        all
EOF
rule_line_is($client{bob},   2, 'user: a name in a list');
rule_line_is($client{carol}, 2, 'user: another name in the list');
rule_line_is($client{alice}, 3, 'user: +role, a member');
rule_line_is($client{dave},  4, 'user: +role, not a member');
$node->safe_psql('postgres', 'REVOKE grp FROM alice');
rule_line_is($client{alice}, 4, 'user: +role, membership revoked');
$node->safe_psql('postgres', 'CREATE ROLE subgrp IN ROLE grp; GRANT subgrp TO dave');
rule_line_is($client{dave}, 3, 'user: +role, membership through another role');

#
# Addresses.
#
use_rules(<<'EOF');
all  alice  local
all  alice  ::1/128
all  alice  127.0.0.0  255.0.0.0
all  bob    samehost
all  carol  samenet
all  dave   fe80::/10
all  dave   ::/0
all  all    10.0.0.0/8
all  all    all
EOF
is(local_rule_line('alice'), 1, 'address: local');
rule_line_is({ %{ $client{alice} }, ipv6 => 1 }, 2, 'address: IPv6 CIDR');
rule_line_is($client{alice}, 3, 'address: IPv4 address and mask');
rule_line_is($client{bob}, 4, 'address: samehost, IPv4');
rule_line_is({ %{ $client{bob} }, ipv6 => 1 }, 4, 'address: samehost, IPv6');
rule_line_is($client{carol}, 5, 'address: samenet');
rule_line_is({ %{ $client{dave} }, ipv6 => 1 }, 7, 'address: an IPv6 prefix that does not match, then one that does');
rule_line_is($client{dave}, 9, 'address: IPv6 ranges do not match IPv4, nor 10/8 127.0.0.1');
is(local_rule_line('dave'), 9, 'address: all matches the Unix-domain socket too');

#
# A per-rule mode: one role audited while the others are enforced, and the
# reverse.
#
use_rules(<<'EOF', mode => 'enforce');
all  alice  all  mode=audit min_cipher_bits=512
all  all    all  min_cipher_bits=512
EOF
my $line = attempt(%{ $client{alice} });
is($line->{outcome},    'accepted',    'mode=audit in a rule lets its role in under enforce');
is($line->{violations}, 'cipher_bits', 'and logs the violation');
$line = attempt(%{ $client{bob} });
is($line->{outcome}, 'rejected', 'the others are enforced');
like($line->{_stderr}, qr/below the allowed minimum of 512/, 'with the rule\'s minimum in the message');

use_rules(<<'EOF', mode => 'audit');
all  bob  all  mode=enforce min_cipher_bits=512
all  all  all  min_cipher_bits=512
EOF
$line = attempt(%{ $client{bob} });
is($line->{outcome},   'rejected', 'mode=enforce in a rule refuses its role under audit');
is($line->{rule_line}, 1,          'the refusal names the rule');
$line = attempt(%{ $client{alice} });
is($line->{outcome},    'accepted',    'the others are audited');
is($line->{violations}, 'cipher_bits', 'with their violations logged');

#
# cert_issuer and cert_subject, exact and regular expression.
#
my %cert = (
	alice  => PgtlsAuditTest::make_client_cert($pki, 'alice',  '/CN=alice'),
	bob12  => PgtlsAuditTest::make_client_cert($pki, 'bob12',  '/CN=bob-12'),
	bobx   => PgtlsAuditTest::make_client_cert($pki, 'bobx',   '/CN=bob-x'),
	carol  => PgtlsAuditTest::make_client_cert($pki, 'carol',  '/CN=carol/O=Example, Inc.'),
	ec     => PgtlsAuditTest::make_client_cert($pki, 'ec',     '/CN=ec', key => 'ec'),);
my $issuer = $cert{alice}{issuer};
is($issuer, 'CN=pgtls_audit test CA,O=pgtls_audit test', 'the CA\'s DN as RFC 2253');
(my $issuer_quoted = $issuer) =~ s/"/""/g;
use_rules(<<"EOF", mode => 'enforce');
all  alice  all  cert_subject="CN=alice"
all  bob    all  cert_subject=/^CN=bob-[0-9]+\$
all  carol  all  cert_issuer="$issuer_quoted" cert_subject="O=Example\\, Inc.,CN=carol"
all  dave   all  cert_issuer="/^CN=Other CA,"
all  all    all
EOF
my $identity_message =
  'connection rejected: the client certificate does not carry the identity required for this connection';

$line = attempt(%{ $client{alice} }, cert => $cert{alice});
is($line->{outcome}, 'accepted', 'cert_subject exact: the right certificate');
$line = attempt(%{ $client{alice} }, cert => $cert{bob12});
is($line->{outcome},    'rejected',      'cert_subject exact: another certificate');
is($line->{violations}, 'cert_identity', 'cert_subject exact: violation cert_identity');
like($line->{_stderr}, qr/\Q$identity_message\E/, 'cert_identity: the message');
like($line->{_stderr}, qr/policy: cert_identity\./, 'cert_identity: the detail');
$line = attempt(%{ $client{alice} });
is($line->{outcome},    'rejected',      'cert_subject: no certificate');
is($line->{violations}, 'cert_identity', 'cert_subject: no certificate is cert_identity');
$line = attempt(%{ $client{bob} }, cert => $cert{bob12});
is($line->{outcome}, 'accepted', 'cert_subject regular expression: matching');
$line = attempt(%{ $client{bob} }, cert => $cert{bobx});
is($line->{outcome}, 'rejected', 'cert_subject regular expression: not matching');
$line = attempt(%{ $client{carol} }, cert => $cert{carol});
is($line->{outcome}, 'accepted', 'cert_issuer exact and a subject with an escaped comma');
is($line->{cert_subject}, 'O=Example\, Inc.,CN=carol', 'the subject as logged is what the rule names');
$line = attempt(%{ $client{carol} }, cert => $cert{alice});
is($line->{outcome}, 'rejected', 'cert_issuer right, subject wrong');
$line = attempt(%{ $client{dave} }, cert => $cert{alice});
is($line->{outcome}, 'rejected', 'cert_issuer regular expression: not matching');
$line = attempt(%{ $client{dave} }, cert => $cert{alice}, sslmode => 'disable');
is($line->{violations}, 'no_encryption,cert_identity', 'no TLS at all is cert_identity');

#
# Every setting overridden per rule, against permissive GUCs, and a rule
# relaxing a strict GUC.
#
my $rsa_kx = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	CipherString => 'AES128-SHA:@SECLEVEL=0');
use_rules(
	<<'EOF',
all  u_ssl      all  require_ssl=on
all  u_proto    all  min_protocol_version=TLSv1.3
all  u_bits     all  min_cipher_bits=300
all  u_ciphers  all  ciphers=ECDHE+CHACHA20
all  u_fs       all  require_forward_secrecy=on
all  u_cert     all  require_client_cert=on
all  u_auth     all  forbidden_auth_methods="md5, scram-sha-256"
all  u_rsa      all  min_cert_rsa_bits=4096
all  u_ec       all  min_cert_ec_bits=384
all  u_sig      all  forbidden_cert_signature_algorithms=sha256
all  alice      all  min_cipher_bits=128
all  all        all
EOF
	mode                    => 'audit',
	require_ssl             => 'off',
	min_protocol_version    => 'TLSv1',
	min_cipher_bits         => '512',
	ciphers                 => '',
	require_forward_secrecy => 'off',
	require_client_cert     => 'off',
	forbidden_auth_methods  => '',
	min_cert_rsa_bits       => '0',
	min_cert_ec_bits        => '0',
	forbidden_cert_signature_algorithms => '');
my @overrides = (
	[ 'require_ssl',             { %{ $client{u_ssl} }, sslmode => 'disable' }, 'no_encryption' ],
	[ 'min_protocol_version',    { %{ $client{u_proto} }, max_protocol => 'TLSv1.2' }, 'protocol,cipher_bits' ],
	[ 'min_cipher_bits',         { %{ $client{u_bits} } }, 'cipher_bits' ],
	[ 'ciphers',                 { %{ $client{u_ciphers} }, max_protocol => 'TLSv1.2' }, 'cipher,cipher_bits' ],
	[ 'require_forward_secrecy', { %{ $client{u_fs} }, max_protocol => 'TLSv1.2', openssl_conf => $rsa_kx }, 'cipher_bits,forward_secrecy' ],
	[ 'require_client_cert',     { %{ $client{u_cert} } }, 'cipher_bits,no_client_cert' ],
	[ 'forbidden_auth_methods',  { %{ $client{u_auth} } }, 'cipher_bits,auth_method' ],
	[ 'min_cert_rsa_bits',       { %{ $client{u_rsa} }, cert => $cert{alice} }, 'cipher_bits,cert_key' ],
	[ 'min_cert_ec_bits',        { %{ $client{u_ec} }, cert => $cert{ec} }, 'cipher_bits,cert_key' ],
	[ 'forbidden_cert_signature_algorithms', { %{ $client{u_sig} }, cert => $cert{alice} }, 'cipher_bits,cert_signature' ],);
foreach my $case (@overrides)
{
	my ($setting, $opts, $violations) = @$case;
	is(attempt(%$opts)->{violations}, $violations, "$setting overridden by a rule");
}
is(attempt(%{ $client{bob} })->{violations}, 'cipher_bits', 'the GUCs judge the others');
is(attempt(%{ $client{bob} }, cert => $cert{alice})->{violations},
	'cipher_bits', 'the GUCs judge the others\' certificates');
is(attempt(%{ $client{alice} })->{violations}, '', 'a rule relaxes a strict GUC');

$node->stop;
done_testing();
